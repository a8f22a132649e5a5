import type { StoreErrorPolicy } from '../agent-security-options.interface.js';
import type { RedisDownState } from '../throttling/failover.store.js';
import { StoreUnavailableException } from '../errors/store-unavailable.exception.js';
import type { TokenWindow, UsageStore } from './usage-store.interface.js';

/**
 * The store-error policy for token budgets and stream slots: `fallback` uses process memory, `allow` lets the request
 * through, `deny` answers 503. Redis's state is the request windows' (`redis`): while it is down these do not ask Redis
 * either, so a budgeted request costs no more than any other (no command timeout waited out per call), and a failure
 * here marks it down for both, which the readiness probe reports. The request-window store logs the changes, once each.
 */
export class FailoverUsageStore implements UsageStore {
  constructor(
    private readonly primary: UsageStore,
    readonly fallback: UsageStore,
    private readonly policy: StoreErrorPolicy,
    private readonly redis: RedisDownState,
  ) {}

  tokens(key: string, windowMs: number): Promise<TokenWindow> {
    if (this.redis.isDown) return this.degraded(() => this.fallback.tokens(key, windowMs), NOTHING_USED);
    return this.primary.tokens(key, windowMs).catch((error: unknown) => {
      this.lost(error);
      return this.degraded(() => this.fallback.tokens(key, windowMs), NOTHING_USED);
    });
  }

  recordTokens(key: string, tokens: number, windowMs: number): Promise<void> {
    // Usage that cannot reach Redis is still counted locally under every policy: it was spent.
    if (this.redis.isDown) return this.fallback.recordTokens(key, tokens, windowMs);
    return this.primary.recordTokens(key, tokens, windowMs).catch((error: unknown) => {
      this.lost(error);
      return this.fallback.recordTokens(key, tokens, windowMs);
    });
  }

  acquireStream(key: string, leaseId: string, max: number, leaseMs: number): Promise<boolean> {
    if (this.redis.isDown) return this.degraded(() => this.fallback.acquireStream(key, leaseId, max, leaseMs), true);
    return this.primary.acquireStream(key, leaseId, max, leaseMs).catch((error: unknown) => {
      this.lost(error);
      return this.degraded(() => this.fallback.acquireStream(key, leaseId, max, leaseMs), true);
    });
  }

  renewStream(key: string, leaseId: string, leaseMs: number): Promise<void> {
    if (this.redis.isDown) return this.fallback.renewStream(key, leaseId, leaseMs);
    return this.primary.renewStream(key, leaseId, leaseMs).catch((error: unknown) => {
      this.lost(error);
      return this.fallback.renewStream(key, leaseId, leaseMs);
    });
  }

  releaseStream(key: string, leaseId: string): Promise<void> {
    // A lease left in Redis meanwhile expires on its own.
    if (this.redis.isDown) return this.fallback.releaseStream(key, leaseId);
    return Promise.allSettled([this.primary.releaseStream(key, leaseId), this.fallback.releaseStream(key, leaseId)]).then(() => undefined);
  }

  private lost(error: unknown): void {
    this.redis.markDown(error instanceof Error ? error.message : String(error));
  }

  private degraded<T>(fallback: () => Promise<T>, allowed: T): Promise<T> {
    if (this.policy === 'fallback') return fallback();
    if (this.policy === 'allow') return Promise.resolve(allowed);
    return Promise.reject(new StoreUnavailableException());
  }
}

const NOTHING_USED: TokenWindow = Object.freeze({ used: 0, resetMs: 0 });
