import type { MiddlewareConsumer } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import { LoggerModule, type Params } from 'nestjs-pino';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import type { LoggingOptions } from '../agent-security-options.interface.js';
import { BatchedDestination } from './batched.destination.js';
import { CompletionLog } from './completion-line.js';
import { mergeRequestContext, NO_CONTEXT, requestContextMixin } from './request-logger.js';

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

/**
 * Where the root logger writes: the user's stream as given; a path or a descriptor (by default stdout) through
 * the module's BatchedDestination; nothing with `logging: false` or when `logging.pino.transport` decides.
 */
export function logDestination(config: AgentSecurityConfig): DestinationStream | undefined {
  const logging = config.logging;
  if (logging === false) return undefined;
  const destination = logging.destination;
  if (typeof destination === 'object') return destination;
  if (destination === undefined && logging.pino?.transport !== undefined) return undefined;
  return new BatchedDestination(destination ?? 1);
}

/** The app's root logger from the module's `logging` options; `logging.pino` is merged over the module's own. */
export function createRootLogger(
  config: AgentSecurityConfig,
  destination = logDestination(config),
): Logger | undefined {
  const logging = config.logging;
  if (logging === false) return undefined;
  const userMixin = logging.pino?.mixin;
  const userMerge = logging.pino?.mixinMergeStrategy;
  const options: LoggerOptions = {
    level: logging.level ?? 'info',
    ...logging.pino,
    // After the user's pino options: their redact paths add to the built-in ones, never replace them.
    redact: redactOptions(logging),
    mixin: userMixin
      ? (object, level, logger) => ({
          ...requestContextMixin(object, level, logger),
          ...userMixin(object, level, logger),
        })
      : requestContextMixin,
    // A user's strategy gets an object of its own to merge into, as pino would give it.
    mixinMergeStrategy: userMerge
      ? (line, context) => userMerge(line, context === NO_CONTEXT ? {} : context)
      : mergeRequestContext,
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** The paths the user asked to redact, in `logging.redact` and in `logging.pino.redact` (a list or `{ paths }`). */
export function userRedactPaths(logging: LoggingOptions): string[] {
  const pinoRedact = logging.pino?.redact;
  const pinoPaths = Array.isArray(pinoRedact) ? pinoRedact : (pinoRedact?.paths ?? []);
  return [...(logging.redact ?? []), ...pinoPaths];
}

/**
 * The built-in paths and the user's, with the user's censor (or `remove`) where given. A censor function that
 * hands a value back unchanged would switch redaction off: such a value is censored anyway.
 */
function redactOptions(logging: LoggingOptions): {
  paths: string[];
  censor: string | ((value: unknown, path: string[]) => unknown);
  remove?: boolean;
} {
  const pinoRedact = logging.pino?.redact;
  const given = Array.isArray(pinoRedact) ? undefined : pinoRedact;
  const paths = [...DEFAULT_REDACT_PATHS, ...userRedactPaths(logging)];
  const userCensor = given?.censor;
  const censor =
    typeof userCensor === 'function'
      ? (value: unknown, path: string[]) => {
          const censored = (userCensor as (value: unknown, path: string[]) => unknown)(value, path);
          return censored === value && value !== undefined ? REDACTED : censored;
        }
      : typeof userCensor === 'string'
        ? userCensor
        : REDACTED;
  return given?.remove === true ? { paths, censor, remove: true } : { paths, censor };
}

/** The completion lines' writer: only the user's own redact paths (say `ip`) apply, not the header/token ones. */
export function completionLog(config: AgentSecurityConfig, root: Logger): CompletionLog {
  const paths = config.logging === false ? [] : userRedactPaths(config.logging);
  return new CompletionLog(root.child({}, { redact: { paths, censor: REDACTED } }), config);
}

/**
 * nestjs-pino's parameters. The request logger is the module's own (`useExisting`: see
 * the front door, http/front-door.ts); nestjs-pino binds it to the request's async context, so `Logger` and
 * `PinoLogger` calls inside a handler carry the request id, and `PinoLogger.assign()` works. Lines logged
 * outside any request go to the same root logger. `forRoutes: []`: nestjs-pino mounts its middleware on no
 * route; the module's front handler calls it instead (`requestLoggerBinding`).
 */
export function loggerParams(root: Logger | undefined): Params {
  if (root === undefined)
    return { pinoHttp: { level: 'silent', autoLogging: false }, useExisting: true, forRoutes: [] };
  return { pinoHttp: { logger: root, autoLogging: false }, useExisting: true, forRoutes: [] };
}

export type RequestMiddleware = (
  request: IncomingMessage,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * The middleware nestjs-pino mounts for `params`, collected through its public `configure(consumer)` so that
 * the front handler can call it as a plain function. Mounted through Nest's middleware router it costs a router
 * layer matched against `{/*splat}`, a WeakSet of handled requests and an exception proxy on every request:
 * measured in the bench, about 6–10 % of the CPU a bare app spends on a request.
 * With `useExisting` it is one function, which binds `req.log` for `PinoLogger`.
 */
export function requestLoggerBinding(params: Params): RequestMiddleware {
  const collected: unknown[] = [];
  const routes = { exclude: () => routes, forRoutes: () => consumer };
  const consumer = {
    apply: (...middleware: unknown[]) => {
      collected.push(...middleware.flat());
      return routes;
    },
  };
  // `forRoutes: []` keeps configure() from reading the app's global prefix, which this detached instance has not got.
  new LoggerModule({ ...params, forRoutes: [] }, undefined as never).configure(
    consumer as unknown as MiddlewareConsumer,
  );
  if (collected.length !== 1 || typeof collected[0] !== 'function') {
    throw new Error(
      `AgentSecurityModule: nestjs-pino's LoggerModule.configure() applied ${collected.length} middleware where one function ` +
        'was expected (useExisting); this nestjs-pino version is not supported',
    );
  }
  return collected[0] as RequestMiddleware;
}
