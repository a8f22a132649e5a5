import type { OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { toThrottlerRecord, type ThrottlerStorageRecord } from './throttler-record.js';
import type { ConsumeResult, SlidingWindowStore, WindowRule, WindowState } from './sliding-window.interface.js';

export interface MemoryThrottlerStorageOptions {
  /** How often idle windows are swept away, in ms. Default 60 000. */
  sweepIntervalMs?: number;
  /** Windows kept at most; past it the least recently created go first. Default 100 000. */
  maxKeys?: number;
  /** Clock in epoch ms; tests replace it. */
  now?: () => number;
}

/**
 * The allowed requests of one window, oldest first, in a ring buffer. Only allowed requests are
 * stored, so it never holds more than `limit` entries: memory is bounded per caller and each
 * request costs O(1) amortised, however full the window (the stock storage filters an array of
 * every hit on every request).
 */
class Window {
  times: Float64Array;
  head = 0;
  size = 0;
  windowMs: number;

  constructor(limit: number, windowMs: number) {
    this.times = new Float64Array(Math.max(1, Math.min(limit, 16)));
    this.windowMs = windowMs;
  }

  prune(now: number): void {
    const horizon = now - this.windowMs;
    const times = this.times;
    while (this.size > 0 && times[this.head] <= horizon) {
      this.head = this.head + 1 === times.length ? 0 : this.head + 1;
      this.size--;
    }
  }

  oldest(): number {
    return this.times[this.head];
  }

  newest(): number {
    const index = this.head + this.size - 1;
    return this.times[index >= this.times.length ? index - this.times.length : index];
  }

  push(time: number, limit: number): void {
    if (this.size === this.times.length) this.grow(limit);
    const index = this.head + this.size;
    this.times[index >= this.times.length ? index - this.times.length : index] = time;
    this.size++;
  }

  private grow(limit: number): void {
    const times = new Float64Array(Math.min(Math.max(limit, 1), this.times.length * 2));
    for (let i = 0; i < this.size; i++) {
      const index = this.head + i;
      times[i] = this.times[index >= this.times.length ? index - this.times.length : index];
    }
    this.times = times;
    this.head = 0;
  }
}

/** The sliding-window storage in process memory: same algorithm and results as the Redis one, for one process. */
export class MemoryThrottlerStorage implements ThrottlerStorage, SlidingWindowStore, OnApplicationShutdown {
  private readonly windows = new Map<string, Window>();
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(options: MemoryThrottlerStorageOptions = {}) {
    this.maxKeys = options.maxKeys ?? 100_000;
    this.now = options.now ?? Date.now;
    this.sweepTimer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweepTimer.unref();
  }

  /** Windows currently held (for tests and health checks). */
  get size(): number {
    return this.windows.size;
  }

  /** Entries held for one key (for tests). */
  entries(key: string): number {
    return this.windows.get(key)?.size ?? 0;
  }

  /** Entries one key's ring can hold before it grows (for tests). */
  capacity(key: string): number {
    return this.windows.get(key)?.times.length ?? 0;
  }

  consume(rules: readonly WindowRule[]): Promise<ConsumeResult> {
    return Promise.resolve(this.consumeSync(rules));
  }

  consumeSync(rules: readonly WindowRule[]): ConsumeResult {
    const now = this.now();
    const n = rules.length;
    const found: Array<Window | undefined> = new Array(n);
    let blockedBy = -1;
    for (let i = 0; i < n; i++) {
      const window = this.windows.get(rules[i].key);
      if (window !== undefined) {
        window.windowMs = rules[i].windowMs;
        window.prune(now);
      }
      found[i] = window;
      if (blockedBy < 0 && (window?.size ?? 0) >= rules[i].limit) blockedBy = i;
    }
    const windows: WindowState[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const { key, limit, windowMs } = rules[i];
      let window = found[i];
      if (blockedBy < 0) {
        if (window === undefined) window = this.create(key, limit, windowMs);
        window.push(now, limit);
      }
      const size = window?.size ?? 0;
      windows[i] = { totalHits: size, resetMs: size === 0 ? 0 : Math.ceil(window!.oldest() + windowMs - now) };
    }
    return { allowed: blockedBy < 0, blockedBy, windows };
  }

  /** In a sliding window a caller is blocked exactly until a slot frees: `blockDuration` is not used. */
  async increment(key: string, ttl: number, limit: number, _blockDuration: number, _throttlerName: string): Promise<ThrottlerStorageRecord> {
    return toThrottlerRecord(this.consumeSync([{ key, limit, windowMs: ttl }]));
  }

  /** Drops every window whose newest entry has aged out. */
  sweep(): void {
    const now = this.now();
    for (const [key, window] of this.windows) {
      if (window.size === 0 || window.newest() <= now - window.windowMs) this.windows.delete(key);
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweepTimer);
  }

  private create(key: string, limit: number, windowMs: number): Window {
    if (this.windows.size >= this.maxKeys) {
      this.sweep();
      // Still full of live windows: the oldest-created goes, which bounds memory at the cost of forgetting it.
      if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value as string);
    }
    const window = new Window(limit, windowMs);
    this.windows.set(key, window);
    return window;
  }
}
