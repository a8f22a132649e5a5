import { type CanActivate, type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { randomUUID } from 'crypto';
import type { IncomingMessage, ServerResponse } from 'http';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import type { AgentPrincipal } from '../auth/agent-principal.interface.js';
import { RouteMetadataCache } from '../route-metadata.cache.js';
import { AGENT_SECURITY_USAGE_STORE, AGENT_STREAM_METADATA, TOKEN_BUDGET_METADATA } from './usage.constants.js';
import { ClientClosedRequestException, TokenBudgetExceededException, TooManyStreamsException } from './usage.exceptions.js';
import { UsageMeter } from './usage-meter.js';
import { UsageService } from './usage.service.js';
import type { UsageStore } from './usage-store.interface.js';

interface RouteUsage {
  readonly budgeted: boolean;
  readonly stream: boolean;
}

/**
 * On `@TokenBudget()` and `@AgentStream()` routes: refuses a caller whose token budget is spent,
 * takes a concurrent-stream slot, and records the request's tokens when the response ends
 * (finished or abandoned by the client). Runs after authentication and before the request
 * throttle, so a request it refuses is not counted against the request budget.
 */
@Injectable()
export class TokenBudgetGuard implements CanActivate {
  private readonly routes = new RouteMetadataCache<RouteUsage>((handler, controller) => ({
    budgeted: this.reflector.getAllAndOverride<boolean>(TOKEN_BUDGET_METADATA, [handler, controller]) === true,
    stream: this.reflector.getAllAndOverride<boolean>(AGENT_STREAM_METADATA, [handler, controller]) === true,
  }));
  private readonly logger = new Logger('AgentSecurity');

  constructor(
    private readonly reflector: Reflector,
    private readonly usage: UsageService,
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
    @Inject(AGENT_SECURITY_USAGE_STORE) private readonly store: UsageStore,
  ) {}

  // Synchronous on the routes without a budget (nearly all): Nest then skips awaiting the guard.
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const route = this.routes.get(context);
    if (!route.budgeted) return true;
    const request = context.getArgByIndex<IncomingMessage>(0);
    const principal = request.principal;
    if (principal === undefined) return true; // public routes have no caller to bill
    return this.admit(route, request, context.getArgByIndex<ServerResponse>(1), principal);
  }

  private async admit(route: RouteUsage, request: IncomingMessage, response: ServerResponse, principal: AgentPrincipal): Promise<boolean> {
    const tier = this.config.tiers.get(principal.tier)!;

    if (tier.tokens !== undefined) {
      const budget = (await this.usage.budget(principal))!;
      response.setHeader('X-TokenBudget-Limit', budget.limit);
      response.setHeader('X-TokenBudget-Remaining', budget.remaining);
      if (budget.remaining === 0) {
        // A budget of 0 never frees: come back after a whole window, not every second.
        const retryAfter = Math.max(1, Math.ceil((budget.limit === 0 ? budget.windowMs : budget.resetMs) / 1000));
        response.setHeader('Retry-After', retryAfter);
        throw new TokenBudgetExceededException(budget.limit, budget.used, budget.windowMs, retryAfter, principal.tier);
      }
    }

    let release: (() => void) | undefined;
    if (route.stream && tier.maxConcurrentStreams !== undefined) {
      release = await this.takeStreamSlot(principal, tier.maxConcurrentStreams);
    }
    // A client that left while the budget or the slot was awaited has already had its 'close': a listener added now
    // would never run, and the slot would be renewed for as long as the process lives.
    if (response.destroyed) {
      release?.();
      throw new ClientClosedRequestException();
    }
    const meter = new UsageMeter();
    request.usage = meter;
    response.once('close', () => {
      release?.();
      if (meter.total > 0) {
        this.usage.record(principal, meter).catch((error: Error) => this.logger.error(`Token usage not recorded: ${error.message}`));
      }
    });
    return true;
  }

  private async takeStreamSlot(principal: AgentPrincipal, max: number): Promise<() => void> {
    const key = this.usage.streamsKey(principal);
    const leaseId = randomUUID();
    const { leaseMs } = this.config.streams;
    if (!(await this.store.acquireStream(key, leaseId, max, leaseMs))) {
      throw new TooManyStreamsException(max, principal.tier);
    }
    // The lease outlives the stream only if this instance dies: then it expires on its own.
    const renewal = setInterval(() => {
      this.store.renewStream(key, leaseId, leaseMs).catch(() => undefined);
    }, Math.max(100, Math.floor(leaseMs / 3)));
    renewal.unref();
    return () => {
      clearInterval(renewal);
      this.store.releaseStream(key, leaseId).catch(() => undefined);
    };
  }
}
