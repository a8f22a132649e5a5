import type { ConsumeResult } from './sliding-window.interface.js';

/** @nestjs/throttler's storage record (its interface, restated: the package exports it only as a type-and-symbol pair). */
export interface ThrottlerStorageRecord {
  totalHits: number;
  /** Seconds. */
  timeToExpire: number;
  isBlocked: boolean;
  /** Seconds. */
  timeToBlockExpire: number;
}

/** A single-window result as `ThrottlerGuard` reads it: on a refusal, the hits equal the limit and the block lasts until a slot frees. */
export function toThrottlerRecord({ allowed, windows }: ConsumeResult): ThrottlerStorageRecord {
  const { totalHits, resetMs } = windows[0];
  const seconds = Math.ceil(resetMs / 1000);
  return {
    totalHits,
    timeToExpire: seconds,
    isBlocked: !allowed,
    timeToBlockExpire: allowed ? 0 : Math.max(1, seconds),
  };
}
