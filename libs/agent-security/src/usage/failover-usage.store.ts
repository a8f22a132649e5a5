import { StoreUnavailableException } from '../errors/store-unavailable.exception.js';
import type { StoreErrorPolicy } from '../agent-security-options.interface.js';
import { STORE_UNAVAILABLE_MESSAGE } from '../throttling/failover.store.js';
import type { TokenWindow, UsageStore } from './usage-store.interface.js';

/**
 * The store-error policy for token budgets and stream slots (the rate-limit store logs the outage itself):
 * `fallback` uses process memory, `allow` lets the request through, `deny` answers 503.
 */
export class FailoverUsageStore implements UsageStore {
  constructor(
    private readonly primary: UsageStore,
    private readonly fallback: UsageStore,
    private readonly policy: StoreErrorPolicy,
  ) {}

  tokens(key: string, windowMs: number): Promise<TokenWindow> {
    return this.primary.tokens(key, windowMs).catch(() => this.degraded(() => this.fallback.tokens(key, windowMs), { used: 0, resetMs: 0 }));
  }

  recordTokens(key: string, tokens: number, windowMs: number): Promise<void> {
    // Usage that cannot reach Redis is still counted locally under every policy: it was spent.
    return this.primary.recordTokens(key, tokens, windowMs).catch(() => this.fallback.recordTokens(key, tokens, windowMs));
  }

  acquireStream(key: string, leaseId: string, max: number, leaseMs: number): Promise<boolean> {
    return this.primary
      .acquireStream(key, leaseId, max, leaseMs)
      .catch(() => this.degraded(() => this.fallback.acquireStream(key, leaseId, max, leaseMs), true));
  }

  renewStream(key: string, leaseId: string, leaseMs: number): Promise<void> {
    return this.primary.renewStream(key, leaseId, leaseMs).catch(() => this.fallback.renewStream(key, leaseId, leaseMs));
  }

  releaseStream(key: string, leaseId: string): Promise<void> {
    return Promise.allSettled([this.primary.releaseStream(key, leaseId), this.fallback.releaseStream(key, leaseId)]).then(() => undefined);
  }

  private degraded<T>(fallback: () => Promise<T>, allowed: T): Promise<T> {
    if (this.policy === 'fallback') return fallback();
    if (this.policy === 'allow') return Promise.resolve(allowed);
    return Promise.reject(new StoreUnavailableException(STORE_UNAVAILABLE_MESSAGE));
  }
}
