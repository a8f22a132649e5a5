import { Redis } from 'ioredis';
import { startRedis, type RedisProcess } from '../../../../test/support/redis-server';
import { FailoverStore } from '../throttling/failover.store';
import { MemoryThrottlerStorage } from '../throttling/memory-throttler.storage';
import { RedisThrottlerStorage } from '../throttling/redis-throttler.storage';
import { FailoverUsageStore } from './failover-usage.store';
import { MemoryUsageStore } from './memory-usage.store';
import { RedisUsageStore } from './redis-usage.store';
import type { UsageStore } from './usage-store.interface';

/** The real Redis store, counting what is asked of it. */
function counting(store: UsageStore): UsageStore & { calls: number } {
  const counted = { calls: 0 } as UsageStore & { calls: number };
  for (const method of ['tokens', 'recordTokens', 'acquireStream', 'renewStream', 'releaseStream'] as const) {
    (counted as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      counted.calls++;
      return (store[method] as (...a: unknown[]) => Promise<unknown>).apply(store, args);
    };
  }
  return counted;
}

describe('FailoverUsageStore shares Redis’s down-state with the request windows', () => {
  let redis: RedisProcess;
  let client: Redis;
  let windows: FailoverStore;
  let memory: MemoryThrottlerStorage;

  beforeEach(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { commandTimeout: 100, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    await new Promise((resolve) => client.once('ready', resolve));
    memory = new MemoryThrottlerStorage();
    windows = new FailoverStore(new RedisThrottlerStorage(client), memory, 'fallback', 60_000);
  });
  afterEach(async () => {
    redis.resume();
    await windows?.beforeApplicationShutdown();
    memory?.onApplicationShutdown();
    client.disconnect();
    await redis.stop();
  });

  it('marks Redis down for both when a usage call fails, so the readiness state sees it', async () => {
    const usage = new FailoverUsageStore(new RedisUsageStore(client), new MemoryUsageStore(), 'fallback', windows);
    await usage.recordTokens('u:{a}', 10, 60_000);
    redis.pause();
    await expect(usage.tokens('u:{a}', 60_000)).resolves.toEqual({ used: 0, resetMs: 0 });
    expect(windows.status).toMatchObject({ state: 'down' });
  });

  it('asks Redis nothing while the request windows know it is down, under every policy', async () => {
    for (const policy of ['fallback', 'allow', 'deny'] as const) {
      const primary = counting(new RedisUsageStore(client));
      const usage = new FailoverUsageStore(primary, new MemoryUsageStore(), policy, windows);
      redis.pause();
      windows.markDown('paused');
      const outcomes = await Promise.allSettled([
        usage.tokens('u:{b}', 60_000),
        usage.acquireStream('s:{b}', 'lease', 1, 30_000),
        usage.recordTokens('u:{b}', 5, 60_000),
        usage.renewStream('s:{b}', 'lease', 30_000),
        usage.releaseStream('s:{b}', 'lease'),
      ]);
      expect(primary.calls).toBe(0);
      const refused = outcomes
        .filter((outcome) => outcome.status === 'rejected')
        .map((outcome) => (outcome as PromiseRejectedResult).reason.getStatus());
      expect(refused).toEqual(policy === 'deny' ? [503, 503] : []);
    }
  });
});
