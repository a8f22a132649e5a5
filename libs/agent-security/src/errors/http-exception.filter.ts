import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Inject, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { assignRequestId, trustsIncomingRequestId } from '../logging/request-id.js';
import { StoreUnavailableException } from '../throttling/store-unavailable.exception.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  requestId: string;
  [field: string]: unknown;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Errors Express's body parser raises before any handler: status and type, never their internal text. */
const BODY_ERRORS: Record<string, string> = {
  'entity.parse.failed': 'Malformed request body',
  'entity.too.large': 'Request body too large',
  'encoding.unsupported': 'Unsupported body encoding',
  'charset.unsupported': 'Unsupported body charset',
  'request.aborted': 'Request aborted',
};

/**
 * One error shape for everything: Nest's `{ statusCode, error, message }` plus `requestId`, with any
 * extra fields an HttpException carries (the 429 body's limit, window, retryAfter, tier). An unexpected
 * error answers 500 "Internal server error", nothing more; its stack goes to the log, once.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('AgentSecurity');
  private readonly trustIncoming: boolean;
  private readonly pinoLogs: boolean;

  constructor(@Inject(AGENT_SECURITY_CONFIG) config: AgentSecurityConfig) {
    this.trustIncoming = trustsIncomingRequestId(config);
    this.pinoLogs = config.logging !== false;
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const request = http.getRequest<IncomingMessage>();
    const response = http.getResponse<ServerResponse & { err?: unknown }>();
    const requestId = assignRequestId(request, response, this.trustIncoming);
    const body = this.toBody(exception, requestId);
    // A store outage under `deny` is a refusal the module chose, logged once when Redis goes: no stack per request.
    if (body.statusCode >= 500 && !(exception instanceof StoreUnavailableException)) {
      // The request's completion line logs it, with its stack, once; without pino, Nest's logger does.
      response.err = exception instanceof Error ? exception : new Error(String(exception));
      if (!this.pinoLogs) this.logger.error(`request ${requestId} failed`, (response.err as Error).stack);
    }
    if (response.headersSent) {
      // Part of the answer is out (a stream that failed half-way): ending it normally would tell the client it got
      // all of it. Cutting the connection is how HTTP says it did not.
      if (!response.writableEnded) response.destroy();
      return;
    }
    const json = JSON.stringify(body);
    response.statusCode = body.statusCode;
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.setHeader('Content-Length', Buffer.byteLength(json));
    response.end(json);
  }

  private toBody(exception: unknown, requestId: string): ErrorBody {
    // Nest maps body-parser errors to an HttpException carrying the parser's text ("Unterminated string
    // in JSON at position 25"); the client gets what went wrong, not how the parser put it.
    const parserError = bodyParserError(exception instanceof HttpException ? exception.cause : exception);
    if (parserError !== undefined) {
      const statusCode = typeof parserError.status === 'number' ? parserError.status : 400;
      return { statusCode, error: STATUS_TEXT[statusCode] ?? 'Bad Request', message: BODY_ERRORS[parserError.type], requestId };
    }
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const payload = exception.getResponse();
      const error = statusText(statusCode);
      if (typeof payload !== 'object' || payload === null) return { statusCode, error, message: payload == null ? error : String(payload), requestId };
      const fields = payload as Record<string, unknown>;
      return {
        ...fields,
        statusCode,
        error: typeof fields.error === 'string' ? fields.error : error,
        message: (fields.message as string | string[] | undefined) ?? error,
        requestId,
      };
    }
    // An error that carries its own status (http-errors' shape, as raw-body and many Express libraries throw), which
    // Nest's own filter honours too; its message only where it says the client may see it (a 4xx by default).
    const status = httpErrorStatus(exception);
    if (status !== undefined && status < 500) {
      const { message, expose } = exception as { message?: unknown; expose?: unknown };
      const error = statusText(status);
      return { statusCode: status, error, message: expose !== false && typeof message === 'string' && message !== '' ? message : error, requestId };
    }
    return { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error', requestId };
  }
}

function statusText(status: number): string {
  return STATUS_TEXT[status] ?? HttpStatus[status] ?? 'Error';
}

function httpErrorStatus(value: unknown): number | undefined {
  if (!(value instanceof Error)) return undefined;
  const { statusCode, status } = value as { statusCode?: unknown; status?: unknown };
  const code = typeof statusCode === 'number' ? statusCode : status;
  return typeof code === 'number' && Number.isInteger(code) && code >= 400 && code < 600 ? code : undefined;
}

function bodyParserError(value: unknown): { type: string; status?: unknown } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && type in BODY_ERRORS ? (value as { type: string; status?: unknown }) : undefined;
}
