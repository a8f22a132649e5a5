import type { IncomingMessage, ServerResponse } from 'http';
import type { Logger } from 'pino';
import { redactQueryToken } from '../auth/query-token.js';
import type { CompletionFields, CompletionLog } from './completion-line.js';

export const REQUEST_START = Symbol('agent-security:start');

type Request = IncomingMessage & {
  id?: string;
  log?: Logger;
  route?: { path?: string };
  ip?: string;
  originalUrl?: string;
};
type LoggedResponse = ServerResponse & {
  req: Request;
  err?: unknown;
  [REQUEST_START]?: number;
  [COMPLETION]?: CompletionLog;
};

const COMPLETION = Symbol('agent-security:completion');

/** On a request's logger: the request it was made for. */
const REQUEST = Symbol('agent-security:request');
type RequestLogger = Logger & { [REQUEST]?: Request };

/**
 * The request's logger (`req.log`, and what nestjs-pino binds to the request's async context for `Logger` and
 * `PinoLogger`): the root logger itself, seen through an object that knows its request. Nothing is serialized per
 * request (a pino child logger per request, as pino-http makes, serializes its bindings every time, whether or not
 * anything is logged), and no async context of the module's own is entered: the mixin reads the request off the
 * logger pino hands it, so a line gets the request id, and once known the route and caller, at the time it is logged.
 */
export function requestLogger(root: Logger, request: IncomingMessage): Logger {
  const log = Object.create(root) as RequestLogger;
  log[REQUEST] = request as Request;
  return log;
}

/** What the mixin returns when it has nothing to add; `mergeRequestContext` then leaves the line as it is. */
export const NO_CONTEXT: object = Object.freeze({});

// A fresh object when there is something to add: pino merges the line's fields into what the mixin returns.
export function requestContextMixin(_line: object, _level: number, logger: Logger): object {
  const request = (logger as RequestLogger)[REQUEST];
  if (request === undefined) return NO_CONTEXT;
  const principal = request.principal;
  const route = request.route?.path;
  if (principal === undefined)
    return route === undefined ? { requestId: request.id } : { requestId: request.id, route };
  return { requestId: request.id, route, userId: principal.userId, tier: principal.tier };
}

/** pino's default merge (the line's fields over the mixin's), without a copy of the line when the mixin adds nothing. */
export function mergeRequestContext(line: object, context: object): object {
  return context === NO_CONTEXT ? line : Object.assign(context, line);
}

/**
 * One lean line per request, written when the response closes (finished or aborted): what, who, how
 * long. No header dump (so nothing secret to leak, and no per-request serialization of the request
 * object as pino-http's child logger does). A 5xx or a recorded error logs at error level with the
 * error and its stack, once.
 */
function onResponseClose(this: LoggedResponse): void {
  const request = this.req;
  const start = this[REQUEST_START];
  const principal = request.principal;
  const fields: CompletionFields = {
    requestId: request.id,
    method: request.method,
    // A token in the query string is a credential even on a request refused for carrying it.
    path: redactQueryToken(request.originalUrl ?? request.url ?? ''),
    route: request.route?.path,
    status: this.statusCode,
    durationMs: start === undefined ? undefined : Math.round((performance.now() - start) * 10) / 10,
    userId: principal?.userId,
    tier: principal?.tier,
    ip: request.ip ?? request.socket.remoteAddress,
    aborted: this.writableFinished ? undefined : true,
    wouldRefuse: request.wouldRefuse,
  };
  try {
    this[COMPLETION]!.write(fields, this.err);
  } catch {
    // A log line that cannot be written (a user's serializer or mixin that throws) must not take the process down.
  }
}

/**
 * Gives the request its logger (`req.log`) and schedules its completion line on `completion`, whose logger has not
 * the root's redaction (the line is built from fixed fields that hold no header or token) and, being no request's
 * logger, gets nothing from the mixin: the line carries the request's fields itself.
 */
export function startRequestLog(
  root: Logger,
  completion: CompletionLog,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  (request as Request).log = requestLogger(root, request);
  (response as LoggedResponse)[COMPLETION] = completion;
  response.on('close', onResponseClose);
}
