import type { Params } from 'nestjs-pino';
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { requestContextMixin } from './request-logger.js';

const REDACTED = '[REDACTED]';

/** Never in a log line, whatever a handler logs. */
export const DEFAULT_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
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

/** The app's root logger from the module's `logging` options; `logging.pino` is merged over the module's own. */
export function createRootLogger(config: AgentSecurityConfig): Logger | undefined {
  const logging = config.logging;
  if (logging === false) return undefined;
  const userMixin = logging.pino?.mixin;
  const options: LoggerOptions = {
    level: logging.level ?? 'info',
    redact: { paths: [...DEFAULT_REDACT_PATHS, ...(logging.redact ?? [])], censor: REDACTED },
    ...logging.pino,
    mixin: userMixin ? (object, level, logger) => ({ ...requestContextMixin(), ...userMixin(object, level, logger) }) : requestContextMixin,
  };
  return logging.destination ? pino(options, logging.destination) : pino(options);
}

/** The completion lines' logger: only the user's own redact paths (say `ip`), not the header/token ones. */
export function completionLogger(config: AgentSecurityConfig, root: Logger): Logger {
  const paths = config.logging === false ? [] : (config.logging.redact ?? []);
  return root.child({}, { redact: { paths, censor: REDACTED } });
}

/**
 * nestjs-pino's parameters. The request logger is the module's own (`useExisting`: see
 * RequestContextMiddleware); nestjs-pino binds it to the request's async context, so `Logger` and
 * `PinoLogger` calls inside a handler carry the request id. Lines logged outside any request go to
 * the same root logger.
 */
export function loggerParams(root: Logger | undefined): Params {
  if (root === undefined) return { pinoHttp: { level: 'silent', autoLogging: false }, useExisting: true };
  return { pinoHttp: { logger: root, autoLogging: false }, useExisting: true };
}
