import type { BeforeApplicationShutdown, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { createHash, randomBytes } from 'crypto';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { InvalidWindowRuleError } from './invalid-window-rule.error.js';
import { isRedisClient } from './redis-client.js';
import { CONNECT_WAIT_MS, DEFAULT_COMMAND_TIMEOUT_MS, openRedisConnection, whenReady } from './redis-connection.js';
import { bulkAscii, bulkString, ScriptCall, ScriptCallDeadlines } from './script-call.js';
import { toThrottlerRecord, type ThrottlerStorageRecord } from './throttler-record.js';
import type { ConsumeResult, SlidingWindowStore, WindowRule, WindowState } from './sliding-window.interface.js';
import { SLIDING_WINDOW_SCRIPT } from './sliding-window.script.js';

const SCRIPT_SHA = createHash('sha1').update(SLIDING_WINDOW_SCRIPT).digest('hex');

/**
 * The script's command on a Cluster client (`defineCommand`: called by SHA, re-sent only after a NOSCRIPT). Named for
 * this script's version, so that two versions of the library sharing one client each call their own.
 */
const CLUSTER_COMMAND = `agentSecuritySlidingWindow_${SCRIPT_SHA.slice(0, 12)}`;
/** ioredis's form of it that answers a Buffer. */
type ClusterCall = (numKeys: number, ...args: Array<string | number>) => Promise<Buffer>;

/**
 * Requests per script call at most: Redis runs a script to its end before it serves anyone else, so a batch is
 * kept short (each request is a few microseconds of Redis's time).
 */
const MAX_BATCH = 128;

/** How long the shutdown waits for script calls in flight when Redis does not answer them. */
const SHUTDOWN_WAIT_MS = 1000;

/** The first arguments of the two ways to call the script, in RESP. */
const EVALSHA = `$7\r\nevalsha\r\n${bulkAscii(SCRIPT_SHA)}`;
const EVAL = `$4\r\neval\r\n${bulkString(SLIDING_WINDOW_SCRIPT)}`;
/** A request's number of windows as an argument; 1 or 2 from the tier guard. */
const WINDOW_COUNTS = Array.from({ length: 10 }, (_, n) => bulkAscii(String(n)));

/** The requests of one event-loop turn, sent as one script call. */
class Batch {
  /** The script's KEYS so far, in RESP: the windows of every request, request after request. */
  keys = '';
  keyCount = 0;
  /** Its ARGV so far, in RESP, per request: number of windows, member, then limit and window per window. */
  argv = '';
  argCount = 0;
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

export interface RedisThrottlerStorageOptions {
  /**
   * Send the requests of one event-loop turn as one script call (default true). A batch holds the keys of many
   * callers, in many hash slots: set it to false when a standalone client talks to a proxy that routes each command
   * by its keys (Envoy, twemproxy, a managed Redis without the cluster API), so that each request is a call of its
   * own. An ioredis `Cluster` client never batches: ioredis routes each request to its slot's node.
   */
  batch?: boolean;
  /**
   * Per-command timeout, in ms, of a connection the storage opens itself (from a URL or options); default 50, as the
   * module's. It opens that connection with the module's fail-fast defaults (no offline queue, no retries of a
   * command); ioredis options given override them. A client passed in is used as it is.
   */
  commandTimeoutMs?: number;
}

/**
 * Exact sliding-window storage on Redis: one sorted set per window, one script call per batch of requests (at
 * most one per request). Usable on its own in a plain `ThrottlerModule` (`storage: new RedisThrottlerStorage(redis)`).
 * Every key of one `consume` must be in one hash slot when the client is a Cluster.
 */
export class RedisThrottlerStorage
  implements ThrottlerStorage, SlidingWindowStore, OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown
{
  readonly client: Redis | Cluster;
  private readonly owned: boolean;
  /**
   * A connection it opened that is not ready yet: without an offline queue a call made now would fail at once, so
   * calls wait for it, one command timeout at most from when it was opened.
   */
  private connecting: Promise<unknown> | undefined;
  // Unique per process and per request: members never collide, even for the same microsecond on two instances.
  private readonly instanceId = randomBytes(6).toString('base64url');
  private sequence = 0;
  /** The client's key prefix, put before every key as ioredis's own commands do. */
  private readonly keyPrefix: string;
  /** Per window length: its limit and window as the script's arguments, in RESP (built again only when the limit changes). */
  private readonly windowArgs = new Map<number, { limit: number; resp: string }>();
  private readonly deadlines = new ScriptCallDeadlines();
  /** The script's command on the Cluster client, when it is one (decided once, not on every call). */
  private readonly clusterCall: ClusterCall | undefined;
  /** Requests per script call at most: 1 when batching is off. */
  private readonly maxBatch: number;
  /** Script calls sent and not yet answered (a NOSCRIPT's second call included), for the shutdown to wait for. */
  private inFlight = 0;
  private drained: (() => void) | undefined;
  /** The batch still taking requests, sent at setImmediate (or when full). */
  private batch: Batch | undefined;
  private readonly sendOpenBatch = () => {
    const batch = this.batch;
    if (batch === undefined) return;
    this.batch = undefined;
    batch.settle(this.send(batch));
  };

  constructor(redis: Redis | Cluster | string | RedisOptions, options: RedisThrottlerStorageOptions = {}) {
    this.maxBatch = options.batch === false ? 1 : MAX_BATCH;
    if (isRedisClient(redis)) {
      this.client = redis;
      this.owned = false;
    } else {
      // The module's own fail-fast defaults: with ioredis's (no command timeout, an offline queue), a hung Redis would
      // hold every throttled request for ever.
      const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
      this.client = openRedisConnection(redis, commandTimeoutMs);
      this.owned = true;
      this.connecting = whenReady(this.client, commandTimeoutMs).then(() => {
        this.connecting = undefined;
      });
    }
    const client = this.client;
    if (!client.isCluster) {
      this.keyPrefix = String((client as Redis).options.keyPrefix ?? '');
      this.clusterCall = undefined;
    } else {
      this.keyPrefix = '';
      const commands = client as unknown as Record<string, ClusterCall | undefined>;
      if (typeof commands[`${CLUSTER_COMMAND}Buffer`] !== 'function')
        client.defineCommand(CLUSTER_COMMAND, { lua: SLIDING_WINDOW_SCRIPT });
      this.clusterCall = commands[`${CLUSTER_COMMAND}Buffer`]!.bind(client);
    }
  }

  /** In a Nest app (a plain ThrottlerModule's `storage`), start-up waits for a connection it opened, as the module's does. */
  async onModuleInit(): Promise<void> {
    if (this.owned) await whenReady(this.client, CONNECT_WAIT_MS);
  }

  async consume(rules: readonly WindowRule[]): Promise<ConsumeResult> {
    if (this.connecting !== undefined) await this.connecting;
    const n = rules.length;
    // Checked before anything joins a batch: a value the script cannot count would fail every request in its call.
    for (let i = 0; i < n; i++) {
      const { limit, windowMs } = rules[i];
      if (!(limit >= 0 && limit < Infinity && windowMs >= 1 && windowMs < Infinity))
        throw new InvalidWindowRuleError(rules[i]);
    }
    const member = `${this.instanceId}:${++this.sequence}`;
    let reply: Buffer;
    let at = 0;
    if (this.clusterCall !== undefined) {
      // Each call to its own slot's node, routed by ioredis: a batch of one.
      const args: Array<string | number> = [n];
      for (let i = 0; i < n; i++) args.push(rules[i].key);
      args.push(n, member);
      for (let i = 0; i < n; i++) args.push(rules[i].limit, Math.ceil(rules[i].windowMs));
      reply = await this.clusterCall(...(args as [number, ...string[]]));
    } else {
      let batch = this.batch;
      if (batch === undefined) {
        batch = this.batch = new Batch();
        if (this.maxBatch > 1) setImmediate(this.sendOpenBatch);
      }
      at = batch.replyBytes;
      batch.replyBytes += 8 + 16 * n;
      let keys = batch.keys;
      let argv = batch.argv + (WINDOW_COUNTS[n] ?? bulkAscii(String(n))) + bulkAscii(member);
      for (let i = 0; i < n; i++) {
        const rule = rules[i];
        keys += bulkString(this.keyPrefix === '' ? rule.key : this.keyPrefix + rule.key);
        argv += this.windowArguments(rule.limit, rule.windowMs);
      }
      batch.keys = keys;
      batch.argv = argv;
      batch.keyCount += n;
      batch.argCount += 2 + 2 * n;
      if (++batch.size === this.maxBatch) this.sendOpenBatch();
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
   * Pipeline object, a queue of callbacks and a script lookup per batch (the bench's row x15 measures it). A command
   * timeout counts from here and is kept by one queue for all calls (ScriptCallDeadlines), not a timer per call.
   * Under fake timers that fake setImmediate, the call waits for them to advance.
   */
  private async send(batch: Batch): Promise<Buffer> {
    // EVALSHA sha numkeys key... arg...: the script's KEYS and ARGV after three arguments of the call's own.
    const rest = `${bulkAscii(String(batch.keyCount))}${batch.keys}${batch.argv}`;
    const head = `*${3 + batch.keyCount + batch.argCount}\r\n`;
    this.inFlight++;
    try {
      return await this.call('evalsha', head + EVALSHA + rest);
    } catch (error) {
      // A Redis restarted, failed over or flushed has lost the script; NOSCRIPT means it did not run, so send it whole once.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.call('eval', head + EVAL + rest);
    } finally {
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  private call(command: 'evalsha' | 'eval', resp: string): Promise<Buffer> {
    const call = new ScriptCall(command, resp, this.deadlines);
    (this.client as Redis).sendCommand(call);
    return call.promise as Promise<Buffer>;
  }

  /** A window's limit and length (in whole milliseconds, as PEXPIRE takes them) as the script's two arguments. */
  private windowArguments(limit: number, windowMs: number): string {
    const known = this.windowArgs.get(windowMs);
    if (known !== undefined && known.limit === limit) return known.resp;
    const resp = bulkAscii(String(limit)) + bulkAscii(String(Math.ceil(windowMs)));
    // Tiers and routes give a handful of distinct windows; a resolver that made a new one per request must not grow this.
    if (this.windowArgs.size >= 256) this.windowArgs.clear();
    this.windowArgs.set(windowMs, { limit, resp });
    return resp;
  }

  /**
   * `@nestjs/throttler`'s storage call. The window is keyed by the key and the throttler's name: a `generateKey`
   * that leaves the name out (one budget per user) must not give two throttlers (`short`, `long`) one sorted set,
   * pruned with each other's ttl. In a sliding window a caller is blocked exactly until a slot frees, so
   * `blockDuration` is not used: refused requests are not counted and block nothing further. A closed route
   * (`limit: 0`) has no slot to free: it is blocked for a whole window, as the module's own guard answers it.
   */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    _blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    if (limit === 0 && ttl >= 1 && ttl < Infinity) {
      const seconds = Math.ceil(ttl / 1000);
      return { totalHits: 0, timeToExpire: seconds, isBlocked: true, timeToBlockExpire: seconds };
    }
    return toThrottlerRecord(await this.consume([{ key: `${key}:${throttlerName}`, limit, windowMs: ttl }]));
  }

  /**
   * Requests of this turn go out before any shutdown hook closes the connection (the module's own closes it), and
   * the calls in flight are waited for: one answered NOSCRIPT is sent again, and that must not come after QUIT. A
   * Redis that does not answer holds the shutdown for a second at most.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.sendOpenBatch();
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const cap = setTimeout(resolve, SHUTDOWN_WAIT_MS);
      cap.unref();
      this.drained = () => {
        clearTimeout(cap);
        this.drained = undefined;
        resolve();
      };
    });
  }

  async onApplicationShutdown(): Promise<void> {
    // Requests of this turn go out before QUIT, not after it.
    this.sendOpenBatch();
    if (!this.owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
