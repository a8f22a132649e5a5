import type { StoreErrorPolicy } from '../agent-security-options.interface.js';
import type { RedisDownState } from '../throttling/failover.store.js';
import { StoreUnavailableException } from '../errors/store-unavailable.exception.js';
import { Logger } from '@nestjs/common';
import { MemoryUsageStore } from './memory-usage.store.js';
import type { CostRecord, TokenBucketsReplay, TokenWindow, UsageStore } from './usage-store.interface.js';

/**
 * The store-error policy for token budgets and stream slots: `fallback` uses process memory, `allow` lets the request
 * through, `deny` answers 503. Redis's state is the request windows' (`redis`): while it is down these do not ask Redis
 * either, so a budgeted request costs no more than any other (no command timeout waited out per call), and a failure
 * here marks it down for both, which the readiness probe reports. The request-window store logs the changes, once each.
 *
 * Tokens recorded in memory meanwhile are added to Redis once it answers again, each in the bucket it was recorded
 * in, and then leave memory: the budget a caller spent during the outage still counts after it.
 */
export class FailoverUsageStore implements UsageStore {
  /** Callers with tokens recorded in memory since Redis was last up, and their window (ms). */
  private readonly unreplayed = new Map<string, number>();
  private readonly logger = new Logger('AgentSecurity');

  constructor(
    private readonly primary: UsageStore,
    readonly fallback: UsageStore,
    private readonly policy: StoreErrorPolicy,
    private readonly redis: RedisDownState,
  ) {
    redis.onRecovered(() => void this.replay());
  }

  tokens(key: string, windowMs: number): Promise<TokenWindow> {
    if (this.redis.isDown) return this.degraded(() => this.fallback.tokens(key, windowMs), NOTHING_USED);
    return this.primary.tokens(key, windowMs).catch((error: unknown) => {
      this.lost(error);
      return this.degraded(() => this.fallback.tokens(key, windowMs), NOTHING_USED);
    });
  }

  recordTokens(key: string, tokens: number, windowMs: number): Promise<void> {
    // Usage that cannot reach Redis is still counted locally under every policy: it was spent.
    if (this.redis.isDown) return this.recordInMemory(key, tokens, windowMs);
    return this.primary.recordTokens(key, tokens, windowMs).catch((error: unknown) => {
      this.lost(error);
      return this.recordInMemory(key, tokens, windowMs);
    });
  }

  private recordInMemory(key: string, tokens: number, windowMs: number): Promise<void> {
    if (tokens <= 0) return Promise.resolve();
    this.unreplayed.set(key, windowMs);
    return this.fallback.recordTokens(key, tokens, windowMs);
  }

  /** Once per recovery: each caller's memory buckets into Redis; a caller whose replay fails keeps them in memory. */
  async replay(): Promise<void> {
    const primary = this.primary as UsageStore & Partial<TokenBucketsReplay>;
    const memory = this.fallback;
    if (typeof primary.addBuckets !== 'function' || !(memory instanceof MemoryUsageStore)) return;
    const callers = [...this.unreplayed];
    this.unreplayed.clear();
    let failed = 0;
    for (const [key, windowMs] of callers) {
      const buckets = memory.takeBuckets(key);
      if (buckets === undefined || buckets.size === 0) continue;
      try {
        await primary.addBuckets(key, buckets, windowMs);
      } catch {
        failed++;
        for (const [bucket, tokens] of buckets) memory.putBucket(key, bucket, tokens, windowMs);
        this.unreplayed.set(key, windowMs);
      }
    }
    if (failed > 0)
      this.logger.warn(
        `Token usage of ${failed} caller(s) recorded during the outage not yet added to Redis: kept in memory`,
      );
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
    return Promise.allSettled([
      this.primary.releaseStream(key, leaseId),
      this.fallback.releaseStream(key, leaseId),
    ]).then(() => undefined);
  }

  settleReservation(
    tokensKey: string,
    tokens: number,
    windowMs: number,
    reservationKey: string,
    member: string,
    cost?: CostRecord,
  ): Promise<void> {
    // The reservation may be in either store (taken before or during an outage): dropped from both, the tokens
    // counted once, in memory if Redis cannot take them.
    const local = this.fallback.settleReservation(tokensKey, 0, windowMs, reservationKey, member);
    const inMemory = () =>
      Promise.all([
        this.recordInMemory(tokensKey, tokens, windowMs),
        cost === undefined ? undefined : this.recordInMemory(cost.key, cost.amount, cost.windowMs),
      ]);
    if (this.redis.isDown) return local.then(inMemory).then(() => undefined);
    const remote = this.primary
      .settleReservation(tokensKey, tokens, windowMs, reservationKey, member, cost)
      .catch((error: unknown) => {
        this.lost(error);
        return inMemory();
      });
    return Promise.all([local, remote]).then(() => undefined);
  }

  renewReservation(reservationKey: string, member: string, leaseMs: number): Promise<void> {
    const local = this.fallback.renewReservation(reservationKey, member, leaseMs);
    if (this.redis.isDown) return local;
    return Promise.all([
      local,
      this.primary.renewReservation(reservationKey, member, leaseMs).catch((error: unknown) => this.lost(error)),
    ]).then(() => undefined);
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
