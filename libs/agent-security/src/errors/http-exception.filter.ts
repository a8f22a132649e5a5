import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject, Logger } from '@nestjs/common';
import { STATUS_CODES as STATUS_CODES_TEXT, type ServerResponse } from 'http';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { assignRequestId, trustsIncomingRequestId } from '../logging/request-id.js';
import type { ErrorCode } from './error-code.js';
import { StoreUnavailableException } from './store-unavailable.exception.js';
import { nodeRequest, nodeResponse } from '../http/platform-objects.js';

/**
 * Every error response. The types are what the library's own errors send; an app's HttpException keeps its own
 * fields as it gave them (terminus's `error` is its map of failed checks, not a string).
 */
export interface ErrorBody {
  statusCode: number;
  /** The status text, e.g. `Too Many Requests`. */
  error: string;
  message: string | string[];
  /** Machine-readable, for clients to match instead of `message`. */
  code: ErrorCode;
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

/**
 * Errors the body parser raises before any handler: status and type, never their internal text. Express's body-parser
 * names them by `type`, Fastify's content-type parser by `code`.
 */
const BODY_ERRORS: Record<string, string> = {
  'entity.parse.failed': 'Malformed request body',
  'entity.too.large': 'Request body too large',
  'encoding.unsupported': 'Unsupported body encoding',
  'charset.unsupported': 'Unsupported body charset',
  'request.aborted': 'Request aborted',
  FST_ERR_CTP_INVALID_JSON_BODY: 'Malformed request body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Malformed request body',
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body too large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Malformed request body',
};

/**
 * One error shape for everything: `{ statusCode, error, message, code, requestId }`, with any extra fields an
 * HttpException carries (the 429 body's limit, window, retryAfter, tier). An HttpException's own fields are kept as
 * they are, objects included (terminus's map of failed checks in `error`); the usual ones are filled only where
 * missing. An unexpected error answers 500 "Internal server error", nothing more; its stack goes to the log, once.
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
    const request = nodeRequest(http.getRequest());
    const response = nodeResponse<ServerResponse & { err?: unknown }>(http.getResponse());
    const requestId = assignRequestId(request, response, this.trustIncoming);
    const { status, body } = this.toBody(exception, requestId);
    // A store outage under `deny` is a refusal the module chose, logged once when Redis goes: no stack per request.
    if (status >= 500 && !(exception instanceof StoreUnavailableException)) {
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
    response.statusCode = status;
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.setHeader('Content-Length', Buffer.byteLength(json));
    response.end(json);
  }

  private toBody(exception: unknown, requestId: string): { status: number; body: ErrorBody } {
    // Nest maps body-parser errors to an HttpException carrying the parser's text ("Unterminated string
    // in JSON at position 25"); the client gets what went wrong, not how the parser put it.
    const parserError = bodyParserError(exception instanceof HttpException ? exception.cause : exception);
    if (parserError !== undefined) {
      const status =
        typeof parserError.status === 'number'
          ? parserError.status
          : typeof parserError.statusCode === 'number'
            ? parserError.statusCode
            : 400;
      const code = status === 413 ? 'payload_too_large' : 'invalid_request_body';
      return {
        status,
        body: {
          statusCode: status,
          error: statusText(status),
          message: BODY_ERRORS[parserError.type],
          code,
          requestId,
        },
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const payload = exception.getResponse();
      const error = statusText(status);
      if (typeof payload !== 'object' || payload === null) {
        return {
          status,
          body: {
            statusCode: status,
            error,
            message: payload == null ? error : String(payload),
            code: codeFor(status),
            requestId,
          },
        };
      }
      // The exception's own fields as it gave them (an object `error` included); the usual ones filled where missing.
      const body = {
        statusCode: status,
        error,
        message: error,
        code: codeFor(status),
        ...(payload as Record<string, unknown>),
        requestId,
      } as ErrorBody;
      if (body.statusCode === undefined) body.statusCode = status;
      if (body.error === undefined) body.error = error;
      if (body.message === undefined) body.message = error;
      if (typeof body.code !== 'string' || body.code === '') body.code = codeFor(status);
      return { status, body };
    }
    // An error that carries its own status (http-errors' shape, as raw-body and many Express libraries throw), which
    // Nest's own filter honours too; its message only where it says the client may see it (a 4xx by default).
    const status = httpErrorStatus(exception);
    if (status !== undefined && status < 500) {
      const { message, expose } = exception as { message?: unknown; expose?: unknown };
      const error = statusText(status);
      const shown = expose !== false && typeof message === 'string' && message !== '' ? message : error;
      return { status, body: { statusCode: status, error, message: shown, code: codeFor(status), requestId } };
    }
    return {
      status: 500,
      body: {
        statusCode: 500,
        error: 'Internal Server Error',
        message: 'Internal server error',
        code: 'internal_error',
        requestId,
      },
    };
  }
}

/** A status's code: its text in snake_case (`Not Found` is `not_found`); a 500 is `internal_error`. */
function codeFor(status: number): ErrorCode {
  if (status === 500) return 'internal_error';
  let code = STATUS_CODES.get(status);
  if (code === undefined) {
    code = statusText(status)
      .toLowerCase()
      .replace(/'/g, '')
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_|_$/g, '');
    if (STATUS_CODES.size < 64) STATUS_CODES.set(status, code);
  }
  return code;
}

const STATUS_CODES = new Map<number, string>();

function statusText(status: number): string {
  return STATUS_TEXT[status] ?? STATUS_CODES_TEXT[status] ?? 'Error';
}

function httpErrorStatus(value: unknown): number | undefined {
  if (!(value instanceof Error)) return undefined;
  const { statusCode, status } = value as { statusCode?: unknown; status?: unknown };
  const code = typeof statusCode === 'number' ? statusCode : status;
  return typeof code === 'number' && Number.isInteger(code) && code >= 400 && code < 600 ? code : undefined;
}

function bodyParserError(value: unknown): { type: string; status?: unknown; statusCode?: unknown } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { type, code, status, statusCode } = value as {
    type?: unknown;
    code?: unknown;
    status?: unknown;
    statusCode?: unknown;
  };
  if (typeof type === 'string' && type in BODY_ERRORS) return { type, status };
  if (typeof code === 'string' && code.startsWith('FST_ERR_CTP_') && code in BODY_ERRORS)
    return { type: code, statusCode };
  return undefined;
}

/** Never thrown: a filter that catches only this one catches nothing, and leaves every error to the app's filters. */
class NoError extends Error {}

/** Stands in for HttpExceptionFilter with `errorFilter: false` (APP_FILTER must name some filter). */
@Catch(NoError)
export class NoExceptionFilter implements ExceptionFilter {
  catch(exception: unknown): never {
    throw exception;
  }
}

/** The module's APP_FILTER: its own filter, unless `errorFilter: false`. */
export function exceptionFilter(config: AgentSecurityConfig): ExceptionFilter {
  return config.errorFilter ? new HttpExceptionFilter(config) : new NoExceptionFilter();
}
