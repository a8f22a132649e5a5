import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ThrottlerGuard, ThrottlerModule, type ThrottlerModuleOptions } from '@nestjs/throttler';
import request from 'supertest';
import { RedisThrottlerStorage } from '@agent-security/core';
import { startRedis, type RedisProcess } from './support/redis-server';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

@Controller('plain')
class PlainController {
  @Get()
  get() {
    return { ok: true };
  }
}

/** A plain ThrottlerModule app, as a user of the storage writes it, without AgentSecurityModule. */
async function plainApp(options: ThrottlerModuleOptions): Promise<INestApplication> {
  @Module({
    imports: [ThrottlerModule.forRoot(options)],
    controllers: [PlainController],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  })
  class PlainApp {}
  const moduleRef = await Test.createTestingModule({ imports: [PlainApp] }).compile();
  const app = moduleRef.createNestApplication(httpAdapterFor(), { logger: false });
  await app.init();
  await whenReady(app);
  return app;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

onEachPlatform(() => {
  describe('RedisThrottlerStorage in a plain ThrottlerModule', () => {
    let redis: RedisProcess;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis.stop());

    it('keys a window by key and throttler name: with a generateKey that leaves the name out, 5 per minute is enforced', async () => {
      const app = await plainApp({
        throttlers: [
          { name: 'short', limit: 3, ttl: 1000 },
          { name: 'long', limit: 5, ttl: 60_000 },
        ],
        // One budget per caller across routes: the throttler's name is not part of the key.
        generateKey: (_context, tracker) => `user:${tracker}`,
        storage: new RedisThrottlerStorage(redis.url),
      });
      try {
        const server = app.getHttpServer();
        for (let i = 0; i < 3; i++) await request(server).get('/plain').expect(200);
        await sleep(1100);
        for (let i = 0; i < 2; i++) await request(server).get('/plain').expect(200);
        const refused = await request(server).get('/plain').expect(429);
        expect(Number(refused.headers['retry-after-long'])).toBeGreaterThanOrEqual(58);
      } finally {
        await app.close();
      }
    });

    it('a closed route (limit: 0) is blocked for a whole window: Retry-After is the window, not 1', async () => {
      const app = await plainApp({
        throttlers: [{ limit: 0, ttl: 60_000 }],
        storage: new RedisThrottlerStorage(redis.url),
      });
      try {
        const refused = await request(app.getHttpServer()).get('/plain').expect(429);
        expect(refused.headers['retry-after']).toBe('60');
      } finally {
        await app.close();
      }
    });

    it('a storage opened from a URL fails fast: against a hung Redis a throttled request answers within the command timeout', async () => {
      const hung = await startRedis();
      const app = await plainApp({
        throttlers: [{ limit: 10, ttl: 60_000 }],
        storage: new RedisThrottlerStorage(hung.url, { commandTimeoutMs: 100 }),
      });
      try {
        await request(app.getHttpServer()).get('/plain').expect(200);
        hung.pause();
        const started = performance.now();
        const res = await request(app.getHttpServer()).get('/plain').timeout(3000);
        expect(res.status).toBe(500);
        expect(performance.now() - started).toBeLessThan(1000);
      } finally {
        hung.resume();
        await app.close();
        await hung.stop();
      }
    });
  });
});
