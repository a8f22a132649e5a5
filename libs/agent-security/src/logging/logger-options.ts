import type { IncomingMessage, ServerResponse } from 'http';
import type { Params } from 'nestjs-pino';
import { pinoHttp, type HttpLogger, type Options as PinoHttpOptions } from 'pino-http';
import type { LoggingOptions } from '../agent-security-options.interface.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { redactQueryToken } from '../auth/query-token.js';
import { assignRequestId } from './request-id.js';

/** Never in a log line, whatever a user's own serializers add. */
export const DEFAULT_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'password',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.refreshToken',
  '*.password',
];

type Request = IncomingMessage & { route?: { path?: string }; ip?: string; originalUrl?: string };

/** One lean completion line: what, who, how long; no header dump, so nothing secret to leak. */
function completion(request: Request, response: ServerResponse, value: Record<string, unknown>) {
  const principal = request.principal;
  return {
    method: request.method,
    // A token in the query string is a credential even on a request that was refused for carrying it.
    path: redactQueryToken(request.originalUrl ?? request.url ?? ''),
    route: request.route?.path,
    status: response.statusCode,
    durationMs: value.durationMs,
    userId: principal?.userId,
    tier: principal?.tier,
    ip: request.ip ?? request.socket.remoteAddress,
    err: value.err,
  };
}

function pinoHttpOptions(logging: LoggingOptions): PinoHttpOptions {
  const trustIncoming = logging.trustIncomingRequestId !== false;
  const own: PinoHttpOptions = {
    level: logging.level ?? 'info',
    redact: { paths: [...DEFAULT_REDACT_PATHS, ...(logging.redact ?? [])], censor: '[REDACTED]' },
    // The id is normally assigned already (RequestContextMiddleware runs first); this keeps pino-http consistent if not.
    genReqId: (request, response) => assignRequestId(request, response, trustIncoming),
    // Lines logged while handling a request carry only its id; the completion line says the rest.
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'requestId', responseTime: 'durationMs' },
    customLogLevel: (_request, response, error) => (error || response.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
    customSuccessObject: completion as PinoHttpOptions['customSuccessObject'],
    customErrorObject: (request, response, _error, value) => completion(request as Request, response, value),
  };
  return { ...own, ...(logging.pino?.pinoHttp as PinoHttpOptions | undefined) };
}

/** The app's request logger: one pino-http instance, built from the module's `logging` options. */
export function createHttpLogger(config: AgentSecurityConfig): HttpLogger | undefined {
  const logging = config.logging;
  if (logging === false) return undefined;
  return pinoHttp(pinoHttpOptions(logging), logging.destination);
}

/**
 * nestjs-pino's parameters from the module's `logging` options. The request logger itself is the
 * module's own (`useExisting`), mounted ahead of the body parser; nestjs-pino binds it to the request's
 * async context so that `Logger`/`PinoLogger` calls inside a handler carry the request id.
 */
export function loggerParams(config: AgentSecurityConfig): Params {
  const logging = config.logging;
  if (logging === false) return { pinoHttp: { level: 'silent', autoLogging: false }, useExisting: true };
  const { pinoHttp: _ignored, ...userParams } = logging.pino ?? {};
  const options = pinoHttpOptions(logging);
  // Only for lines logged outside any request (start-up, shutdown).
  return { ...userParams, pinoHttp: logging.destination ? [options, logging.destination] : options, useExisting: true } as Params;
}
