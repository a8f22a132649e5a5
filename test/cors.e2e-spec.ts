import type { INestApplication } from '@nestjs/common';
import { Controller, Get } from '@nestjs/common';
import request from 'supertest';
import { type CorsOptions } from '@agent-security/core';
import { bearer, signToken, startDemo, TEST_SECRET } from './support/demo-app';
import { startApp } from '../libs/agent-security/test/support/build-app';
import { startRedis, type RedisProcess } from './support/redis-server';
import { onEachPlatform } from './support/platform';

const ALLOWED = 'https://app.example';

onEachPlatform(() => {
  describe('CORS (e2e, demo app on Redis)', () => {
    let redis: RedisProcess;
    let app: INestApplication;

    beforeAll(async () => {
      redis = await startRedis();
      app = await startDemo(
        {},
        {
          REDIS_URL: redis.url,
          CORS_ORIGINS: ALLOWED,
          AGENT_SECURITY_TIERS: JSON.stringify({ free: { limit: 2, windowMs: 60_000 } }),
        },
      );
    });
    afterAll(async () => {
      await app?.close();
      await redis?.stop();
    });

    const preflight = (origin: string, path = '/me') =>
      request(app.getHttpServer())
        .options(path)
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization');

    it('answers a preflight from an allowed origin before authentication and throttling, without counting it', async () => {
      const token = signToken({ sub: `preflight-${process.pid}` });
      for (let i = 0; i < 5; i++) {
        const res = await preflight(ALLOWED).expect(204);
        expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(res.headers['access-control-allow-methods']).toContain('GET');
        expect(res.headers['access-control-allow-headers']).toMatch(/Authorization/i);
        expect(res.headers['x-request-id']).toBeDefined();
      }
      // Five preflights later the caller (limit 2) still has its whole budget.
      const first = await request(app.getHttpServer()).get('/me').set('Origin', ALLOWED).set(bearer(token)).expect(200);
      expect(first.headers['x-ratelimit-remaining']).toBe('1');
    });

    it('gives a disallowed origin no Access-Control-Allow-Origin, on preflights and on requests', async () => {
      const pre = await preflight('https://evil.example');
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
      expect(pre.headers['access-control-allow-methods']).toBeUndefined();
      const res = await request(app.getHttpServer())
        .get('/me')
        .set('Origin', 'https://evil.example')
        .set(bearer(signToken({ sub: 'evil' })));
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-expose-headers']).toBeUndefined();
    });

    it('exposes the request id and the rate-limit headers to an allowed origin, on success and on errors', async () => {
      const ok = await request(app.getHttpServer())
        .get('/me')
        .set('Origin', ALLOWED)
        .set(bearer(signToken({ sub: `exposed-${process.pid}` })))
        .expect(200);
      expect(ok.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(ok.headers.vary).toMatch(/Origin/);
      const exposed = ok.headers['access-control-expose-headers'].split(',').map((h: string) => h.trim().toLowerCase());
      expect(exposed).toEqual(
        expect.arrayContaining([
          'x-request-id',
          'x-ratelimit-limit',
          'x-ratelimit-remaining',
          'x-ratelimit-reset',
          'retry-after',
        ]),
      );
      // A browser can only read an error it is allowed to see.
      const unauthorized = await request(app.getHttpServer()).get('/me').set('Origin', ALLOWED).expect(401);
      expect(unauthorized.headers['access-control-allow-origin']).toBe(ALLOWED);
    });
  });

  @Controller('thing')
  class ThingController {
    @Get()
    get() {
      return { ok: true };
    }
  }

  function appWith(cors: CorsOptions): Promise<INestApplication> {
    return startApp({ jwt: { secret: TEST_SECRET }, logging: false, cors }, [ThingController]);
  }

  describe('CORS origin forms (e2e)', () => {
    const check = async (app: INestApplication, origin: string) =>
      (
        await request(app.getHttpServer())
          .options('/thing')
          .set('Origin', origin)
          .set('Access-Control-Request-Method', 'GET')
      ).headers['access-control-allow-origin'];

    it('matches regular expressions and exact strings together', async () => {
      const app = await appWith({
        origins: ['http://localhost:3000', /^https:\/\/[a-z]+\.example\.com$/],
        maxAge: 600,
      });
      try {
        expect(await check(app, 'https://tenant.example.com')).toBe('https://tenant.example.com');
        expect(await check(app, 'http://localhost:3000')).toBe('http://localhost:3000');
        expect(await check(app, 'https://tenant.example.com.evil.io')).toBeUndefined();
        const res = await request(app.getHttpServer())
          .options('/thing')
          .set('Origin', 'http://localhost:3000')
          .set('Access-Control-Request-Method', 'GET');
        expect(res.headers['access-control-max-age']).toBe('600');
      } finally {
        await app.close();
      }
    });

    it('matches a pattern with the g flag every time, not every other time', async () => {
      const app = await appWith({ origins: [/^https:\/\/[a-z]+\.example\.com$/g] });
      try {
        for (let i = 0; i < 4; i++)
          expect(await check(app, 'https://tenant.example.com')).toBe('https://tenant.example.com');
      } finally {
        await app.close();
      }
    });

    it('says Vary: Origin also on an answer to a request without Origin, so a shared cache does not serve it to a browser', async () => {
      const app = await appWith({ origins: ['http://localhost:3000'] });
      try {
        const res = await request(app.getHttpServer()).get('/thing').expect(401); // a private route: the answer varies all the same
        expect(res.headers.vary).toMatch(/\bOrigin\b/);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
      } finally {
        await app.close();
      }
    });

    it('asks a function', async () => {
      const app = await appWith({ origins: (origin) => origin?.endsWith('.trusted.dev') === true });
      try {
        expect(await check(app, 'https://a.trusted.dev')).toBe('https://a.trusted.dev');
        expect(await check(app, 'https://a.untrusted.dev')).toBeUndefined();
      } finally {
        await app.close();
      }
    });

    it('answers * to any origin when credentials are off', async () => {
      const app = await appWith({ origins: '*' });
      try {
        expect(await check(app, 'https://anyone.example')).toBe('*');
      } finally {
        await app.close();
      }
    });

    it('never lets "Origin: null" in with credentials, whatever a predicate answers; without credentials the predicate decides', async () => {
      const origins = (origin: string | undefined) => origin?.endsWith('.trusted.dev') === true || origin === 'null';
      const withCredentials = await appWith({ origins, credentials: true });
      try {
        expect(await check(withCredentials, 'null')).toBeUndefined();
        const res = await request(withCredentials.getHttpServer()).get('/thing').set('Origin', 'null');
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
        expect(await check(withCredentials, 'https://a.trusted.dev')).toBe('https://a.trusted.dev');
      } finally {
        await withCredentials.close();
      }
      const withoutCredentials = await appWith({ origins });
      try {
        expect(await check(withoutCredentials, 'null')).toBe('null');
      } finally {
        await withoutCredentials.close();
      }
    });

    it.each<[string, RegExp, RegExp]>([
      [
        'that matches "null"',
        /^(https:\/\/app\.example\.com|null)$/,
        /the pattern .* matches "null", which cannot be combined with credentials/,
      ],
      ['with "null" as an alternative', /^https:\/\/app\.example\.com$|^null$/, /matches "null"/],
      [
        'that matches any site',
        /^https?:\/\/.*$/,
        /matches "https:\/\/agent-security-probe\.invalid", so it lets in any site: that is "\*"/,
      ],
      ['that matches any http site', /^http:\/\/[^/]+$/, /matches "http:\/\/agent-security-probe\.invalid"/],
    ])('refuses a pattern %s with credentials at start-up, naming it', async (_name, pattern, message) => {
      await expect(appWith({ origins: ['https://app.example.com', pattern], credentials: true })).rejects.toThrow(
        message,
      );
    });

    it('refuses * with credentials at start-up', async () => {
      await expect(appWith({ origins: '*', credentials: true })).rejects.toThrow(
        /cors\.origins.*cannot be combined with credentials/,
      );
    });
  });
});
