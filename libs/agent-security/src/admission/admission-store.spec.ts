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
const memory: AdmissionStores = { admission: new MemoryAdmissionStore(memoryWindows, memoryUsage), windows: memoryWindows, usage: memoryUsage };
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
    redis = { admission: new RedisAdmissionStore(client), windows: new RedisThrottlerStorage(client), usage: new RedisUsageStore(client) };
  });
  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });
  describeAdmissionContract('redis', () => redis);
});
