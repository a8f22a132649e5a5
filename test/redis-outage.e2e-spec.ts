import { Logger, type INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import type { StoreErrorPolicy } from '@agent-security/core';
import type { SlidingWindowStore } from '../libs/agent-security/src/throttling/sliding-window.interface.js';
import { AGENT_SECURITY_STORE } from '../libs/agent-security/src/throttling/throttling.constants.js';
import { bearer, signToken, startDemo } from './support/demo-app';
import { freePort, startRedis, type RedisProcess } from './support/redis-server';
import { onEachPlatform } from './support/platform';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LIMIT = 5;
const tiersEnv = JSON.stringify({ free: { limit: LIMIT, windowMs: 60_000 } });
let seq = 0;
const freshToken = () => signToken({ sub: `outage-${process.pid}-${++seq}` });

async function demoOn(redis: RedisProcess, onStoreError: StoreErrorPolicy, commandTimeoutMs = 50) {
  return startDemo(
    { throttling: { onStoreError, commandTimeoutMs } },
    { REDIS_URL: redis.url, AGENT_SECURITY_TIERS: tiersEnv },
  );
}

async function statusesFor(app: INestApplication, token: string, count: number) {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++)
    statuses.push((await request(app.getHttpServer()).get('/me').set(bearer(token))).status);
  return statuses;
}

