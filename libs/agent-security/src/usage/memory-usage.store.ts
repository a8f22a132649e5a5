import { TOKEN_BUCKETS } from './usage.constants.js';
import { bucketMsFor } from './redis-usage.store.js';
import type { CostRecord, TokenWindow, UsageStore } from './usage-store.interface.js';

interface Buckets {
  /** bucket index -> tokens */
  readonly counts: Map<number, number>;
  expiresAt: number;
}

/** The same token windows and stream leases in process memory, for one instance. */
export class MemoryUsageStore implements UsageStore {
  private readonly buckets = new Map<string, Buckets>();
  private readonly leases = new Map<string, Map<string, number>>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweepTimer = setInterval(() => this.sweep(), 60_000);
    this.sweepTimer.unref();
  }

  async tokens(key: string, windowMs: number): Promise<TokenWindow> {
    return this.tokensSync(key, windowMs);
  }

  /** Synchronous, for the memory admission to check and take in one step, as the admission script does. */
  tokensSync(key: string, windowMs: number): TokenWindow {
    const entry = this.buckets.get(key);
    if (entry === undefined) return { used: 0, resetMs: 0 };
    const now = this.now();
    const bucketMs = bucketMsFor(windowMs);
    const first = Math.floor(now / bucketMs) - TOKEN_BUCKETS + 1;
    let used = 0;
    let oldest = Infinity;
    for (const [bucket, count] of entry.counts) {
      if (bucket < first) entry.counts.delete(bucket);
      else {
        used += count;
        if (bucket < oldest) oldest = bucket;
      }
    }
    return { used, resetMs: oldest === Infinity ? 0 : (oldest + TOKEN_BUCKETS) * bucketMs - now };
  }

  async recordTokens(key: string, tokens: number, windowMs: number): Promise<void> {
    this.putBucket(key, Math.floor(this.now() / bucketMsFor(windowMs)), tokens, windowMs);
  }

  /** Adds tokens to one bucket of a caller's window. */
  putBucket(key: string, bucket: number, tokens: number, windowMs: number): void {
    let entry = this.buckets.get(key);
    if (entry === undefined) {
      entry = { counts: new Map(), expiresAt: 0 };
      this.buckets.set(key, entry);
    }
    entry.counts.set(bucket, (entry.counts.get(bucket) ?? 0) + tokens);
    entry.expiresAt = Math.max(entry.expiresAt, this.now() + windowMs + bucketMsFor(windowMs));
  }

  /** Removes and returns a caller's buckets (index -> tokens), to be put into Redis once it answers again. */
  takeBuckets(key: string): Map<number, number> | undefined {
    const entry = this.buckets.get(key);
    this.buckets.delete(key);
    return entry?.counts;
  }

  async acquireStream(key: string, leaseId: string, max: number, leaseMs: number): Promise<boolean> {
    if (this.streamsHeld(key) >= max) return false;
    this.leases.get(key)!.set(leaseId, this.now() + leaseMs);
    return true;
  }

  /** Unexpired leases under `key` (the expired ones dropped); synchronous, for the memory admission. */
  streamsHeld(key: string): number {
    const now = this.now();
    let held = this.leases.get(key);
    if (held === undefined) {
      held = new Map();
      this.leases.set(key, held);
    }
    for (const [id, expiresAt] of held) if (expiresAt <= now) held.delete(id);
    return held.size;
  }

  /** Takes a slot (or a reservation) already found free in the same synchronous step. */
  takeStream(key: string, leaseId: string, leaseMs: number): void {
    let held = this.leases.get(key);
    if (held === undefined) {
      held = new Map();
      this.leases.set(key, held);
    }
    held.set(leaseId, this.now() + leaseMs);
  }

  /** As in Redis: a lease lost meanwhile (expired while it could not be renewed) is put back, its stream still runs. */
  async renewStream(key: string, leaseId: string, leaseMs: number): Promise<void> {
    let held = this.leases.get(key);
    if (held === undefined) {
      held = new Map();
      this.leases.set(key, held);
    }
    held.set(leaseId, this.now() + leaseMs);
  }

  async releaseStream(key: string, leaseId: string): Promise<void> {
    const held = this.leases.get(key);
    held?.delete(leaseId);
    if (held?.size === 0) this.leases.delete(key);
  }

  /** Tokens held by unexpired reservations under `key` (members "<tokens>:<id>"); synchronous, for the admission. */
  reservedSync(key: string): number {
    const now = this.now();
    const held = this.leases.get(key);
    if (held === undefined) return 0;
    let reserved = 0;
    for (const [member, expiresAt] of held) {
      if (expiresAt <= now) held.delete(member);
      else reserved += parseInt(member, 10);
    }
    return reserved;
  }

  async settleReservation(
    tokensKey: string,
    tokens: number,
    windowMs: number,
    reservationKey: string,
    member: string,
    cost?: CostRecord,
  ): Promise<void> {
    await this.releaseStream(reservationKey, member);
    if (tokens > 0) await this.recordTokens(tokensKey, tokens, windowMs);
    if (cost !== undefined && cost.amount > 0) await this.recordTokens(cost.key, cost.amount, cost.windowMs);
  }

  async renewReservation(reservationKey: string, member: string, leaseMs: number): Promise<void> {
    const held = this.leases.get(reservationKey);
    if (held?.has(member)) held.set(member, this.now() + leaseMs);
  }

  /** Drops callers with nothing left in their windows. */
  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.buckets) if (entry.expiresAt <= now) this.buckets.delete(key);
    for (const [key, held] of this.leases) {
      for (const [id, expiresAt] of held) if (expiresAt <= now) held.delete(id);
      if (held.size === 0) this.leases.delete(key);
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweepTimer);
  }
}
