import type { OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { randomBytes } from 'crypto';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { toThrottlerRecord, type ThrottlerStorageRecord } from './throttler-record.js';
import type { ConsumeResult, SlidingWindowStore, WindowRule, WindowState } from './sliding-window.interface.js';
import { SLIDING_WINDOW_SCRIPT } from './sliding-window.script.js';
import { PIPELINED_CONNECTION } from './throttling.constants.js';

/** The script registered on a client by `defineCommand`: called by SHA, re-sent only after a NOSCRIPT. */
interface WithSlidingWindow {
  agentSecuritySlidingWindow(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
}

type RedisClient = (Redis | Cluster) & Partial<WithSlidingWindow>;

/**
 * Exact sliding-window storage on Redis: one sorted set per window, one script call per request.
 * Usable on its own in a plain `ThrottlerModule` (`storage: new RedisThrottlerStorage(redis)`).
 * Every key of one `consume` must be in one hash slot when the client is a Cluster.
 */
export class RedisThrottlerStorage implements ThrottlerStorage, SlidingWindowStore, OnApplicationShutdown {
  readonly client: Redis | Cluster;
  private readonly owned: boolean;
  // Unique per process and per request: members never collide, even for the same microsecond on two instances.
  private readonly instanceId = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(redis: Redis | Cluster | string | RedisOptions) {
    if (redis instanceof Redis || redis instanceof Cluster) {
      this.client = redis;
      this.owned = false;
    } else {
      this.client = typeof redis === 'string' ? new Redis(redis, PIPELINED_CONNECTION) : new Redis({ ...PIPELINED_CONNECTION, ...redis });
      this.owned = true;
    }
    const client = this.client as RedisClient;
    if (typeof client.agentSecuritySlidingWindow !== 'function') {
      client.defineCommand('agentSecuritySlidingWindow', { lua: SLIDING_WINDOW_SCRIPT });
    }
  }

  async consume(rules: readonly WindowRule[]): Promise<ConsumeResult> {
    const n = rules.length;
    const args: Array<string | number> = new Array(1 + 3 * n);
    for (let i = 0; i < n; i++) args[i] = rules[i].key;
    args[n] = `${this.instanceId}:${++this.sequence}`;
    for (let i = 0; i < n; i++) {
      args[n + 1 + 2 * i] = rules[i].limit;
      args[n + 2 + 2 * i] = rules[i].windowMs;
    }
    const reply = await (this.client as RedisClient & WithSlidingWindow).agentSecuritySlidingWindow(n, ...args);
    const windows: WindowState[] = new Array(n);
    for (let i = 0; i < n; i++) {
      windows[i] = { totalHits: reply[2 + 2 * i], resetMs: Math.ceil(reply[3 + 2 * i] / 1000) };
    }
    return { allowed: reply[0] === 1, blockedBy: reply[1], windows };
  }

  /**
   * `@nestjs/throttler`'s storage call. In a sliding window a caller is blocked exactly until a slot
   * frees, so `blockDuration` is not used: refused requests are not counted and block nothing further.
   */
  async increment(key: string, ttl: number, limit: number, _blockDuration: number, _throttlerName: string): Promise<ThrottlerStorageRecord> {
    return toThrottlerRecord(await this.consume([{ key, limit, windowMs: ttl }]));
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
