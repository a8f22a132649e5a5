import { Redis } from 'ioredis';
import { startRedis, type RedisProcess } from '../../../../test/support/redis-server';
import { MemoryUsageStore } from './memory-usage.store';
import { RedisUsageStore } from './redis-usage.store';
import type { UsageStore } from './usage-store.interface';
import { MAX_TOKENS, UsageMeter } from './usage-meter';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Both usage stores: same inputs, same answers. */
function describeUsageStore(name: string, getStore: () => UsageStore) {
  let seq = 0;
  const key = () => `usage-contract:{${name}-${++seq}}`;

  describe(`${name} usage store`, () => {
    it('sums tokens over a sliding window of buckets and lets them age out', async () => {
      const k = key();
      const started = performance.now();
      await getStore().recordTokens(k, 7, 600);
      await getStore().recordTokens(k, 5, 600);
      const now = await getStore().tokens(k, 600);
      const elapsed = performance.now() - started;
      expect(now.used).toBe(12);
      // The first bucket leaves the window 600 ms after it was written, to one bucket (10 ms): however slow the machine was meanwhile.
      expect(now.resetMs).toBeGreaterThan(600 - elapsed - 20);
      expect(now.resetMs).toBeLessThanOrEqual(610);
      await sleep(320);
      await getStore().recordTokens(k, 1, 600);
      await sleep(320);
      // The first two aged out (to the precision of one bucket, window / 60); the last has not.
      expect((await getStore().tokens(k, 600)).used).toBe(1);
    });

    it('reports an empty window as zero', async () => {
      expect(await getStore().tokens(key(), 1000)).toEqual({ used: 0, resetMs: 0 });
    });

    it('holds at most max stream leases, frees released ones and expires abandoned ones', async () => {
      const k = key();
      expect(await getStore().acquireStream(k, 'a', 2, 300)).toBe(true);
      expect(await getStore().acquireStream(k, 'b', 2, 300)).toBe(true);
      expect(await getStore().acquireStream(k, 'c', 2, 300)).toBe(false);
      await getStore().releaseStream(k, 'a');
      expect(await getStore().acquireStream(k, 'c', 2, 300)).toBe(true);
      await sleep(200);
      await getStore().renewStream(k, 'c', 300);
      await sleep(150); // b has expired, c was renewed
      expect(await getStore().acquireStream(k, 'd', 2, 300)).toBe(true);
      expect(await getStore().acquireStream(k, 'e', 2, 300)).toBe(false);
    });

    it('puts back a lease lost while its stream still runs (expired during an outage, or Redis lost it), so it counts again', async () => {
      const k = key();
      expect(await getStore().acquireStream(k, 'a', 1, 100)).toBe(true);
      await sleep(150); // the renewal could not reach the store meanwhile: the lease expired
      await getStore().renewStream(k, 'a', 300);
      expect(await getStore().acquireStream(k, 'b', 1, 300)).toBe(false);
    });

    it('takes a count too large for Redis as the most a request records, so the caller is charged instead of not at all', async () => {
      const k = key();
      const meter = new UsageMeter();
      meter.add({ inputTokens: 1e21, outputTokens: 2 ** 64 });
      expect(meter.total).toBe(MAX_TOKENS);
      await getStore().recordTokens(k, meter.total, 60_000);
      expect((await getStore().tokens(k, 60_000)).used).toBe(MAX_TOKENS);
    });
  });
}

describe('Usage stores', () => {
  let redis: RedisProcess;
  let client: Redis;
  const memory = new MemoryUsageStore();

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    memory.onApplicationShutdown();
    client.disconnect();
    await redis.stop();
  });

  describeUsageStore('memory', () => memory);
  describeUsageStore('redis', () => new RedisUsageStore(client));

  it('keeps one caller bounded in Redis: at most one hash field a bucket, whatever the traffic', async () => {
    const store = new RedisUsageStore(client);
    for (let i = 0; i < 500; i++) await store.recordTokens('bounded:{x}', 3, 60_000);
    expect(await client.hlen('bounded:{x}')).toBeLessThanOrEqual(2);
    const ttl = await client.pttl('bounded:{x}');
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(61_000);
  });
});
