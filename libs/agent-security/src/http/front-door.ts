import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import type { Logger } from 'pino';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { CorsMiddleware } from '../cors/cors.middleware.js';
import { AGENT_SECURITY_LOGGER } from '../logging/logging.constants.js';
import { corsStep } from './cors.step.js';
import type { FrontHandler, FrontStep, NextFunction } from './front-door.types.js';
import { queryTokenStep } from './query-token.step.js';
import { requestIdStep } from './request-id.step.js';
import { loggerBindingStep, requestLogStep } from './request-log.step.js';
import { startTiming } from './timing.step.js';

/**
 * The front door: what every request passes before body parsing, guards and routing, in this order.
 *
 * 1. Timing: first, so `X-Response-Time` covers all that follows; it also marks the request as seen (the door runs once).
 * 2. Request id: before anything can log or answer, so every answer and line carries it.
 * 3. Query token: out of the URL before the request's logger reads the URL.
 * 4. Request log: the request's logger and its completion line.
 * 5. Logger binding: nestjs-pino's context around the rest, so `Logger` in handlers writes with the request's fields.
 * 6. CORS: last, so the preflight it answers by itself is timed, has an id and is logged.
 *
 * Guards reject requests that an interceptor never sees, and the body parser rejects some before any Nest
 * middleware runs, so none of this can wait for either. The adapter seam (adapter-seams.ts) mounts `handle` ahead
 * of the body parser; where it cannot (a testing module compiled before its app), Nest applies it as middleware.
 */
@Injectable()
export class FrontDoor implements NestMiddleware {
  readonly handle: FrontHandler;

  constructor(
    @Inject(AGENT_SECURITY_CONFIG) config: AgentSecurityConfig,
    // The app's own root logger, not nestjs-pino's process-wide one: two apps in one process (tests,
    // a hybrid app) each log to their own destination.
    @Inject(AGENT_SECURITY_LOGGER) root: Logger | undefined,
    cors: CorsMiddleware,
  ) {
    const marks = [requestIdStep(config), queryTokenStep(config), requestLogStep(config, root)].filter(
      (step): step is FrontStep => step !== undefined,
    );
    const chain = [loggerBindingStep(root), corsStep(cors)].filter((step): step is FrontHandler => step !== undefined);
    // Built once; per request only what the request itself needs (no closure unless two chained steps are on).
    const rest: FrontHandler | undefined =
      chain.length === 0
        ? undefined
        : chain.length === 1
          ? chain[0]
          : (request, response, next) => chain[0](request, response, () => chain[1](request, response, next));
    const [first, second, third] = marks;
    this.handle = (request, response, next) => {
      if (!startTiming(response)) return next();
      first(request, response);
      second?.(request, response);
      third?.(request, response);
      if (rest === undefined) return next();
      rest(request, response, next);
    };
  }

  use(request: IncomingMessage, response: ServerResponse, next: NextFunction): void {
    this.handle(request, response, next);
  }
}
