import type { OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { createHash, randomBytes } from 'crypto';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ScriptCall, ScriptCallDeadlines } from './script-call.js';
import { toThrottlerRecord, type ThrottlerStorageRecord } from './throttler-record.js';
import type { ConsumeResult, SlidingWindowStore, WindowRule, WindowState } from './sliding-window.interface.js';
import { SLIDING_WINDOW_SCRIPT } from './sliding-window.script.js';

/** The script registered on a Cluster by `defineCommand`: called by SHA, re-sent only after a NOSCRIPT. */
interface WithSlidingWindow {
  agentSecuritySlidingWindow(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
}

const SCRIPT_SHA = createHash('sha1').update(SLIDING_WINDOW_SCRIPT).digest('hex');

type Corkable = { cork(): void; uncork(): void };

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
  /** Options of every script call: the client's key prefix, if it has one. */
  private readonly callOptions: { keyPrefix?: string };
  private readonly deadlines = new ScriptCallDeadlines();
  /** The Cluster client, when it is one (decided once, not on every call). */
  private readonly cluster: (Cluster & WithSlidingWindow) | undefined;
  /** The socket corked for the rest of this event-loop turn, if any. */
  private corked: Corkable | undefined;
  private readonly uncork = () => {
    const stream = this.corked!;
    this.corked = undefined;
    stream.uncork();
  };

  constructor(redis: Redis | Cluster | string | RedisOptions) {
    if (redis instanceof Redis || redis instanceof Cluster) {
      this.client = redis;
      this.owned = false;
    } else {
      this.client = typeof redis === 'string' ? new Redis(redis) : new Redis(redis);
      this.owned = true;
    }
    const client = this.client;
    if (client instanceof Redis) {
      const keyPrefix = client.options.keyPrefix;
      this.callOptions = keyPrefix ? { keyPrefix } : {};
      this.cluster = undefined;
    } else {
      this.callOptions = {};
      this.cluster = client as Cluster & WithSlidingWindow;
      if (typeof (client as Cluster & Partial<WithSlidingWindow>).agentSecuritySlidingWindow !== 'function') {
        client.defineCommand('agentSecuritySlidingWindow', { lua: SLIDING_WINDOW_SCRIPT });
      }
    }
  }

  async consume(rules: readonly WindowRule[]): Promise<ConsumeResult> {
    const n = rules.length;
    // The script's arguments as Redis takes them: script, number of keys, keys, member, then limit and window per key.
    const args: Array<string | number> = new Array(3 + 3 * n);
    args[0] = SCRIPT_SHA;
    args[1] = n;
    for (let i = 0; i < n; i++) args[2 + i] = rules[i].key;
    args[2 + n] = `${this.instanceId}:${++this.sequence}`;
    for (let i = 0; i < n; i++) {
      args[3 + n + 2 * i] = rules[i].limit;
      args[4 + n + 2 * i] = rules[i].windowMs;
    }
    let reply: number[];
    try {
      reply = await this.run('evalsha', args);
    } catch (error) {
      // A Redis restarted, failed over or flushed has lost the script; NOSCRIPT means it did not run, so send it whole once.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      args[0] = SLIDING_WINDOW_SCRIPT;
      reply = await this.run('eval', args);
    }
    // Number(): a client created with stringNumbers answers integers as strings.
    const windows: WindowState[] = new Array(n);
    for (let i = 0; i < n; i++) {
      windows[i] = { totalHits: Number(reply[2 + 2 * i]), resetMs: Math.ceil(Number(reply[3 + 2 * i]) / 1000) };
    }
    return { allowed: Number(reply[0]) === 1, blockedBy: Number(reply[1]), windows };
  }

  /**
   * One script call. On a single Redis it is one Command written straight to the connection, which stays corked
   * until the event loop has run every callback ready now: the calls of all requests that arrived together go out
   * in one socket write. That is what ioredis's auto-pipelining achieves too, but through a Pipeline object, a
   * queue of callbacks and a script lookup per batch: about a third more of the app's CPU per call
   * (bench/RESULTS-more.md, x15). A command timeout counts from here, not from the write at setImmediate, as it
   * did with auto-pipelining, and is kept by one queue for all calls (ScriptCallDeadlines), not a timer per call.
   * Under fake timers that fake setImmediate, the write waits for them to advance.
   * On a Cluster, ioredis's own command routes each call to its slot's node.
   */
  private run(command: 'evalsha' | 'eval', args: Array<string | number>): Promise<number[]> {
    if (this.cluster !== undefined) return this.cluster.agentSecuritySlidingWindow(...(args.slice(1) as [number, ...string[]]));
    const client = this.client as Redis;
    if (this.corked === undefined && client.status === 'ready') {
      const stream = client.stream as Corkable;
      stream.cork();
      this.corked = stream;
      setImmediate(this.uncork);
    }
    const call = new ScriptCall(command, args, this.callOptions, this.deadlines);
    client.sendCommand(call);
    return call.promise;
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
