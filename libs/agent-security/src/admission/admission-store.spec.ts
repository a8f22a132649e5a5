import { Redis } from 'ioredis';
import { startRedis, type RedisProcess } from '../../../../test/support/redis-server';
import { MemoryThrottlerStorage } from '../throttling/memory-throttler.storage';
import { RedisThrottlerStorage } from '../throttling/redis-throttler.storage';
import { MemoryUsageStore } from '../usage/memory-usage.store';
import { RedisUsageStore } from '../usage/redis-usage.store';
import { describeAdmissionContract, type AdmissionStores } from './admission.contract';
import { MemoryAdmissionStore } from './memory-admission.store';
import { RedisAdmissionStore } from './redis-admission.store';

const memoryWindows = new MemoryThrottlerStorage();
const memoryUsage = new MemoryUsageStore();
const memory: AdmissionStores = {
  admission: new MemoryAdmissionStore(memoryWindows, memoryUsage),
  windows: memoryWindows,
  usage: memoryUsage,
};
afterAll(() => {
  memoryWindows.onApplicationShutdown();
  memoryUsage.onApplicationShutdown();
});
describeAdmissionContract('memory', () => memory);

describe('on Redis', () => {
  let server: RedisProcess;
  let client: Redis;
  let redis: AdmissionStores;
  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url);
    redis = {
      admission: new RedisAdmissionStore(client),
      windows: new RedisThrottlerStorage(client),
      usage: new RedisUsageStore(client),
    };
  });
  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });
  describeAdmissionContract('redis', () => redis);
});

describe('memory admission on a fake clock', () => {
  let now = 1_700_000_000_000;
  const clock = () => now;
  const windows = new MemoryThrottlerStorage({ now: clock });
  const usage = new MemoryUsageStore(clock);
  const store = new MemoryAdmissionStore(windows, usage);
  afterAll(() => {
    windows.onApplicationShutdown();
    usage.onApplicationShutdown();
  });

  it('admits again as the spent budget and the full window slide out, and not a moment before', () => {
    const rules = [{ key: 'rl:{user:clock}', limit: 1, windowMs: 60_000 }];
    const tokens = { key: 'rl:{user:clock}:tokens', limit: 10, windowMs: 60_000 };
    expect(store.admitSync({ windows: rules, tokens }).refused).toBeUndefined();
    usage.putBucket(tokens.key, Math.floor(now / 1000), 10, 60_000); // buckets of 60 000 / 60 ms
    now += 30_000;
    expect(store.admitSync({ windows: rules, tokens })).toMatchObject({
      refused: 'tokens',
      tokensUsed: 10,
      tokensResetMs: 30_000,
    });
    now += 29_999;
    expect(store.admitSync({ windows: rules, tokens }).refused).toBe('tokens');
    now += 1_000; // the token bucket has left the window; the request window's one entry too
    const admitted = store.admitSync({ windows: rules, tokens });
    expect(admitted).toMatchObject({ refused: undefined, tokensUsed: 0 });
    expect(admitted.windows!.windows[0]).toEqual({ totalHits: 1, resetMs: 60_000 });
    now += 59_999;
    expect(store.admitSync({ windows: rules, tokens }).refused).toBe('windows');
  });

  it('frees the reservation of a request that never records once its lease runs out, to the millisecond', () => {
    const tokens = { key: 'rl:{user:crash}:tokens', limit: 300, windowMs: 60_000 };
    const reserve = (id: string) => ({
      key: 'rl:{user:crash}:reserved',
      member: `100:${id}`,
      tokens: 100,
      leaseMs: 30_000,
    });
    for (const id of ['a', 'b', 'c'])
      expect(store.admitSync({ windows: [], tokens, reservation: reserve(id) }).refused).toBeUndefined();
    now += 29_999;
    expect(store.admitSync({ windows: [], tokens, reservation: reserve('d') })).toMatchObject({
      refused: 'tokens',
      tokensReserved: 300,
    });
    now += 1;
    expect(store.admitSync({ windows: [], tokens, reservation: reserve('d') })).toMatchObject({
      refused: undefined,
      tokensReserved: 0,
    });
  });
});
