import type { OnApplicationShutdown } from '@nestjs/common';
import { normalizeIp, type ThrottlerStorage } from '@nestjs/throttler';
import { isAnonymousKey, overflowKeyOf } from '../keys/key-space.js';
import { toThrottlerRecord, type ThrottlerStorageRecord } from './throttler-record.js';
import type { ConsumeResult, SlidingWindowStore, WindowRule, WindowState } from './sliding-window.interface.js';

export interface MemoryThrottlerStorageOptions {
  /** How often windows whose time is up are dropped outside requests, in ms. Default 60 000. */
  sweepIntervalMs?: number;
  /**
   * Windows of verified callers (and of any key that is not an anonymous caller's) kept at most; past it the
   * least recently created goes first. Only signed tokens make such windows. Default 100 000.
   */
  maxKeys?: number;
  /**
   * Windows of anonymous callers (per source IP, on `@Public()` routes) kept at most, apart from the verified ones.
   * Once it is full of live windows, a new IP shares its network's overflow window (IPv4 /24, IPv6 /48), never a
   * fresh budget. Default 100 000.
   */
  maxAnonymousKeys?: number;
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

  constructor(
    readonly key: string,
    limit: number,
    windowMs: number,
  ) {
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

  /** When the newest entry leaves the window, and with it the last: the window can go then. */
  expiresAt(): number {
    return this.size === 0 ? -Infinity : this.newest() + this.windowMs;
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

/**
 * Windows of one window length in the order they are due to expire. Windows of one length are filed in the order they
 * were created or last looked at, which is (nearly) the order they expire in: the head is always the next to look at,
 * and nothing behind it needs looking at before it.
 */
class ExpiryQueue {
  private windows: Array<Window | undefined> = [];
  private at: number[] = [];
  private head = 0;

  push(window: Window, at: number): void {
    this.windows.push(window);
    this.at.push(at);
  }

  /** When the head is due; Infinity when empty. */
  dueAt(): number {
    return this.head < this.at.length ? this.at[this.head] : Infinity;
  }

  shift(): Window {
    const window = this.windows[this.head]!;
    this.windows[this.head] = undefined;
    this.head++;
    // Compacting once the consumed head is the larger half keeps the cost per entry constant.
    if (this.head >= 1024 && this.head * 2 >= this.windows.length) {
      this.windows = this.windows.slice(this.head);
      this.at = this.at.slice(this.head);
      this.head = 0;
    } else if (this.head === this.windows.length) {
      this.windows.length = 0;
      this.at.length = 0;
      this.head = 0;
    }
    return window;
  }
}

/** Work counted by `MemoryThrottlerStorage.visited`. */
interface Counter {
  visited: number;
}

/** One bounded set of windows with its own expiry: anonymous callers' windows can never push out a verified caller's. */
class Part {
  readonly windows = new Map<string, Window>();
  private readonly queues: ExpiryQueue[] = [];
  private readonly queueByWindow = new Map<number, ExpiryQueue>();

  constructor(
    readonly capacity: number,
    private readonly counter: Counter,
  ) {}

  get full(): boolean {
    return this.windows.size >= this.capacity;
  }

  add(key: string, limit: number, windowMs: number, now: number): Window {
    const window = new Window(key, limit, windowMs);
    this.windows.set(key, window);
    this.queue(windowMs).push(window, now + windowMs);
    return window;
  }

  /** Drops the least recently created window (its queue entry is left to be skipped when due). */
  evictOldest(): void {
    this.counter.visited++;
    this.windows.delete(this.windows.keys().next().value as string);
  }

  /**
   * Looks at up to `budget` windows due to expire: each is dropped, or filed again for when it now expires.
   * Every window is filed once when created and again at most once per window it was used in, so a small budget per
   * request keeps up with any rate of requests.
   */
  expire(now: number, budget: number): void {
    const queues = this.queues;
    for (let q = 0; q < queues.length && budget > 0; q++) {
      const queue = queues[q];
      while (budget > 0 && queue.dueAt() <= now) {
        budget--;
        this.counter.visited++;
        const window = queue.shift();
        // Evicted, or expired and made again under its key: this entry is another window's past.
        if (this.windows.get(window.key) !== window) continue;
        const expiresAt = window.expiresAt();
        if (expiresAt <= now) this.windows.delete(window.key);
        else this.queue(window.windowMs).push(window, expiresAt);
      }
    }
  }

  private queue(windowMs: number): ExpiryQueue {
    let queue = this.queueByWindow.get(windowMs);
    if (queue === undefined) {
      queue = new ExpiryQueue();
      this.queueByWindow.set(windowMs, queue);
      this.queues.push(queue);
    }
    return queue;
  }
}

/** Windows looked at for expiry per part per request: more than a request can ever give them to look at later. */
const EXPIRY_WORK_PER_CALL = 4;

/** Overflow windows kept at most: a sixteenth of the anonymous part, and room for a few networks however small it is. */
export const overflowCapacity = (maxAnonymousKeys: number) => Math.max(64, Math.ceil(maxAnonymousKeys / 16));

/** The group for networks that have no overflow window of their own once the overflow part is full too. */
const EVERYONE = '*';

/** The sliding-window storage in process memory: same algorithm and results as the Redis one, for one process. */
export class MemoryThrottlerStorage implements ThrottlerStorage, SlidingWindowStore, OnApplicationShutdown {
  private readonly counter: Counter = { visited: 0 };
  private readonly verified: Part;
  private readonly anonymous: Part;
  /** Shared windows of the networks whose new IPs found the anonymous part full. */
  private readonly overflow: Part;
  private readonly now: () => number;
  private readonly sweepTimer: NodeJS.Timeout;
  // Per-call scratch (the store is synchronous inside a call): no arrays allocated per request but the result's.
  private found: Array<Window | undefined> = [];
  private targets: string[] = [];
  private parts: Part[] = [];

  constructor(options: MemoryThrottlerStorageOptions = {}) {
    this.now = options.now ?? Date.now;
    this.verified = new Part(options.maxKeys ?? 100_000, this.counter);
    const anonymous = options.maxAnonymousKeys ?? 100_000;
    this.anonymous = new Part(anonymous, this.counter);
    this.overflow = new Part(overflowCapacity(anonymous), this.counter);
    this.sweepTimer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweepTimer.unref();
  }

  /** Windows currently held (for tests and health checks). */
  get size(): number {
    return this.verified.windows.size + this.anonymous.windows.size + this.overflow.windows.size;
  }

  /** Windows looked at by expiry and eviction since start (a cost probe for tests: it stays flat per request). */
  get visited(): number {
    return this.counter.visited;
  }

  /** Entries held for one key, or for the overflow window it shares (for tests). */
  entries(key: string): number {
    return this.lookup(key)?.size ?? 0;
  }

  /** Entries one key's ring can hold before it grows (for tests). */
  capacity(key: string): number {
    return this.lookup(key)?.times.length ?? 0;
  }

  consume(rules: readonly WindowRule[]): Promise<ConsumeResult> {
    return Promise.resolve(this.consumeSync(rules));
  }

  consumeSync(rules: readonly WindowRule[]): ConsumeResult {
    const now = this.now();
    this.verified.expire(now, EXPIRY_WORK_PER_CALL);
    this.anonymous.expire(now, EXPIRY_WORK_PER_CALL);
    this.overflow.expire(now, EXPIRY_WORK_PER_CALL);
    const n = rules.length;
    const found = this.found;
    const targets = this.targets;
    const parts = this.parts;
    let blockedBy = -1;
    for (let i = 0; i < n; i++) {
      const rule = rules[i];
      const window = this.resolve(rule.key, i, now);
      if (window !== undefined) {
        window.windowMs = rule.windowMs;
        window.prune(now);
      }
      if (blockedBy < 0 && (window?.size ?? 0) >= rule.limit) blockedBy = i;
    }
    const windows: WindowState[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const { limit, windowMs } = rules[i];
      let window = found[i];
      if (blockedBy < 0) {
        if (window === undefined) {
          const part = parts[i];
          // Only verified windows are evicted (signed tokens alone make them); the anonymous parts never are: a second new
          // window in one call may take the anonymous part past its capacity by one, which bounds it all the same.
          if (part === this.verified && part.full) part.evictOldest();
          window = part.add(targets[i], limit, windowMs, now);
        }
        window.push(now, limit);
      }
      const size = window?.size ?? 0;
      windows[i] = { totalHits: size, resetMs: size === 0 ? 0 : Math.ceil(window!.oldest() + windowMs - now) };
      found[i] = undefined;
    }
    return { allowed: blockedBy < 0, blockedBy, windows };
  }

  /**
   * @nestjs/throttler's call. The window is the key's and the throttler's: a `generateKey` that leaves the name out
   * would otherwise give two throttlers (3 a second, 5 a minute) one window, each pruning it with its own ttl.
   * In a sliding window a caller is blocked exactly until a slot frees: `blockDuration` is not used.
   */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    _blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    // A closed route (limit 0) never frees a slot: its caller comes back after a whole window, not every second.
    if (limit === 0) {
      const seconds = Math.max(1, Math.ceil(ttl / 1000));
      return { totalHits: 0, timeToExpire: seconds, isBlocked: true, timeToBlockExpire: seconds };
    }
    return toThrottlerRecord(this.consumeSync([{ key: `${key}\u0000${throttlerName}`, limit, windowMs: ttl }]));
  }

  /** Drops every window whose time is up (the requests do it a few at a time; this catches up when they are few). */
  sweep(): void {
    const now = this.now();
    this.verified.expire(now, Infinity);
    this.anonymous.expire(now, Infinity);
    this.overflow.expire(now, Infinity);
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweepTimer);
  }

  /**
   * The window a rule counts in, and where it would be made (`targets[i]` in `parts[i]`) if there is none.
   * A verified caller's key is its own. An anonymous IP's key is its own while the anonymous part has room, and its
   * network's overflow window when it is full or while that overflow window lives (leaving it must not be a fresh budget).
   */
  private resolve(key: string, i: number, now: number): Window | undefined {
    if (!isAnonymousKey(key)) {
      this.targets[i] = key;
      this.parts[i] = this.verified;
      return (this.found[i] = this.verified.windows.get(key));
    }
    const own = this.anonymous.windows.get(key);
    // Full, perhaps of windows whose time is up and that are next in line: a few more looked at tell.
    if (own === undefined && this.anonymous.full) this.anonymous.expire(now, EXPIRY_WORK_PER_CALL);
    if (own !== undefined || (this.overflow.windows.size === 0 && !this.anonymous.full)) {
      this.targets[i] = key;
      this.parts[i] = this.anonymous;
      return (this.found[i] = own);
    }
    const group = overflowKey(key);
    let shared = this.overflow.windows.get(group);
    if (shared === undefined && !this.anonymous.full) {
      this.targets[i] = key;
      this.parts[i] = this.anonymous;
      return (this.found[i] = undefined);
    }
    let target = group;
    if (shared === undefined && this.overflow.full) {
      target = overflowKey(key, EVERYONE);
      shared = this.overflow.windows.get(target);
    }
    this.targets[i] = target;
    this.parts[i] = this.overflow;
    return (this.found[i] = shared);
  }

  private lookup(key: string): Window | undefined {
    const window = this.resolve(key, 0, this.now());
    this.found[0] = undefined;
    return window;
  }
}

export { isAnonymousKey };

/**
 * The key with its IP replaced by the IP's network: an IPv4 address's /24, an IPv6 /64 (the guard's grouping) by its /48;
 * anything else (an unknown IP) by `group` for everyone.
 */
function overflowKey(key: string, group?: string): string {
  return overflowKeyOf(key, group === undefined ? networkOf : () => group);
}

const IPV4 = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$/;

function networkOf(ip: string): string {
  const v4 = IPV4.exec(ip);
  if (v4 !== null) return `${v4[1]}.0/24`;
  if (ip.includes(':')) {
    const slash = ip.indexOf('/');
    const network = normalizeIp(slash < 0 ? ip : ip.slice(0, slash), 48);
    if (network.endsWith('/48')) return network;
  }
  return EVERYONE;
}
