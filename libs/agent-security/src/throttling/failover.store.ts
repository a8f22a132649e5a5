import { type BeforeApplicationShutdown, Logger } from '@nestjs/common';
import { StoreUnavailableException } from '../errors/store-unavailable.exception.js';
import type { StoreErrorPolicy } from '../agent-security-options.interface.js';
import { InvalidWindowRuleError } from './invalid-window-rule.error.js';
import type { ConsumeResult, SlidingWindowStore, WindowRule } from './sliding-window.interface.js';

export type StoreState = 'up' | 'down';

/** Redis's state as one store found it, for the other stores on the same connection to share. */
export interface RedisDownState {
  readonly isDown: boolean;
  /** A command failed for want of Redis: every store sharing the state stops asking it until it is back. */
  markDown(reason: string): void;
  /** Runs `listener` each time Redis answers again after being down (the other stores then put back what they kept meanwhile). */
  onRecovered(listener: () => void): void;
}

export { STORE_UNAVAILABLE_MESSAGE } from '../errors/store-unavailable.exception.js';

/**
 * Puts a policy in front of the Redis store for when Redis cannot answer in time.
 * `fallback` spends budgets in process memory meanwhile (limits hold per instance), `allow` lets requests
 * through, `deny` answers 503. While Redis is down, at most one request per `probeIntervalMs` tries it again,
 * so a dead Redis costs the other requests nothing. Each change of state is logged once.
 */
export class FailoverStore implements SlidingWindowStore, RedisDownState, BeforeApplicationShutdown {
  private state: StoreState = 'up';
  private nextProbeAt = 0;
  private lastError: string | undefined;
  private readonly logger = new Logger('AgentSecurity');
  /** While down: asks Redis itself, so that the state comes back without a rate-limited request (a readiness probe sends none). */
  private pinger: NodeJS.Timeout | undefined;
  private readonly recovered: Array<() => void> = [];

  constructor(
    private readonly primary: SlidingWindowStore,
    readonly fallback: SlidingWindowStore,
    private readonly policy: StoreErrorPolicy,
    private readonly probeIntervalMs = 1000,
    /** A cheap question to Redis (PING): without it only requests find out that Redis is back. */
    private readonly ping?: () => Promise<unknown>,
  ) {}

  /** Redis was not there when the app started: down from the start, not only once a request has failed. */
  markDown(reason: string): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.nextProbeAt = Date.now() + this.probeIntervalMs;
    this.lastError = reason;
    this.logger.warn(`Redis unavailable (${reason}): ${POLICY_EFFECT[this.policy]}`);
    this.startPinging();
  }

  onRecovered(listener: () => void): void {
    this.recovered.push(listener);
  }

  get isDown(): boolean {
    return this.state === 'down';
  }

  get status(): { state: StoreState; policy: StoreErrorPolicy; lastError?: string } {
    return { state: this.state, policy: this.policy, lastError: this.lastError };
  }

  consume(rules: readonly WindowRule[]): Promise<ConsumeResult> {
    if (this.state === 'down') {
      const now = Date.now();
      if (now < this.nextProbeAt) return this.degraded(rules);
      this.nextProbeAt = now + this.probeIntervalMs;
    }
    return this.primary.consume(rules).then(
      (result) => {
        if (this.state === 'down') this.markUp();
        return result;
      },
      (error: unknown) => {
        // The request's own fault, not Redis's: no other request is affected, and no policy applies.
        if (error instanceof InvalidWindowRuleError) throw error;
        this.markDown(error instanceof Error ? error.message : String(error));
        return this.degraded(rules);
      },
    );
  }

  private markUp(): void {
    if (this.state === 'up') return;
    this.state = 'up';
    this.lastError = undefined;
    this.stopPinging();
    this.logger.log('Redis is back: rate limits are enforced in Redis again');
    for (const listener of this.recovered) listener();
  }

  private startPinging(): void {
    const ping = this.ping;
    if (ping === undefined || this.pinger !== undefined) return;
    this.pinger = setInterval(() => {
      ping().then(
        () => this.markUp(),
        () => undefined,
      );
    }, this.probeIntervalMs);
    this.pinger.unref();
  }

  private stopPinging(): void {
    clearInterval(this.pinger);
    this.pinger = undefined;
  }

  /** Nest calls the provider's hooks, not those of the stores it wraps. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopPinging();
    await (this.primary as Partial<BeforeApplicationShutdown>).beforeApplicationShutdown?.();
  }

  private degraded(rules: readonly WindowRule[]): Promise<ConsumeResult> {
    switch (this.policy) {
      case 'fallback':
        return this.fallback.consume(rules);
      case 'allow':
        return Promise.resolve(unlimited(rules));
      case 'deny':
        return Promise.reject(new StoreUnavailableException());
    }
  }
}

const POLICY_EFFECT: Record<StoreErrorPolicy, string> = {
  fallback: 'enforcing limits per instance in memory until it returns',
  allow: 'letting requests through unlimited until it returns',
  deny: 'answering 503 until it returns',
};

function unlimited(rules: readonly WindowRule[]): ConsumeResult {
  return { allowed: true, blockedBy: -1, windows: rules.map(() => ({ totalHits: 0, resetMs: 0 })) };
}