onEachPlatform(() => {
  describe('Redis outages', () => {
    let redis: RedisProcess;
    let app: INestApplication | undefined;

    beforeEach(async () => {
      redis = await startRedis();
    });
    afterEach(async () => {
      await app?.close();
      app = undefined;
      await redis.stop();
      jest.restoreAllMocks();
    });

    it('fallback: keeps enforcing limits per instance when Redis dies under a stream of requests, with no 5xx', async () => {
      app = await demoOn(redis, 'fallback');
      const warn = jest.spyOn(Logger.prototype, 'warn');
      const streaming = freshToken();
      const stream: number[] = [];
      const streamer = (async () => {
        for (let i = 0; i < 40; i++) {
          stream.push(
            (
              await request(app!.getHttpServer())
                .get('/me')
                .set(bearer(signToken({ sub: `s-${seq}-${i}` })))
            ).status,
          );
          await sleep(10);
        }
      })();
      await sleep(100);
      await redis.stop();
      await streamer;
      expect(stream.every((status) => status === 200)).toBe(true);

      // Redis is gone: the budget is still held, in this instance's memory.
      const statuses = await statusesFor(app, streaming, LIMIT + 3);
      expect(statuses).toEqual([...Array(LIMIT).fill(200), 429, 429, 429]);
      const ready = await request(app.getHttpServer()).get('/health/ready').expect(503);
      expect(ready.body.rateLimitStore).toMatchObject({
        status: 'down',
        store: 'redis',
        policy: 'fallback',
        enforcedBy: 'memory',
      });
      const losses = warn.mock.calls.filter(([message]) => String(message).includes('Redis unavailable'));
      expect(losses).toHaveLength(1);
    });

    it('allow: lets requests through unlimited while Redis is down, with no 5xx', async () => {
      app = await demoOn(redis, 'allow');
      await redis.stop();
      const statuses = await statusesFor(app, freshToken(), LIMIT * 2);
      expect(statuses).toEqual(Array(LIMIT * 2).fill(200));
    });

    it('deny: answers 503 with a clear body while Redis is down', async () => {
      app = await demoOn(redis, 'deny');
      const token = freshToken();
      await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(200);
      await redis.stop();
      const res = await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(503);
      expect(res.body).toMatchObject({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'Rate limiting is unavailable; try again shortly',
      });
    });

    it('a hung Redis (SIGSTOP) does not hang requests: they answer within the command timeout plus a margin', async () => {
      app = await demoOn(redis, 'fallback', 50);
      const token = freshToken();
      await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(200);
      redis.pause();
      try {
        const timings: number[] = [];
        for (let i = 0; i < 8; i++) {
          const start = Date.now();
          const res = await request(app.getHttpServer()).get('/me').set(bearer(freshToken()));
          timings.push(Date.now() - start);
          expect(res.status).toBe(200);
        }
        // 50 ms command timeout, with a wide margin for a loaded CI machine: this asserts "does not hang"
        // (without the timeout these never answer), not a speed.
        expect(Math.max(...timings)).toBeLessThan(1000);
      } finally {
        redis.resume();
      }
    });

    it('goes back to Redis when it returns, and says so once', async () => {
      app = await demoOn(redis, 'fallback');
      const log = jest.spyOn(Logger.prototype, 'log');
      await redis.stop();
      await request(app.getHttpServer()).get('/me').set(bearer(freshToken())).expect(200);
      await redis.restart();
      const client = new Redis(redis.url);
      try {
        const deadline = Date.now() + 5000;
        let i = 0;
        while (Date.now() < deadline && (await client.keys('agent-security:rl:{user:back-*')).length === 0) {
          await request(app.getHttpServer())
            .get('/me')
            .set(bearer(signToken({ sub: `back-${++i}` })))
            .expect(200);
          await sleep(100);
        }
        // The budget is spent in Redis again.
        expect((await client.keys('agent-security:rl:{user:back-*')).length).toBe(1);
      } finally {
        client.disconnect();
      }
      const ready = await request(app.getHttpServer()).get('/health/ready').expect(200);
      expect(ready.body).toEqual({
        status: 'ok',
        rateLimitStore: { status: 'up', store: 'redis', policy: 'fallback', enforcedBy: 'redis' },
      });
      expect(log.mock.calls.filter(([message]) => String(message).includes('Redis is back'))).toHaveLength(1);
    });

    it('sends the requests of the turn the app is closed in before it closes the connection, not after', async () => {
      const closing = await demoOn(redis, 'deny');
      const store = closing.get<SlidingWindowStore>(AGENT_SECURITY_STORE);
      const rule = { key: `closing-${process.pid}:{c}`, limit: 5, windowMs: 60_000 };
      await store.consume([rule]); // Redis has the script: nothing is left to re-send after a NOSCRIPT
      const pending = store.consume([rule]);
      await closing.close();
      // Sent after QUIT, its batch would fail, and the deny policy would answer 503.
      await expect(pending).resolves.toMatchObject({ allowed: true, windows: [{ totalHits: 2 }] });
    });

    async function readyWithin(target: INestApplication, status: number, ms: number): Promise<number[]> {
      const seen: number[] = [];
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        seen.push((await request(target.getHttpServer()).get('/health/ready')).status);
        if (seen[seen.length - 1] === status) break;
        await sleep(200);
      }
      return seen;
    }

    it('tells the readiness probe Redis is back without any rate-limited request (the probe itself sends none)', async () => {
      app = await demoOn(redis, 'fallback');
      await redis.stop();
      await request(app.getHttpServer()).get('/me').set(bearer(freshToken())).expect(200);
      await request(app.getHttpServer()).get('/health/ready').expect(503);
      await redis.restart();
      // Only the probe from here on: before, it stayed 503 until some request reached the store.
      const seen = await readyWithin(app, 200, 5000);
      expect(seen[seen.length - 1]).toBe(200);
    });

    it('starts down when Redis is not there at start-up, and comes up when it arrives', async () => {
      const port = await freePort();
      app = await startDemo(
        { throttling: { onStoreError: 'deny' } },
        { REDIS_URL: `redis://127.0.0.1:${port}`, AGENT_SECURITY_TIERS: tiersEnv },
      );
      // Before, it said "up, enforced by redis" while every request was refused.
      const ready = await request(app.getHttpServer()).get('/health/ready').expect(503);
      expect(ready.body.rateLimitStore).toMatchObject({ status: 'down', policy: 'deny', enforcedBy: 'refusing' });
      await request(app.getHttpServer()).get('/me').set(bearer(freshToken())).expect(503);
      const late = await startRedis({ port });
      try {
        const seen = await readyWithin(app, 200, 5000);
        expect(seen[seen.length - 1]).toBe(200);
        await request(app.getHttpServer()).get('/me').set(bearer(freshToken())).expect(200);
      } finally {
        await app.close();
        app = undefined;
        await late.stop();
      }
    });
  });
});
