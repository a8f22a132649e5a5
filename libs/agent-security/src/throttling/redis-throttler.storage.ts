import type { OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { createHash, randomBytes } from 'crypto';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ScriptCall, ScriptCallDeadlines } from './script-call.js';
import { toThrottlerRecord, type ThrottlerStorageRecord } from './throttler-record.js';
import type { ConsumeResult, SlidingWindowStore, WindowRule, WindowState } from './sliding-window.interface.js';
import { SLIDING_WINDOW_SCRIPT } from './sliding-window.script.js';

/** The script registered on a Cluster by `defineCommand` (its Buffer-reply form): called by SHA, re-sent only after a NOSCRIPT. */
interface WithSlidingWindow {
  agentSecuritySlidingWindowBuffer(numKeys: number, ...args: Array<string | number>): Promise<Buffer>;
}

const SCRIPT_SHA = createHash('sha1').update(SLIDING_WINDOW_SCRIPT).digest('hex');

/**
 * Requests per script call at most: Redis runs a script to its end before it serves anyone else, so a batch is
 * kept short (each request is a few microseconds of Redis's time).
 */
const MAX_BATCH = 128;

/** The requests of one event-loop turn, sent as one script call. */
class Batch {
  readonly keys: string[] = [];
  /** Per request: number of windows, member, then limit and window per window (the script's ARGV). */
  readonly argv: Array<string | number> = [];
  size = 0;
  /** Bytes of the reply taken by the requests so far: 8 × (1 + 2n) each. */
  replyBytes = 0;
  /** The script's reply for every request of the batch; each reads its own part. */
  readonly reply: Promise<Buffer>;
  settle!: (reply: Promise<Buffer>) => void;

  constructor() {
    this.reply = new Promise((resolve) => {
      this.settle = resolve;
    });
  }
}

/**
 * Exact sliding-window storage on Redis: one sorted set per window, one script call per batch of requests (at
 * most one per request). Usable on its own in a plain `ThrottlerModule` (`storage: new RedisThrottlerStorage(redis)`).
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
  /** The batch still taking requests, sent at setImmediate (or when full). */
  private batch: Batch | undefined;
  private readonly sendOpenBatch = () => {
    const batch = this.batch;
    if (batch === undefined) return;
    this.batch = undefined;
    batch.settle(this.send(batch));
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
      if (typeof (client as Cluster & Partial<WithSlidingWindow>).agentSecuritySlidingWindowBuffer !== 'function') {
        client.defineCommand('agentSecuritySlidingWindow', { lua: SLIDING_WINDOW_SCRIPT });
      }
    }
  }

  async consume(rules: readonly WindowRule[]): Promise<ConsumeResult> {
    const n = rules.length;
    const member = `${this.instanceId}:${++this.sequence}`;
    let reply: Buffer;
    let at = 0;
    if (this.cluster !== undefined) {
      // Each call to its own slot's node, routed by ioredis: a batch of one.
      const args: Array<string | number> = [n];
      for (let i = 0; i < n; i++) args.push(rules[i].key);
      args.push(n, member);
      for (let i = 0; i < n; i++) args.push(rules[i].limit, rules[i].windowMs);
      reply = await this.cluster.agentSecuritySlidingWindowBuffer(...(args as [number, ...string[]]));
    } else {
      let batch = this.batch;
      if (batch === undefined) {
        batch = this.batch = new Batch();
        setImmediate(this.sendOpenBatch);
      }
      const { keys, argv } = batch;
      at = batch.replyBytes;
      batch.replyBytes += 8 + 16 * n;
      argv.push(n, member);
      for (let i = 0; i < n; i++) {
        keys.push(rules[i].key);
        argv.push(rules[i].limit, rules[i].windowMs);
      }
      if (++batch.size === MAX_BATCH) this.sendOpenBatch();
      reply = await batch.reply;
    }
    const blockedBy = reply.readDoubleLE(at);
    const windows: WindowState[] = new Array(n);
    for (let i = 0, p = at + 8; i < n; i++, p += 16) {
      windows[i] = { totalHits: reply.readDoubleLE(p), resetMs: Math.ceil(reply.readDoubleLE(p + 8) / 1000) };
    }
    return { allowed: blockedBy === -1, blockedBy, windows };
  }

  /**
   * One script call for a batch: a Command written straight to the connection, in one socket write. ioredis's
   * auto-pipelining would also put the calls of one turn in one write, but each still a command of its own, through a
   * Pipeline object, a queue of callbacks and a script lookup per batch (bench/RESULTS-more.md, x15). A command
   * timeout counts from here and is kept by one queue for all calls (ScriptCallDeadlines), not a timer per call.
   * Under fake timers that fake setImmediate, the call waits for them to advance.
   */
  private async send(batch: Batch): Promise<Buffer> {
    const keys = batch.keys;
    const args: Array<string | number> = [SCRIPT_SHA, keys.length, ...keys, ...batch.argv];
    try {
      return await this.call('evalsha', args);
    } catch (error) {
      // A Redis restarted, failed over or flushed has lost the script; NOSCRIPT means it did not run, so send it whole once.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      args[0] = SLIDING_WINDOW_SCRIPT;
      return this.call('eval', args);
    }
  }

  private call(command: 'evalsha' | 'eval', args: Array<string | number>): Promise<Buffer> {
    const call = new ScriptCall(command, args, this.callOptions, this.deadlines);
    (this.client as Redis).sendCommand(call);
    return call.promise as Promise<Buffer>;
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
