import type { INestApplication } from '@nestjs/common';
import { Controller, Get, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import request from 'supertest';
import { AgentSecurityModule, Throttle } from '@agent-security/core';
import { bearer, signToken, startDemo, TEST_SECRET } from './support/demo-app';
import { startRedis, type RedisProcess } from './support/redis-server';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let userSeq = 0;
/** A fresh caller per test, so budgets never leak between tests. */
const freshUser = (tier = 'free') => ({ token: signToken({ sub: `user-${process.pid}-${++userSeq}`, tier }), tier });

onEachPlatform(() => {
  describe('Tiered sliding-window rate limiting on Redis (e2e, demo app)', () => {
    let redis: RedisProcess;
    let app: INestApplication;
    let client: Redis;
    const tiers = {
      free: { limit: 3, windowMs: 2000 },
      pro: { limit: 6, windowMs: 2000 },
      slow: { limit: 1, windowMs: 10_000 },
      closed: { limit: 0, windowMs: 30_000 },
    };

    beforeAll(async () => {
      redis = await startRedis();
      client = new Redis(redis.url);
      app = await startDemo({}, { REDIS_URL: redis.url, AGENT_SECURITY_TIERS: JSON.stringify(tiers) });
    });
    afterAll(async () => {
      await app?.close();
      client?.disconnect();
      await redis?.stop();
    });

    const me = (token: string) => request(app.getHttpServer()).get('/me').set(bearer(token));

    it('allows exactly the limit, then answers 429 with the body and headers', async () => {
      const { token } = freshUser();
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await me(token).expect(200);
        remaining.push(res.headers['x-ratelimit-remaining']);
        expect(res.headers['x-ratelimit-limit']).toBe('3');
        expect(res.headers['ratelimit-policy']).toBe('"free";q=3;w=2');
        expect(res.headers['ratelimit']).toMatch(/^"free";r=\d;t=\d+$/);
      }
      expect(remaining).toEqual(['2', '1', '0']);
      const refused = await me(token).expect(429);
      expect(refused.body).toMatchObject({
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'Rate limit exceeded',
        limit: 3,
        window: '2s',
        tier: 'free',
      });
      expect(refused.body.retryAfter).toBeGreaterThanOrEqual(1);
      expect(refused.headers['retry-after']).toBe(String(refused.body.retryAfter));
      expect(refused.headers['x-ratelimit-remaining']).toBe('0');
      expect(refused.headers['ratelimit']).toMatch(/^"free";r=0;t=\d+$/);
    });

    it('does not count rejected requests: a client that keeps retrying gets back in when the window slides', async () => {
      const { token } = freshUser();
      for (let i = 0; i < 3; i++) await me(token).expect(200);
      const deadline = Date.now() + 1500;
      let refusals = 0;
      while (Date.now() < deadline) {
        await me(token).expect(429);
        refusals++;
        await sleep(50);
      }
      expect(refusals).toBeGreaterThan(10);
      await sleep(2100 - 1500);
      // Only the three allowed requests were ever counted: they have aged out, so the budget is whole again.
      for (let i = 0; i < 3; i++) await me(token).expect(200);
      await me(token).expect(429);
    });

    it('slides: requests become allowed one by one as old ones age out', async () => {
      const { token } = freshUser();
      const start = Date.now();
      await me(token).expect(200); // t0
      await sleep(700);
      await me(token).expect(200); // t0 + 0.7 s
      await me(token).expect(200);
      await me(token).expect(429);
      await sleep(start + 2100 - Date.now());
      await me(token).expect(200); // the first has left the window
      await me(token).expect(429); // the two from t0 + 0.7 s have not
      await sleep(start + 2800 - Date.now());
      await me(token).expect(200);
    });

    it('sets Retry-After to when the oldest counted request leaves the window, right to the second', async () => {
      const { token } = freshUser('slow');
      await me(token).expect(200);
      await sleep(2200);
      const refused = await me(token).expect(429);
      // 10 s window, 2.2 s gone: the slot frees in 7.8 s, so 8 (not the whole window).
      expect(refused.headers['retry-after']).toBe('8');
      expect(refused.body.retryAfter).toBe(8);
      expect(refused.body.window).toBe('10s');
    });

    it('tells a tier with a limit of 0 to come back after a whole window, not every second', async () => {
      const { token } = freshUser('closed');
      const refused = await me(token).expect(429);
      expect(refused.headers['retry-after']).toBe('30');
      expect(refused.body).toMatchObject({ limit: 0, window: '30s', retryAfter: 30, tier: 'closed' });
      expect(refused.headers['x-ratelimit-reset']).toBe('30');
      expect(refused.headers['ratelimit']).toBe('"closed";r=0;t=30');
    });

    it('keeps tiers and callers independent', async () => {
      const free = freshUser('free');
      const pro = freshUser('pro');
      for (let i = 0; i < 3; i++) await me(free.token).expect(200);
      await me(free.token).expect(429);
      for (let i = 0; i < 6; i++) {
        const res = await me(pro.token).expect(200);
        expect(res.headers['ratelimit-policy']).toBe('"pro";q=6;w=2');
      }
      await me(pro.token).expect(429);
    });

    it('keeps one budget per caller across routes', async () => {
      const { token } = freshUser();
      await me(token).expect(200);
      await request(app.getHttpServer()).post('/agent/chat').set(bearer(token)).send({ message: 'hi' }).expect(200);
      await me(token).expect(200);
      await request(app.getHttpServer()).post('/agent/chat').set(bearer(token)).send({ message: 'hi' }).expect(429);
    });

    it('stores one sorted set per caller, with a hash tag, that expires on its own', async () => {
      const sub = `keys-${process.pid}`;
      await me(signToken({ sub })).expect(200);
      const key = `agent-security:rl:{user:${sub}}`;
      expect(await client.type(key)).toBe('zset');
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2000);
      await sleep(2100);
      expect(await client.exists(key)).toBe(0);
    });

    it('limits @Public() routes per client IP with the anonymous tier, and leaves /health alone', async () => {
      for (let i = 0; i < 30; i++) await request(app.getHttpServer()).get('/health').expect(200);
      const res = await request(app.getHttpServer()).get('/agent/models').expect(200);
      expect(res.headers['ratelimit-policy']).toBe('"anonymous";q=60;w=60');
      const keys = await client.keys('agent-security:rl:{ip:*');
      expect(keys.length).toBe(1);
    });
  });

  describe('Anonymous callers over IPv6', () => {
    let redis: RedisProcess;
    let app: INestApplication;

    beforeAll(async () => {
      redis = await startRedis();
      // The client's address from X-Forwarded-For, as behind one proxy: a test has no other way to send from many addresses.
      app = await startDemo({ anonymous: { limit: 3, windowMs: 60_000 } }, { REDIS_URL: redis.url, TRUST_PROXY: '1' });
    });
    afterAll(async () => {
      await app?.close();
      await redis?.stop();
    });

    const models = (ip: string) => request(app.getHttpServer()).get('/agent/models').set('X-Forwarded-For', ip);

    it('are counted by their /64, so a host cannot take a fresh budget with each of its addresses', async () => {
      await models('2001:db8:1:2::1').expect(200);
      await models('2001:db8:1:2::abcd').expect(200);
      const third = await models('2001:db8:1:2:ffff:ffff:ffff:fffe').expect(200);
      expect(third.headers['x-ratelimit-remaining']).toBe('0');
      await models('2001:db8:1:2::99').expect(429);
      // Another /64, and IPv4 callers, have budgets of their own.
      await models('2001:db8:1:3::1').expect(200);
      await models('192.0.2.7').expect(200);
    });
  });

  describe('Two app instances sharing one Redis', () => {
    let redis: RedisProcess;
    const apps: INestApplication[] = [];
    const limit = 10;

    beforeAll(async () => {
      redis = await startRedis();
      const env = { REDIS_URL: redis.url, AGENT_SECURITY_TIERS: JSON.stringify({ free: { limit, windowMs: 60_000 } }) };
      apps.push(await startDemo({}, env), await startDemo({}, env));
      for (const app of apps) await app.listen(0, '127.0.0.1');
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      await redis?.stop();
    });

    it.each([1, 2, 3, 4, 5])('allows exactly the limit of 3 x limit simultaneous requests (round %i)', async () => {
      const { token } = freshUser();
      const statuses = await Promise.all(
        Array.from({ length: 3 * limit }, (_, i) =>
          request(apps[i % 2].getHttpServer())
            .get('/me')
            .set(bearer(token))
            .then((r) => r.status),
        ),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(limit);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2 * limit);
    });
  });

  @Controller('strict')
  class StrictController {
    @Throttle({ default: { limit: 2, ttl: 60_000 } })
    @Get()
    strict() {
      return { ok: true };
    }

    @Get('loose')
    loose() {
      return { ok: true };
    }

    @Throttle({ default: { limit: () => 2.5, ttl: 60_000 } })
    @Get('fractional')
    fractional() {
      return { ok: true };
    }

    @Throttle({ default: { limit: -1, ttl: 60_000 } })
    @Get('negative')
    negative() {
      return { ok: true };
    }

    @Throttle({ burst: { limit: 1, ttl: 1000 }, default: { limit: 3, ttl: 60_000, blockDuration: 5000 } })
    @Get('other-throttler')
    otherThrottler() {
      return { ok: true };
    }
  }

  /** Controllers made by a factory: one class name and one method name for routes at different paths. */
  function itemsController(path: string) {
    @Controller(path)
    class ItemsController {
      @Throttle({ default: { limit: 2, ttl: 60_000 } })
      @Get()
      list() {
        return { ok: true };
      }
    }
    return ItemsController;
  }

  // Without a `redis` option the module keeps the windows in process memory: the same answers either way.
  describe.each([
    ['on Redis', true],
    ['in process memory', false],
  ])('A route with its own @Throttle() on top of the tier budget, %s', (_where, onRedis) => {
    let redis: RedisProcess | undefined;
    let app: INestApplication;

    beforeAll(async () => {
      if (onRedis) redis = await startRedis();
      @Module({
        imports: [
          AgentSecurityModule.forRoot({
            jwt: { secret: TEST_SECRET },
            ...(redis ? { redis: redis.url } : {}),
            tiers: { free: { limit: 4, windowMs: 60_000 } },
            logging: { level: process.env.LOG_LEVEL ?? 'silent' },
          }),
        ],
        controllers: [StrictController, itemsController('a'), itemsController('b')],
      })
      class StrictApp {}
      const moduleRef = await Test.createTestingModule({ imports: [StrictApp] }).compile();
      app = moduleRef.createNestApplication(httpAdapterFor(), { logger: false });
      await app.init();
      await whenReady(app);
    });
    afterAll(async () => {
      await app?.close();
      await redis?.stop();
    });

    it('allows exactly the tier limit, then answers 429 with the body and headers', async () => {
      const { token } = freshUser();
      const server = app.getHttpServer();
      const remaining: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await request(server).get('/strict/loose').set(bearer(token)).expect(200);
        remaining.push(res.headers['x-ratelimit-remaining']);
        expect(res.headers['ratelimit-policy']).toBe('"free";q=4;w=60');
      }
      expect(remaining).toEqual(['3', '2', '1', '0']);
      const refused = await request(server).get('/strict/loose').set(bearer(token)).expect(429);
      expect(refused.body).toMatchObject({
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'Rate limit exceeded',
        limit: 4,
        window: '60s',
        tier: 'free',
      });
      expect(refused.headers['retry-after']).toBe(String(refused.body.retryAfter));
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(59);
      expect(refused.body.requestId).toBe(refused.headers['x-request-id']);
    });

    it('checks both windows, reports both, and counts a request refused by one in neither', async () => {
      const { token } = freshUser();
      const server = app.getHttpServer();
      const first = await request(server).get('/strict').set(bearer(token)).expect(200);
      expect(first.headers['ratelimit-policy']).toBe('"free";q=4;w=60, "route";q=2;w=60');
      expect(first.headers['x-ratelimit-limit']).toBe('2');
      await request(server).get('/strict').set(bearer(token)).expect(200);
      const refused = await request(server).get('/strict').set(bearer(token)).expect(429);
      expect(refused.body).toMatchObject({ limit: 2, window: '60s', tier: 'free' });
      await request(server).get('/strict').set(bearer(token)).expect(429);
      // The route refused twice; the tier budget counted only the two allowed: two left.
      await request(server).get('/strict/loose').set(bearer(token)).expect(200);
      const last = await request(server).get('/strict/loose').set(bearer(token)).expect(200);
      expect(last.headers['x-ratelimit-remaining']).toBe('0');
      const tierRefused = await request(server).get('/strict/loose').set(bearer(token)).expect(429);
      expect(tierRefused.body).toMatchObject({ limit: 4, window: '60s' });
    });

    it('gives each route its own window, also two routes whose classes and methods have the same names', async () => {
      const { token } = freshUser();
      const server = app.getHttpServer();
      const statuses: number[] = [];
      for (const path of ['/a', '/a', '/b', '/b'])
        statuses.push((await request(server).get(path).set(bearer(token))).status);
      // Before, both were "ItemsController.list" and shared one window of 2: /b was refused at once.
      expect(statuses).toEqual([200, 200, 200, 200]);
    });

    it('answers a route whose @Throttle() limit is no whole number >= 0 with a 500, not with a bogus header or a 429 to all', async () => {
      const { token } = freshUser();
      for (const path of ['/strict/fractional', '/strict/negative']) {
        const res = await request(app.getHttpServer()).get(path).set(bearer(token));
        expect([path, res.status, res.body.message, res.headers['ratelimit-policy']]).toEqual([
          path,
          500,
          'Internal server error',
          undefined,
        ]);
      }
    });

    it("warns, once, about what a route's @Throttle() sets that it does not apply: another throttler, blockDuration", async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        const { token } = freshUser();
        for (let i = 0; i < 2; i++)
          await request(app.getHttpServer()).get('/strict/other-throttler').set(bearer(token)).expect(200);
        const about = warn.mock.calls
          .map(([message]) => String(message))
          .filter((message) => message.includes('StrictController.otherThrottler'));
        expect(about).toEqual([expect.stringMatching(/@Throttle\(\) throttler "burst", blockDuration not applied/)]);
      } finally {
        warn.mockRestore();
      }
    });
  });
});
