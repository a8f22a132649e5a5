import { type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  normalizeIp,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { randomUUID } from 'crypto';
import type { IncomingMessage, ServerResponse } from 'http';
import { AGENT_SECURITY_ADMISSION_STORE } from '../admission/admission.constants.js';
import type {
  AdmissionStore,
  CostBudgetCheck,
  StreamSlotCheck,
  TokenBudgetCheck,
  TokenReservation,
} from '../admission/admission.interface.js';
import { AGENT_SECURITY_CONFIG, ANONYMOUS_TIER } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import type { AgentPrincipal } from '../auth/agent-principal.interface.js';
import { AGENT_STREAM_METADATA, TOKEN_BUDGET_METADATA } from '../usage/usage.constants.js';
import {
  CostBudgetExceededException,
  TokenBudgetExceededException,
  TooManyStreamsException,
} from '../usage/usage.exceptions.js';
import { formatUsd } from '../usage/cost.js';
import { UsageService } from '../usage/usage.service.js';
import { UsageSessions } from '../usage/usage-session.js';
import {
  DEFAULT_RESERVE,
  tokensToReserve,
  type TokenBudgetOptions,
  type TokenReserve,
} from '../usage/token-reserve.js';
import { KeySpace, routeKeySuffix } from '../keys/key-space.js';
import { RouteMetadataCache } from '../route-metadata.cache.js';
import { rateLimitPolicy, setRateLimitHeaders, type RateLimitPolicy } from './rate-limit-headers.js';
import { InvalidWindowRuleError } from './invalid-window-rule.error.js';
import { RateLimitExceededException } from './rate-limit.exception.js';
import type { ConsumeResult, SlidingWindowStore, WindowRule } from './sliding-window.interface.js';
import {
  AGENT_SECURITY_STORE,
  DEFAULT_THROTTLER,
  ROUTE_POLICY_NAME,
  THROTTLER_BLOCK_DURATION,
  THROTTLER_KEY_GENERATOR,
  THROTTLER_LIMIT,
  THROTTLER_SKIP,
  THROTTLER_TRACKER,
  THROTTLER_TTL,
} from './throttling.constants.js';
import { nodeRequest, nodeResponse } from '../http/platform-objects.js';

type Resolvable = number | ((context: ExecutionContext) => number | Promise<number>);

/** What the reflector says of one handler, read once: metadata does not change after start-up. */
interface RouteThrottling {
  readonly skip: boolean;
  readonly limit?: Resolvable;
  readonly ttl?: Resolvable;
  /** Appended to the caller's key, inside the same hash slot, for a route's own window. */
  readonly keySuffix: string;
  /** `@TokenBudget()` (or `@AgentStream()`): a verified caller is admitted by the admission store. */
  readonly budgeted: boolean;
  readonly reserve: TokenReserve;
  readonly stream: boolean;
  /** Controller.method, for a developer's error. */
  readonly name: string;
}

/**
 * Spends one request of the caller's tier budget per request, in one store call. On `@TokenBudget()` and
 * `@AgentStream()` routes that call is the admission: the token budget, the stream slot and the request windows are
 * checked and taken in one atomic step (one script call on Redis), so a request refused by any of them is counted
 * by none; the tokens are recorded once more when the response ends (UsageSessions).
 *
 * The caller is the verified `userId` (the AuthGuard runs first), or the client IP on `@Public()`
 * routes (Express's `trust proxy` decides which IP; IPv6 by its /64). One budget per caller across all routes; a
 * route's `@Throttle({ default: { limit, ttl } })` adds a stricter window that is checked in the
 * same atomic call, so a request refused by one window is counted by neither. `@SkipThrottle()` skips.
 */
@Injectable()
export class TierThrottlerGuard extends ThrottlerGuard {
  private readonly routes = new RouteMetadataCache<RouteThrottling>((handler, controller) => {
    const targets = [handler, controller];
    const ignored = ignoredThrottleOptions(targets);
    const budget = this.reflector.getAllAndOverride<TokenBudgetOptions | undefined>(TOKEN_BUDGET_METADATA, targets);
    if (ignored.length > 0) {
      new Logger('AgentSecurity').warn(
        `${controller.name}.${handler.name}: @Throttle() ${ignored.join(', ')} not applied; the module applies only ` +
          '@Throttle({ default: { limit, ttl } }) (one exact window, which blocks for exactly as long as no slot is free).',
      );
    }
    return {
      skip: this.reflector.getAllAndOverride<boolean>(THROTTLER_SKIP + DEFAULT_THROTTLER, targets) === true,
      limit: this.reflector.getAllAndOverride<Resolvable>(THROTTLER_LIMIT + DEFAULT_THROTTLER, targets),
      ttl: this.reflector.getAllAndOverride<Resolvable>(THROTTLER_TTL + DEFAULT_THROTTLER, targets),
      keySuffix: routeKeySuffix(controller, handler),
      budgeted: budget !== undefined,
      reserve: budget?.reserve ?? DEFAULT_RESERVE,
      name: `${controller.name}.${handler.name}`,
      stream: this.reflector.getAllAndOverride<boolean>(AGENT_STREAM_METADATA, targets) === true,
    };
  });
  private readonly tierPolicies = new Map<string, RateLimitPolicy>();
  private readonly anonymousPolicy: RateLimitPolicy;
  private readonly keys: KeySpace;
  /** Tiers (ANONYMOUS_TIER for @Public() callers) whose limits only report: the whole app's, or the tier's own mode. */
  private readonly reporting = new Set<string>();

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
    @Inject(AGENT_SECURITY_STORE) private readonly store: SlidingWindowStore,
    @Inject(AGENT_SECURITY_ADMISSION_STORE) private readonly admission: AdmissionStore,
    private readonly usage: UsageService,
    private readonly sessions: UsageSessions,
  ) {
    super(options, storage, reflector);
    for (const [name, tier] of config.tiers)
      this.tierPolicies.set(name, rateLimitPolicy(name, tier.limit, tier.windowMs));
    this.anonymousPolicy = rateLimitPolicy(ANONYMOUS_TIER, config.anonymous.limit, config.anonymous.windowMs);
    this.keys = new KeySpace(config.throttling.keyPrefix);
    for (const [name, tier] of config.tiers)
      if (config.mode === 'report' || tier.mode === 'report') this.reporting.add(name);
    if (config.mode === 'report' || config.anonymous.mode === 'report') this.reporting.add(ANONYMOUS_TIER);
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const route = this.routes.get(context);
    // getArgByIndex, not switchToHttp(): that one adds three fresh closures to the context on every call.
    // The platform's request for its `ip` (trust proxy applied by Express or Fastify), Node's for the module's state.
    const platformRequest = context.getArgByIndex<{ ip?: string }>(0);
    const request = nodeRequest(platformRequest);
    const principal = request.principal;
    // A public route has no caller to bill: its windows only. @SkipThrottle() skips the windows, not the budget.
    const admits = route.budgeted && principal !== undefined;
    if (route.skip && !admits) return true;

    const response = nodeResponse(context.getArgByIndex(1));
    const policy = principal === undefined ? this.anonymousPolicy : this.tierPolicies.get(principal.tier)!;
    const callerKey =
      principal === undefined ? this.anonymousKey(platformRequest.ip) : this.keys.user(principal.userId);

    // Built with its first rule, not grown from empty: one allocation of the size it needs on every request.
    const rules: WindowRule[] = route.skip ? [] : [{ key: callerKey, limit: policy.limit, windowMs: policy.windowMs }];
    let routePolicy: RateLimitPolicy | undefined;
    if (!route.skip) {
      if (route.limit !== undefined || route.ttl !== undefined) {
        const limit = await this.resolve(context, route.limit, policy.limit);
        const windowMs = await this.resolve(context, route.ttl, policy.windowMs);
        const rule = { key: callerKey + route.keySuffix, limit, windowMs };
        // As the tiers are checked at start-up: a whole limit >= 0 and a window >= 1 ms, or the headers would say
        // "q=2.5" and a limit of -1 would refuse every request. A developer's mistake: a 500, with the route in the log.
        if (!(Number.isInteger(limit) && limit >= 0 && windowMs >= 1 && windowMs < Infinity))
          throw new InvalidWindowRuleError(rule);
        routePolicy = rateLimitPolicy(ROUTE_POLICY_NAME, limit, windowMs);
        rules.push(rule);
      }
    }

    if (admits) return this.admit(route, platformRequest, request, response, principal!, rules, policy, routePolicy);
    this.answerWindows(request, response, principal, policy, routePolicy, await this.store.consume(rules));
    return true;
  }

  /** A verified caller on a budgeted route: one admission, refusals in the order the admission checks them. */
  private async admit(
    route: RouteThrottling,
    platformRequest: unknown,
    request: IncomingMessage,
    response: ServerResponse,
    principal: AgentPrincipal,
    rules: WindowRule[],
    policy: RateLimitPolicy,
    routePolicy: RateLimitPolicy | undefined,
  ): Promise<boolean> {
    const tier = this.config.tiers.get(principal.tier)!;
    const budget = tier.tokens;
    const tokens: TokenBudgetCheck | undefined =
      budget === undefined
        ? undefined
        : { key: this.keys.tokens(principal.userId), limit: budget.limit, windowMs: budget.windowMs };
    const stream: StreamSlotCheck | undefined =
      route.stream && tier.maxConcurrentStreams !== undefined
        ? {
            key: this.keys.streams(principal.userId),
            leaseId: randomUUID(),
            max: tier.maxConcurrentStreams,
            leaseMs: this.config.streams.leaseMs,
          }
        : undefined;
    const reserve =
      tokens === undefined ? undefined : tokensToReserve(route.reserve, platformRequest as IncomingMessage, route.name);
    const reservation: TokenReservation | undefined =
      reserve === undefined
        ? undefined
        : {
            key: this.keys.reservations(principal.userId),
            member: `${reserve}:${randomUUID()}`,
            tokens: reserve,
            leaseMs: this.config.streams.leaseMs,
          };
    const costBudget = this.config.costBudgets.get(principal.tier);
    const cost: CostBudgetCheck | undefined =
      costBudget === undefined
        ? undefined
        : { key: this.keys.cost(principal.userId), limit: costBudget.limitNanoUsd, windowMs: costBudget.windowMs };
    const report = this.reporting.has(principal.tier);
    const result = await this.admission.admit({ windows: rules, tokens, reservation, cost, stream, report });
    if (budget !== undefined) {
      response.setHeader('X-TokenBudget-Limit', budget.limit);
      // As the request found it: the tokens used and those held by the caller's other requests in flight.
      response.setHeader(
        'X-TokenBudget-Remaining',
        Math.max(0, budget.limit - result.tokensUsed - result.tokensReserved),
      );
    }
    if (costBudget !== undefined) {
      response.setHeader('X-CostBudget-Limit-Usd', formatUsd(costBudget.limitNanoUsd));
      response.setHeader(
        'X-CostBudget-Remaining-Usd',
        formatUsd(Math.max(0, costBudget.limitNanoUsd - result.costUsed)),
      );
    }
    const refused = result.refused;
    if (refused === 'tokens') {
      // Reservations free sooner than the window, but when is unknown: the oldest usage's exit is the one time known
      // to free tokens.
      const retryAfter = budgetRetryAfter(budget!.limit, result.tokensResetMs, budget!.windowMs);
      if (report) request.wouldRefuse = 'token_budget_exceeded';
      else {
        response.setHeader('Retry-After', retryAfter);
        throw new TokenBudgetExceededException(
          budget!.limit,
          result.tokensUsed,
          budget!.windowMs,
          retryAfter,
          principal.tier,
          result.tokensReserved,
          reserve,
        );
      }
    } else if (refused === 'cost') {
      const retryAfter = budgetRetryAfter(costBudget!.limitNanoUsd, result.costResetMs, costBudget!.windowMs);
      if (report) request.wouldRefuse = 'cost_budget_exceeded';
      else {
        response.setHeader('Retry-After', retryAfter);
        throw new CostBudgetExceededException(
          costBudget!.limitNanoUsd,
          result.costUsed,
          costBudget!.windowMs,
          retryAfter,
          principal.tier,
        );
      }
    } else if (refused === 'streams') {
      if (report) request.wouldRefuse = 'too_many_streams';
      else throw new TooManyStreamsException(stream!.max, principal.tier);
    }
    if (rules.length > 0 && result.windows !== undefined)
      this.answerWindows(request, response, principal, policy, routePolicy, result.windows);
    this.sessions.open(
      request,
      response,
      principal,
      stream,
      reservation === undefined ? undefined : { tokensKey: tokens!.key, windowMs: budget!.windowMs, ...reservation },
    );
    return true;
  }

  /** The windows' headers, and the refusal when one of them refused. */
  private answerWindows(
    request: IncomingMessage,
    response: ServerResponse,
    principal: AgentPrincipal | undefined,
    policy: RateLimitPolicy,
    routePolicy: RateLimitPolicy | undefined,
    { allowed, blockedBy, windows }: ConsumeResult,
  ): void {
    const caller = windows[0];
    const callerReset = resetSeconds(policy, caller.resetMs);
    const callerRemaining = Math.max(0, policy.limit - caller.totalHits);
    let ownReset = 0;
    if (routePolicy === undefined) {
      setRateLimitHeaders(response, policy, callerRemaining, callerReset);
    } else {
      const own = windows[1];
      ownReset = resetSeconds(routePolicy, own.resetMs);
      setRateLimitHeaders(response, policy, callerRemaining, callerReset, {
        policy: routePolicy,
        remaining: Math.max(0, routePolicy.limit - own.totalHits),
        resetSec: ownReset,
      });
    }
    if (allowed) return;
    if (this.reporting.size > 0 && this.reporting.has(principal?.tier ?? ANONYMOUS_TIER)) {
      request.wouldRefuse ??= 'rate_limited';
      return;
    }

    const refused = blockedBy === 1 ? routePolicy! : policy;
    const retryAfter = Math.max(1, blockedBy === 1 ? ownReset : callerReset);
    response.setHeader('Retry-After', retryAfter);
    throw new RateLimitExceededException(
      refused.limit,
      refused.windowMs,
      retryAfter,
      principal?.tier ?? ANONYMOUS_TIER,
    );
  }

  /**
   * An IPv6 client is counted by its /64 (the stock guard's grouping): one host is usually given a whole /64 and could
   * otherwise take a fresh anonymous budget with every source address. An IPv4 address is used as it is, unparsed.
   */
  private anonymousKey(ip: string | undefined): string {
    if (ip === undefined) return this.keys.anonymous('unknown');
    return this.keys.anonymous(ip.includes(':') ? normalizeIp(ip, this.ipv6SubnetPrefix) : ip);
  }

  private async resolve(context: ExecutionContext, value: Resolvable | undefined, fallback: number): Promise<number> {
    if (value === undefined) return fallback;
    return typeof value === 'function' ? value(context) : value;
  }
}

