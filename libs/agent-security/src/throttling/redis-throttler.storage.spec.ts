import { Redis } from 'ioredis';
import { startRedis, type RedisProcess } from '../../../../test/support/redis-server';
import { resolveAgentSecurityConfig } from '../agent-security.config';
import { RedisConnection } from './redis-connection';
import { FailoverStore } from './failover.store';
import { InvalidWindowRuleError } from './invalid-window-rule.error';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import { describeSlidingWindowContract } from './sliding-window.contract';

function commandCalls(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) calls.set(match[1], Number(match[2]));
  return calls;
}

describe('RedisThrottlerStorage (real Redis)', () => {
  let redis: RedisProcess;
  let client: Redis;
  let store: RedisThrottlerStorage;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    store = new RedisThrottlerStorage(client);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  describeSlidingWindowContract('redis', () => store);

  it('keeps one sorted set per window that expires on its own', async () => {
    await store.consume([{ key: 'ttl:{a}', limit: 5, windowMs: 300 }]);
    expect(await client.type('ttl:{a}')).toBe('zset');
    const ttl = await client.pttl('ttl:{a}');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await client.exists('ttl:{a}')).toBe(0);
  });

  it('spends one script call (by SHA) and no other command on a request called alone', async () => {
    await store.consume([{ key: 'warm:{b}', limit: 5, windowMs: 1000 }]);
    const admin = new Redis(redis.url);
    const before = commandCalls(await admin.info('commandstats'));
    for (let i = 0; i < 50; i++) await store.consume([{ key: `calls:{c${i % 5}}`, limit: 1000, windowMs: 60_000 }]);
    const after = commandCalls(await admin.info('commandstats'));
    admin.disconnect();
    const delta = new Map([...after].map(([name, calls]) => [name, calls - (before.get(name) ?? 0)]));
    expect(delta.get('evalsha')).toBe(50);
    expect(delta.get('eval') ?? 0).toBe(0);
    // Everything else is the script's own work inside Redis or the INFO call itself.
    const outside = [...delta].filter(
      ([name, calls]) =>
        calls > 0 &&
        !['evalsha', 'info', 'time', 'zremrangebyscore', 'zcard', 'zadd', 'pexpire', 'zrange'].includes(name),
    );
    expect(outside).toEqual([]);
  });

  it('lets exactly limit of 3 x limit simultaneous requests through from two instances', async () => {
    const other = new Redis(redis.url);
    const second = new RedisThrottlerStorage(other);
    try {
      for (let round = 0; round < 5; round++) {
        const rule = [{ key: `race:{r${round}}`, limit: 25, windowMs: 60_000 }];
        const results = await Promise.all(Array.from({ length: 75 }, (_, i) => (i % 2 ? store : second).consume(rule)));
        expect(results.filter((r) => r.allowed)).toHaveLength(25);
        expect(await client.zcard(`race:{r${round}}`)).toBe(25);
      }
    } finally {
      other.disconnect();
    }
  });

  it('takes time from Redis, not from the app clock', async () => {
    const realNow = Date.now;
    Date.now = () => realNow() + 3_600_000; // an instance an hour ahead
    try {
      const rule = [{ key: 'clock:{d}', limit: 1, windowMs: 2000 }];
      expect((await store.consume(rule)).allowed).toBe(true);
      const refused = await store.consume(rule);
      expect(refused.allowed).toBe(false);
      expect(refused.windows[0].resetMs).toBeGreaterThan(1500);
      expect(refused.windows[0].resetMs).toBeLessThanOrEqual(2000);
    } finally {
      Date.now = realNow;
    }
  });

  it("scores each request at Redis's time to the microsecond, all sixteen digits kept", async () => {
    const micros = async () => {
      const [seconds, fraction] = await client.time();
      return BigInt(seconds) * 1_000_000n + BigInt(fraction);
    };
    const before = await micros();
    for (let i = 0; i < 20; i++) await store.consume([{ key: 'micros:{e}', limit: 100, windowMs: 60_000 }]);
    await store.consume([
      { key: 'micros:{f}', limit: 100, windowMs: 60_000 },
      { key: 'micros:{f}:route', limit: 100, windowMs: 60_000 },
    ]);
    const after = await micros();
    const scores = [
      ...(await client.zrange('micros:{e}', 0, '-1', 'WITHSCORES')),
      ...(await client.zrange('micros:{f}', 0, '-1', 'WITHSCORES')),
      ...(await client.zrange('micros:{f}:route', 0, '-1', 'WITHSCORES')),
    ]
      .filter((_, i) => i % 2 === 1)
      .map((score) => BigInt(score));
    expect(scores).toHaveLength(22);
    for (const score of scores) {
      expect(score >= before && score <= after).toBe(true);
    }
    // Rounded to Lua's 14 significant digits, every score would be a multiple of 100 µs.
    expect(scores.some((score) => score % 100n !== 0n)).toBe(true);
  });

  it('sends the script whole, once, when Redis has lost it (restart, failover, SCRIPT FLUSH)', async () => {
    const rule = [{ key: 'flushed:{g}', limit: 3, windowMs: 60_000 }];
    expect((await store.consume(rule)).allowed).toBe(true);
    const admin = new Redis(redis.url);
    try {
      await admin.script('FLUSH');
      const before = commandCalls(await admin.info('commandstats'));
      const results = await Promise.all([store.consume(rule), store.consume(rule), store.consume(rule)]);
      const after = commandCalls(await admin.info('commandstats'));
      // The NOSCRIPT reply ran nothing; the batch then ran once, whole: exactly the limit is spent.
      expect(results.map((result) => result.allowed)).toEqual([true, true, false]);
      expect(await admin.zcard('flushed:{g}')).toBe(3);
      expect((after.get('eval') ?? 0) - (before.get('eval') ?? 0)).toBe(1);
      expect((await store.consume(rule)).allowed).toBe(false);
    } finally {
      admin.disconnect();
    }
  });

  it('answers each request of a batch as if it had been called alone, in the order the requests came', async () => {
    const rules = (i: number) =>
      i % 3 === 0
        ? [{ key: 'mixed:{m}', limit: 4, windowMs: 60_000 }]
        : [
            { key: 'mixed:{m}', limit: 4, windowMs: 60_000 },
            { key: 'mixed:{m}:route', limit: 3, windowMs: 30_000 },
          ];
    const results = await Promise.all(Array.from({ length: 7 }, (_, i) => store.consume(rules(i))));
    expect(
      results.map(({ allowed, blockedBy, windows }) => [allowed, blockedBy, windows.map((w) => w.totalHits)]),
    ).toEqual([
      [true, -1, [1]],
      [true, -1, [2, 1]],
      [true, -1, [3, 2]],
      [true, -1, [4]],
      // The caller's window is full now: refused by it (index 0), counted nowhere.
      [false, 0, [4, 2]],
      [false, 0, [4, 2]],
      [false, 0, [4]],
    ]);
    for (const { windows } of results) {
      expect(windows[0].resetMs).toBeGreaterThan(59_000);
      expect(windows[0].resetMs).toBeLessThanOrEqual(60_000);
      if (windows[1] !== undefined) expect(windows[1].resetMs).toBeLessThanOrEqual(30_000);
    }
    expect(await client.zcard('mixed:{m}')).toBe(4);
    expect(await client.zcard('mixed:{m}:route')).toBe(2);
  });

  it('writes keys of any bytes as they are: multi-byte characters, CR and LF', async () => {
    const keys = ['utf8:{ünïcødé-用户}', 'crlf:{a\r\nb}'];
    const results = await Promise.all(keys.map((key) => store.consume([{ key, limit: 5, windowMs: 60_000 }])));
    expect(results.map((result) => result.windows[0].totalHits)).toEqual([1, 1]);
    for (const key of keys) expect(await client.zcard(key)).toBe(1);
  });

  it("applies the client's keyPrefix to its keys, as ioredis commands do", async () => {
    const prefixed = new Redis(redis.url, { keyPrefix: 'tenant-a:' });
    try {
      const storage = new RedisThrottlerStorage(prefixed);
      await storage.consume([
        { key: 'pre:{h}', limit: 5, windowMs: 60_000 },
        { key: 'pre:{h}:route', limit: 5, windowMs: 60_000 },
      ]);
      expect(await client.zcard('tenant-a:pre:{h}')).toBe(1);
      expect(await client.zcard('tenant-a:pre:{h}:route')).toBe(1);
      expect(await client.exists('pre:{h}')).toBe(0);
    } finally {
      prefixed.disconnect();
    }
  });

  it('reads the answer of a client created with stringNumbers as numbers', async () => {
    const stringy = new Redis(redis.url, { stringNumbers: true });
    try {
      const storage = new RedisThrottlerStorage(stringy);
      const rule = [{ key: 'strings:{i}', limit: 1, windowMs: 60_000 }];
      expect(await storage.consume(rule)).toEqual({
        allowed: true,
        blockedBy: -1,
        windows: [{ totalHits: 1, resetMs: expect.any(Number) }],
      });
      const refused = await storage.consume(rule);
      expect(refused.allowed).toBe(false);
      expect(refused.blockedBy).toBe(0);
      expect(refused.windows[0].resetMs).toBeGreaterThan(59_000);
    } finally {
      stringy.disconnect();
    }
  });

  /** Socket writes and EVALSHA calls for 50 consume() calls issued in one turn of the event loop. */
  async function oneTurn(storage: RedisThrottlerStorage, prefix: string) {
    const admin = new Redis(redis.url);
    try {
      await storage.consume([{ key: `${prefix}:{warm}`, limit: 1000, windowMs: 60_000 }]);
      // What reaches the kernel: one _write or _writev per socket write, however many write() calls were buffered into it.
      const socket = (storage.client as Redis).stream as unknown as Record<
        '_write' | '_writev',
        (...args: unknown[]) => void
      >;
      const originals = { _write: socket._write, _writev: socket._writev };
      let writes = 0;
      for (const name of ['_write', '_writev'] as const) {
        socket[name] = function (this: unknown, ...args: unknown[]) {
          writes++;
          return originals[name].apply(this, args);
        };
      }
      const before = commandCalls(await admin.info('commandstats'));
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          storage.consume([{ key: `${prefix}:{u${i % 10}}`, limit: 1000, windowMs: 60_000 }]),
        ),
      );
      const after = commandCalls(await admin.info('commandstats'));
      socket._write = originals._write;
      socket._writev = originals._writev;
      expect(results.every((result) => result.allowed)).toBe(true);
      expect(await admin.zcard(`${prefix}:{u3}`)).toBe(5);
      return { writes, scriptCalls: (after.get('evalsha') ?? 0) - (before.get('evalsha') ?? 0) };
    } finally {
      admin.disconnect();
    }
  }

  it('sends the calls of one event-loop turn as one script call, in one socket write', async () => {
    const owning = new RedisThrottlerStorage(redis.url);
    try {
      expect(await oneTurn(owning, 'batch')).toEqual({ writes: 1, scriptCalls: 1 });
    } finally {
      await owning.onApplicationShutdown();
    }
  });

  it('does the same on the connection AgentSecurityModule opens from a URL', async () => {
    const connection = new RedisConnection(
      resolveAgentSecurityConfig({ jwt: { secret: 'x'.repeat(32) }, redis: redis.url }),
    );
    try {
      await connection.onModuleInit();
      expect(await oneTurn(new RedisThrottlerStorage(connection.client!), 'module')).toEqual({
        writes: 1,
        scriptCalls: 1,
      });
    } finally {
      await connection.onApplicationShutdown();
    }
  });

  it('splits a turn of more requests than one script call takes, and still lets exactly the limit through', async () => {
    const admin = new Redis(redis.url);
    try {
      const rule = [{ key: 'many:{n}', limit: 250, windowMs: 60_000 }];
      await store.consume([{ key: 'many:{warm}', limit: 10, windowMs: 60_000 }]);
      const before = commandCalls(await admin.info('commandstats'));
      const results = await Promise.all(Array.from({ length: 300 }, () => store.consume(rule)));
      const after = commandCalls(await admin.info('commandstats'));
      // 128 requests per call at most.
      expect((after.get('evalsha') ?? 0) - (before.get('evalsha') ?? 0)).toBe(3);
      expect(results.map((result) => result.windows[0].totalHits)).toEqual([
        ...Array.from({ length: 250 }, (_, i) => i + 1),
        ...Array(50).fill(250),
      ]);
      expect(results.filter((result) => result.allowed)).toHaveLength(250);
      expect(await admin.zcard('many:{n}')).toBe(250);
    } finally {
      admin.disconnect();
    }
  });

  it('makes each request a script call of its own with batch: false (for a proxy that routes by key)', async () => {
    const unbatched = new RedisThrottlerStorage(client, { batch: false });
    const admin = new Redis(redis.url);
    try {
      const before = commandCalls(await admin.info('commandstats'));
      const results = await Promise.all(
        Array.from({ length: 20 }, () => unbatched.consume([{ key: 'solo:{s}', limit: 15, windowMs: 60_000 }])),
      );
      const after = commandCalls(await admin.info('commandstats'));
      expect((after.get('evalsha') ?? 0) - (before.get('evalsha') ?? 0)).toBe(20);
      expect(results.map((result) => result.windows[0].totalHits)).toEqual([
        ...Array.from({ length: 15 }, (_, i) => i + 1),
        15,
        15,
        15,
        15,
        15,
      ]);
    } finally {
      admin.disconnect();
    }
  });

  it('refuses a window it cannot count before sending anything, and the requests sharing its turn are answered', async () => {
    const good = [{ key: 'bad:{v}', limit: 5, windowMs: 60_000 }];
    const outcomes = await Promise.allSettled([
      store.consume(good),
      store.consume([{ key: 'bad:{v}', limit: 5, windowMs: Number.NaN }]),
      store.consume([{ key: 'bad:{v}', limit: Infinity, windowMs: 1000 }]),
      store.consume(good),
    ]);
    expect(
      outcomes.map((outcome) =>
        outcome.status === 'fulfilled' ? outcome.value.windows[0].totalHits : (outcome.reason as Error).name,
      ),
    ).toEqual([1, 'InvalidWindowRuleError', 'InvalidWindowRuleError', 2]);
    expect(await client.zcard('bad:{v}')).toBe(2);
  });

  it('passes such a refusal on through FailoverStore, which does not take Redis for down', async () => {
    const failover = new FailoverStore(store, new MemoryThrottlerStorage(), 'fallback');
    await expect(failover.consume([{ key: 'bad:{x}', limit: 5, windowMs: -1 }])).rejects.toBeInstanceOf(
      InvalidWindowRuleError,
    );
    expect(failover.status.state).toBe('up');
    expect((await failover.consume([{ key: 'bad:{x}', limit: 5, windowMs: 1000 }])).windows[0].totalHits).toBe(1);
  });

  it('counts a window of a fractional length, rounded up to a whole millisecond', async () => {
    const result = await store.consume([{ key: 'frac:{w}', limit: 5, windowMs: 1500.5 }]);
    expect(result.allowed).toBe(true);
    expect(result.windows[0].resetMs).toBeLessThanOrEqual(1501);
    expect(await client.pttl('frac:{w}')).toBeGreaterThan(1400);
  });

  /** Timers alive in the process now (Node's own count of active Timeout resources). */
  const liveTimers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;

  it("times out a hung Redis with the client's commandTimeout, and keeps no timer per call", async () => {
    const hung = await startRedis();
    const timed = new Redis(hung.url, { commandTimeout: 200, maxRetriesPerRequest: 0 });
    const storage = new RedisThrottlerStorage(timed);
    try {
      await storage.consume([{ key: 'hang:{warm}', limit: 1000, windowMs: 60_000 }]);
      const timersBefore = liveTimers();
      hung.pause();
      const started = performance.now();
      const calls = Array.from({ length: 50 }, (_, i) =>
        storage.consume([{ key: `hang:{u${i}}`, limit: 1000, windowMs: 60_000 }]),
      );
      // ioredis would hold one timer per waiting command here: 50 more.
      expect(liveTimers() - timersBefore).toBeLessThanOrEqual(1);
      const outcomes = await Promise.allSettled(calls);
      const waited = performance.now() - started;
      expect(
        outcomes.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as Error).message : 'answered')),
      ).toEqual(Array(50).fill('Command timed out'));
      // Not before the client's timeout; and at all (a hung Redis must not hang the request).
      expect(waited).toBeGreaterThanOrEqual(195);
      hung.resume();
      // The late replies to the timed-out calls are dropped; the next calls get their own answers.
      const next = await Promise.all(
        [1, 2, 3].map(() => storage.consume([{ key: 'hang:{after}', limit: 2, windowMs: 60_000 }])),
      );
      expect(next.map((result) => result.allowed)).toEqual([true, true, false]);
      expect(next.map((result) => result.windows[0].totalHits)).toEqual([1, 2, 2]);
    } finally {
      hung.resume();
      timed.disconnect();
      await hung.stop();
    }
  });

  it('does not time out calls that are answered, however long the client lives after them', async () => {
    const timed = new Redis(redis.url, { commandTimeout: 100 });
    const storage = new RedisThrottlerStorage(timed);
    try {
      for (let round = 0; round < 3; round++) {
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            storage.consume([{ key: `answered:{u${i % 3}}`, limit: 1000, windowMs: 60_000 }]),
          ),
        );
        expect(results.every((result) => result.allowed)).toBe(true);
        // Past the timeout of every call above: the deadline queue must find them all answered.
        await new Promise((resolve) => setTimeout(resolve, 120));
      }
      expect(await timed.zcard('answered:{u0}')).toBe(30);
    } finally {
      timed.disconnect();
    }
  });

  /** Keeps the event loop busy, as a long synchronous task, a GC pause or a stalled VM does. */
  const blockEventLoop = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };

  it('reads a reply that arrived while the event loop was blocked past the timeout, instead of timing it out', async () => {
    const timed = new Redis(redis.url, { commandTimeout: 50 });
    const storage = new RedisThrottlerStorage(timed);
    try {
      await storage.consume([{ key: 'stall:{warm}', limit: 1000, windowMs: 60_000 }]);
      const pending = storage.consume([{ key: 'stall:{a}', limit: 1000, windowMs: 60_000 }]);
      // The call leaves at setImmediate; Redis answers within a millisecond, but nothing reads the socket meanwhile.
      await new Promise((resolve) => setImmediate(resolve));
      blockEventLoop(200);
      // Timers run before the loop reads its sockets: the reply is there, unread, when the deadline is checked.
      await expect(pending).resolves.toMatchObject({ allowed: true, windows: [{ totalHits: 1 }] });
    } finally {
      timed.disconnect();
    }
  });

  it('still times out a hung Redis when the event loop was blocked, one timeout after it frees', async () => {
    const hung = await startRedis();
    const timed = new Redis(hung.url, { commandTimeout: 50, maxRetriesPerRequest: 0 });
    const storage = new RedisThrottlerStorage(timed);
    try {
      await storage.consume([{ key: 'stall:{warm}', limit: 1000, windowMs: 60_000 }]);
      hung.pause();
      const pending = storage.consume([{ key: 'stall:{b}', limit: 1000, windowMs: 60_000 }]);
      await new Promise((resolve) => setImmediate(resolve));
      blockEventLoop(200);
      const freed = performance.now();
      await expect(pending).rejects.toThrow('Command timed out');
      // Not at once (the reply could have been waiting), and at all.
      expect(performance.now() - freed).toBeGreaterThanOrEqual(45);
    } finally {
      hung.resume();
      timed.disconnect();
      await hung.stop();
    }
  });

  it('sends its open batch when the app begins to shut down, also from behind FailoverStore, before any hook quits', async () => {
    const closing = new Redis(redis.url);
    const failover = new FailoverStore(new RedisThrottlerStorage(closing), new MemoryThrottlerStorage(), 'deny');
    const rule = { key: 'shutdown:{f}', limit: 5, windowMs: 60_000 };
    await failover.consume([rule]); // Redis has the script: nothing to re-send after a NOSCRIPT
    const pending = failover.consume([rule]);
    const before = failover.beforeApplicationShutdown();
    const quit = before.then(() => closing.quit());
    // Left for the setImmediate after QUIT, the batch would fail, and the deny policy would answer 503.
    await expect(pending).resolves.toMatchObject({ allowed: true, windows: [{ totalHits: 2 }] });
    await quit;
  });

  it('waits at shutdown for a call answered NOSCRIPT to be sent again, before any hook quits', async () => {
    const closing = new Redis(redis.url);
    const failover = new FailoverStore(new RedisThrottlerStorage(closing), new MemoryThrottlerStorage(), 'deny');
    await client.script('FLUSH'); // as after a restart or a failover: the EVALSHA is answered NOSCRIPT
    const pending = failover.consume([{ key: 'shutdown:{n}', limit: 5, windowMs: 60_000 }]);
    await failover.beforeApplicationShutdown();
    await closing.quit();
    // Sent again after QUIT, the EVAL would fail, and the deny policy would answer 503.
    await expect(pending).resolves.toMatchObject({ allowed: true, windows: [{ totalHits: 1 }] });
  });

  it('takes a client made by another copy of ioredis for a client, not for options to open a connection with', async () => {
    let Foreign!: typeof Redis;
    // A module registry of its own: another copy of ioredis, as a second version in node_modules would be.
    jest.isolateModules(() => {
      Foreign = (require('ioredis') as typeof import('ioredis')).Redis;
    });
    expect(Foreign).not.toBe(Redis);
    const foreign = new Foreign(redis.url);
    try {
      const onForeign = new RedisThrottlerStorage(foreign as unknown as Redis);
      expect(onForeign.client).toBe(foreign);
      await onForeign.consume([{ key: 'foreign:{g}', limit: 2, windowMs: 60_000 }]);
      expect(await client.zcard('foreign:{g}')).toBe(1);
      const connection = new RedisConnection(
        resolveAgentSecurityConfig({ jwt: { secret: 'x'.repeat(32) }, redis: foreign as unknown as Redis }),
      );
      expect(connection.client).toBe(foreign);
    } finally {
      foreign.disconnect();
    }
  });

  it('closes only a connection it opened', async () => {
    const borrowed = new Redis(redis.url);
    const onBorrowed = new RedisThrottlerStorage(borrowed);
    await onBorrowed.onApplicationShutdown();
    expect(await borrowed.ping()).toBe('PONG');
    borrowed.disconnect();

    const owning = new RedisThrottlerStorage(redis.url);
    await owning.consume([{ key: 'own:{e}', limit: 1, windowMs: 1000 }]);
    const ended = new Promise((resolve) => owning.client.once('end', resolve));
    await owning.onApplicationShutdown();
    await ended;
    expect(owning.client.status).toBe('end');
  });
});
