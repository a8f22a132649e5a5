import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import type { Logger } from 'pino';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { holdQueryToken } from '../auth/query-token.js';
import { CorsMiddleware } from '../cors/cors.middleware.js';
import { AGENT_SECURITY_LOGGER } from './logging.constants.js';
import { assignRequestId, trustsIncomingRequestId } from './request-id.js';
import { completionLog, loggerParams, requestLoggerBinding, type RequestMiddleware } from './logger-options.js';
import { REQUEST_START as START, startRequestLog } from './request-logger.js';

const WRITE_HEAD = Symbol('agent-security:writeHead');
type TimedResponse = ServerResponse & { [START]?: number; [WRITE_HEAD]?: ServerResponse['writeHead'] };

// Shared by every response: set X-Response-Time at the last moment headers can change.
function writeHeadWithTiming(this: TimedResponse, ...args: unknown[]) {
  const start = this[START];
  if (start !== undefined && !this.headersSent) {
    this.setHeader('X-Response-Time', `${Math.round(performance.now() - start)}ms`);
  }
  return this[WRITE_HEAD]!.apply(this, args as Parameters<ServerResponse['writeHead']>);
}

/**
 * The front of every request, before body parsing, guards and routing: the request id
 * (`X-Request-ID`), the clock behind `X-Response-Time`, a query token taken out of the URL (where they are allowed),
 * the request's logger and completion line, then CORS.
 * Guards reject requests that an interceptor never sees, and the body parser rejects some before
 * any Nest middleware runs, so none of this can wait for either.
 *
 * The module mounts `handle` on the HTTP adapter as soon as it exists (ahead of the body parser);
 * where it cannot (a testing module compiled before its app), Nest applies it as middleware.
 * Either way it runs once per request.
 */
@Injectable()
export class RequestContextMiddleware implements NestMiddleware {
  readonly handle: (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void;

  constructor(
    @Inject(AGENT_SECURITY_CONFIG) config: AgentSecurityConfig,
    // The app's own root logger, not nestjs-pino's process-wide one: two apps in one process (tests,
    // a hybrid app) each log to their own destination.
    @Inject(AGENT_SECURITY_LOGGER) root: Logger | undefined,
    cors: CorsMiddleware,
  ) {
    const trustIncoming = trustsIncomingRequestId(config);
    const allowQueryToken = config.jwt.allowQueryToken;
    const completion = root === undefined ? undefined : completionLog(config, root);
    const corsHandle = cors.enabled ? cors.handle : undefined;
    // nestjs-pino binds the request's logger here, not through Nest's middleware router (see requestLoggerBinding).
    const bindLogger = root === undefined ? undefined : requestLoggerBinding(loggerParams(root));
    // Only the steps that are on; a closure per request only when both are.
    const rest: RequestMiddleware | undefined =
      bindLogger === undefined
        ? corsHandle
        : corsHandle === undefined
          ? bindLogger
          : (request, response, next) => bindLogger(request, response, () => corsHandle(request, response, next));
    // Built once; per request only what the request itself needs.
    this.handle = (request, response, next) => {
      const timed = response as TimedResponse;
      if (timed[START] !== undefined) return next();
      timed[START] = performance.now();
      // Whatever writeHead was there (another middleware may have wrapped it too) still runs after ours.
      timed[WRITE_HEAD] = timed.writeHead;
      timed.writeHead = writeHeadWithTiming as ServerResponse['writeHead'];
      assignRequestId(request, response, trustIncoming);
      if (allowQueryToken) holdQueryToken(request);
      if (root === undefined) return rest === undefined ? next() : rest(request, response, next);
      startRequestLog(root, completion!, request, response);
      rest!(request, response, next);
    };
  }

  use(request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void): void {
    this.handle(request, response, next);
  }
}
