import { randomUUID } from 'crypto';
import type { Socket } from 'net';

/** What the module answers for an error Node's HTTP server raises before any handler runs. */
export interface ClientErrorAnswer {
  statusCode: number;
  error: string;
  code: string;
  message: string;
}

const HEADER_OVERFLOW: ClientErrorAnswer = {
  statusCode: 431,
  error: 'Request Header Fields Too Large',
  code: 'request_header_fields_too_large',
  message: 'Request headers too large',
};
const TIMEOUT: ClientErrorAnswer = {
  statusCode: 408,
  error: 'Request Timeout',
  code: 'request_timeout',
  message: 'Request not received in time',
};
const CHUNK_EXTENSIONS: ClientErrorAnswer = {
  statusCode: 413,
  error: 'Payload Too Large',
  code: 'payload_too_large',
  message: 'Chunk extensions too large',
};
const badRequest = (message: string): ClientErrorAnswer => ({
  statusCode: 400,
  error: 'Bad Request',
  code: 'bad_request',
  message,
});
const REQUEST_LINE = badRequest('Malformed request line');
const HEADER = badRequest('Malformed header');
const LENGTH = badRequest('Conflicting or invalid Content-Length / Transfer-Encoding');
const CHUNKED = badRequest('Malformed chunked body');
const MALFORMED = badRequest('Malformed request');

/** Node's own choice of status (431, 413, 408, else 400), with a message that names the fault, never the bytes. */
export function clientErrorAnswer(errorCode: string | undefined): ClientErrorAnswer {
  switch (errorCode) {
    case 'HPE_HEADER_OVERFLOW':
      return HEADER_OVERFLOW;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return CHUNK_EXTENSIONS;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return TIMEOUT;
    case 'HPE_INVALID_METHOD':
    case 'HPE_INVALID_URL':
    case 'HPE_INVALID_VERSION':
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_STATUS':
      return REQUEST_LINE;
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_CR_EXPECTED':
    case 'HPE_LF_EXPECTED':
    case 'HPE_UNEXPECTED_SPACE':
      return HEADER;
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return LENGTH;
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_STRICT':
      return CHUNKED;
    default:
      return MALFORMED;
  }
}

type InFlight = { _headerSent?: boolean; req?: { id?: unknown } };
export type ClientErrorLog = (
  fields: { requestId: string; statusCode: number; code: string; reason: string | undefined },
  message: string,
) => void;

/**
 * A `clientError` listener that answers as Node would (same status, `Connection: close`, then the socket is
 * destroyed; nothing written when the socket cannot take it or a response is already on its way), but with
 * an `X-Request-ID`, the module's JSON error body and the app's security headers (`headerLines`, written as given).
 * Rare by nature: one string per answer, built when it happens.
 */
export function clientErrorListener(
  headerLines: () => string,
  log: ClientErrorLog,
): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    // The peer is gone: nothing to answer, nothing worth a line.
    if (error.code === 'ECONNRESET') return void socket.destroy();
    const answer = clientErrorAnswer(error.code);
    const inFlight = (socket as Socket & { _httpMessage?: InFlight | null })._httpMessage;
    // A request whose headers were read already has its id (the 408 of a body that stops coming).
    const knownId = inFlight?.req?.id;
    const requestId = typeof knownId === 'string' ? knownId : randomUUID();
    if (socket.writable && inFlight?._headerSent !== true) {
      const body = JSON.stringify({
        statusCode: answer.statusCode,
        error: answer.error,
        message: answer.message,
        code: answer.code,
        requestId,
      });
      socket.write(
        `HTTP/1.1 ${answer.statusCode} ${answer.error}\r\n` +
          'Content-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          `X-Request-ID: ${requestId}\r\n` +
          headerLines() +
          'Connection: close\r\n\r\n' +
          body,
      );
    }
    socket.destroy();
    log(
      { requestId, statusCode: answer.statusCode, code: answer.code, reason: error.code },
      `${answer.statusCode} ${answer.message}, answered before any handler`,
    );
  };
}