/**
 * Seconds until a slot frees: when the oldest counted request leaves the window. A window with a limit of 0 counts
 * nothing and never frees a slot; its caller is told to come back after a whole window (as the stock guard's block
 * does), not every second.
 */
function resetSeconds(policy: RateLimitPolicy, resetMs: number): number {
  return Math.ceil((policy.limit === 0 ? policy.windowMs : resetMs) / 1000);
}

/** What a route's @Throttle() sets that the module does not apply: other throttlers, blockDuration, getTracker, generateKey. */
function ignoredThrottleOptions(targets: Function[]): string[] {
  const ignored = new Set<string>();
  for (const target of targets) {
    for (const key of Reflect.getOwnMetadataKeys(target) as unknown[]) {
      if (typeof key !== 'string') continue;
      if (key.startsWith(THROTTLER_LIMIT) && key !== THROTTLER_LIMIT + DEFAULT_THROTTLER) {
        ignored.add(`throttler "${key.slice(THROTTLER_LIMIT.length)}"`);
      }
      for (const [prefix, option] of IGNORED_OPTIONS) {
        if (key === prefix + DEFAULT_THROTTLER && Reflect.getOwnMetadata(key, target) !== undefined)
          ignored.add(option);
      }
    }
  }
  return [...ignored];
}

const IGNORED_OPTIONS = [
  [THROTTLER_BLOCK_DURATION, 'blockDuration'],
  [THROTTLER_TRACKER, 'getTracker'],
  [THROTTLER_KEY_GENERATOR, 'generateKey'],
] as const;

/**
 * Seconds until a spent budget frees: when its oldest usage leaves the window, or a whole window for a budget of 0
 * (which never frees) or one with no usage to leave, not every second.
 */
function budgetRetryAfter(limit: number, resetMs: number, windowMs: number): number {
  return Math.max(1, Math.ceil((limit === 0 || resetMs === 0 ? windowMs : resetMs) / 1000));
}
