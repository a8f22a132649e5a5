import { Controller, Get, Module, Req, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { get, type IncomingMessage } from 'http';
import { Writable } from 'stream';
import { Redis } from 'ioredis';
import type { AddressInfo } from 'net';
import request from 'supertest';
import { AgentSecurityModule, Public } from '@agent-security/core';
import { RedisUsageStore } from '../libs/agent-security/src/usage/redis-usage.store.js';
import { bearer, signToken, startDemo, TEST_SECRET } from './support/demo-app';
import { startRedis, type RedisProcess } from './support/redis-server';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let seq = 0;
const freshSub = () => `usage-${process.pid}-${++seq}`;
// "one two three four five" -> 5 input tokens; "You said 5 words. Echo: one two three four five" -> 10 output tokens.
const MESSAGE = 'one two three four five';
const TOKENS_PER_CHAT = 15;

const tiers = {
  free: { limit: 100, windowMs: 60_000, tokens: { limit: 20, windowMs: 1500 }, maxConcurrentStreams: 1 },
  pro: { limit: 3, windowMs: 60_000, tokens: { limit: 10_000, windowMs: 60_000 }, maxConcurrentStreams: 2 },
  streamer: { limit: 100, windowMs: 60_000, maxConcurrentStreams: 1 },
  unfunded: { limit: 100, windowMs: 60_000, tokens: { limit: 0, windowMs: 45_000 } },
};

function baseUrl(app: INestApplication): string {
  const { port } = app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/** Opens an SSE stream; resolves once `events` data lines have arrived, with a handle to read on or abort. */
function openStream(app: INestApplication, token: string, message: string, events = 1) {
  return new Promise<{ res: IncomingMessage; events: string[]; done: Promise<void>; abort(): void }>(
    (resolve, reject) => {
      const seen: string[] = [];
      const req = get(
        `${baseUrl(app)}/agent/stream?message=${encodeURIComponent(message)}`,
        { headers: bearer(token) },
        (res) => {
          let resolved = false;
          const done = new Promise<void>((end) => res.on('end', end).on('close', end));
          const handle = { res, events: seen, done, abort: () => req.destroy() };
          if (res.statusCode !== 200) {
            res.resume();
            return resolve(handle);
          }
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            for (const line of chunk.split('\n')) if (line.startsWith('data: ')) seen.push(line.slice(6));
            if (!resolved && seen.length >= events) {
              resolved = true;
              resolve(handle);
            }
          });
          res.on('end', () => !resolved && resolve(handle));
        },
      );
      req.on('error', (error) => (error.message === 'socket hang up' ? undefined : reject(error)));
    },
  );
}

onEachPlatform(() => {
  describe('LLM token budgets and streams (e2e, demo app on Redis)', () => {
    let redis: RedisProcess;
    let client: Redis;
    const apps: INestApplication[] = [];

    beforeAll(async () => {
      redis = await startRedis();
      client = new Redis(redis.url);
      const env = { REDIS_URL: redis.url, AGENT_SECURITY_TIERS: JSON.stringify(tiers), STREAM_TOKEN_DELAY_MS: '40' };
      for (let i = 0; i < 2; i++) {
        const app = await startDemo({}, env);
        await app.listen(0, '127.0.0.1');
        apps.push(app);
      }
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      client.disconnect();
      await redis.stop();
    });

    const chat = (app: INestApplication, token: string) =>
      request(app.getHttpServer()).post('/agent/chat').set(bearer(token)).send({ message: MESSAGE });

    it('refuses a chat whose reservation the budget cannot cover with 429 "Token budget exceeded", and lets the caller back in when usage ages out', async () => {
      const token = signToken({ sub: freshSub() });
      const first = await chat(apps[0], token).expect(200);
      expect(first.headers['x-tokenbudget-limit']).toBe('20');
      expect(first.headers['x-tokenbudget-remaining']).toBe('20');
      expect(first.body.usage).toEqual({ model: 'stand-in-echo-1', inputTokens: 5, outputTokens: 10 });
      await sleep(30);
      // The chat reserves its input and the most the model answers (15): 15 used + 15 > 20, refused before it spends.
      const refused = await chat(apps[0], token).expect(429);
      expect(refused.body).toMatchObject({
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'Token budget exceeded',
        tokenLimit: 20,
        tokensUsed: TOKENS_PER_CHAT,
        tokensReserved: 0,
        tokensRequested: TOKENS_PER_CHAT,
        window: '1.5s',
        tier: 'free',
      });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.headers['retry-after']).toBe(String(refused.body.retryAfter));
      expect(refused.headers['x-tokenbudget-remaining']).toBe(String(20 - TOKENS_PER_CHAT));
      // max_tokens lowers the reservation to input + max_tokens: 5 + 2 is still more than the 5 left.
      const smaller = await request(apps[0].getHttpServer())
        .post('/agent/chat')
        .set(bearer(token))
        .send({ message: MESSAGE, max_tokens: 2 })
        .expect(429);
      expect(smaller.body.tokensRequested).toBe(7);
      await sleep(1700);
      const again = await chat(apps[0], token).expect(200);
      expect(again.headers['x-tokenbudget-remaining']).toBe('20');
    });

    it('tells a caller with a token budget of 0 to come back after a whole window, not every second', async () => {
      const refused = await chat(apps[0], signToken({ sub: freshSub(), tier: 'unfunded' })).expect(429);
      expect(refused.headers['retry-after']).toBe('45');
      expect(refused.body).toMatchObject({ message: 'Token budget exceeded', tokenLimit: 0, retryAfter: 45 });
    });

    it('shares the token budget between two instances on one Redis', async () => {
      const token = signToken({ sub: freshSub() });
      await chat(apps[0], token).expect(200);
      await sleep(30);
      await chat(apps[1], token).expect(429);
      await chat(apps[0], token).expect(429);
    });

    it('counts a stream once against the request limit and records all its tokens when it ends', async () => {
      const sub = freshSub();
      const token = signToken({ sub, tier: 'pro' });
      const stream = await openStream(apps[0], token, MESSAGE, 10);
      await stream.done;
      expect(stream.res.statusCode).toBe(200);
      expect(stream.res.headers['content-type']).toMatch(/text\/event-stream/);
      expect(stream.events).toHaveLength(10);
      expect(stream.res.headers['x-ratelimit-remaining']).toBe('2');
      await sleep(50);
      const me = await request(apps[0].getHttpServer()).get('/me').set(bearer(token)).expect(200);
      expect(me.headers['x-ratelimit-remaining']).toBe('1'); // pro: 3 requests; the stream of 10 events was one
      const used = await client.hvals(`agent-security:rl:{user:${sub}}:tokens`);
      expect(used.reduce((sum, value) => sum + Number(value), 0)).toBe(TOKENS_PER_CHAT);
    });

    it('records the tokens sent so far when the client disconnects half-way', async () => {
      const sub = freshSub();
      const token = signToken({ sub, tier: 'pro' });
      const stream = await openStream(apps[0], token, MESSAGE, 3);
      stream.abort();
      await sleep(300);
      const used = (await client.hvals(`agent-security:rl:{user:${sub}}:tokens`)).reduce(
        (sum, value) => sum + Number(value),
        0,
      );
      // 5 input tokens and the 3 or so output tokens sent before the client left; not the whole reply.
      expect(used).toBeGreaterThanOrEqual(5 + 3);
      expect(used).toBeLessThan(TOKENS_PER_CHAT);
    });

    it('caps concurrent streams per tier and frees the slot when a stream ends or its client leaves', async () => {
      const token = signToken({ sub: freshSub(), tier: 'streamer' });
      const first = await openStream(apps[0], token, 'a b c d e f g h i j k l', 1);
      expect(first.res.statusCode).toBe(200);
      // The cap holds across instances: the slot lives in Redis.
      const second = await request(apps[1].getHttpServer())
        .get('/agent/stream?message=hi')
        .set(bearer(token))
        .expect(429);
      expect(second.body).toMatchObject({
        statusCode: 429,
        message: 'Too many concurrent streams',
        maxConcurrentStreams: 1,
        tier: 'streamer',
      });
      first.abort();
      await sleep(100);
      const third = await openStream(apps[1], token, 'hi', 1);
      expect(third.res.statusCode).toBe(200);
      await third.done;
      await sleep(50);
      const fourth = await openStream(apps[0], token, 'hi again', 1);
      expect(fourth.res.statusCode).toBe(200);
      await fourth.done;
    });

    it('lets a stream slot of a crashed instance expire (a lease, not a lock)', async () => {
      const store = new RedisUsageStore(client);
      const key = `agent-security:rl:{user:${freshSub()}}:streams`;
      expect(await store.acquireStream(key, 'crashed-instance', 1, 300)).toBe(true);
      expect(await store.acquireStream(key, 'other', 1, 300)).toBe(false);
      await sleep(350); // the crashed instance never renewed nor released it
      expect(await store.acquireStream(key, 'other', 1, 300)).toBe(true);
    });
  });

  describe('A stream whose client leaves while its slot is being taken (e2e, Redis slowed on purpose)', () => {
    let redis: RedisProcess;
    let app: INestApplication;

    beforeAll(async () => {
      redis = await startRedis();
      const env = { REDIS_URL: redis.url, AGENT_SECURITY_TIERS: JSON.stringify(tiers), STREAM_TOKEN_DELAY_MS: '10' };
      // A command timeout longer than the pause: the slot is taken in Redis, late, not in the fallback store.
      app = await startDemo({ throttling: { commandTimeoutMs: 5000 } }, env);
      await app.listen(0, '127.0.0.1');
    });
    afterAll(async () => {
      await app.close();
      await redis.stop();
    });

    it('frees the slot at once, so the caller is not refused as if a stream were still open', async () => {
      const token = signToken({ sub: freshSub(), tier: 'streamer' });
      redis.pause();
      const gone = new Promise<void>((resolve) => {
        const req = get(`${baseUrl(app)}/agent/stream?message=hi`, { headers: bearer(token) }, () => undefined);
        req.on('error', () => resolve());
        setTimeout(() => req.destroy(), 150);
      });
      await gone;
      await sleep(100);
      redis.resume();
      await sleep(300);
      // Without the release the lease of the gone client is renewed for as long as the process runs: 429 here.
      const next = await openStream(app, token, 'hi', 1);
      expect(next.res.statusCode).toBe(200);
      await next.done;
    });
  });

  @Controller('seen-url')
  class SeenUrlController {
    @Get()
    seen(@Req() req: { originalUrl: string; url: string }) {
      return { originalUrl: req.originalUrl, url: req.url };
    }

    @Public()
    @Get('public')
    seenPublic(@Req() req: { originalUrl: string; url: string }) {
      return { originalUrl: req.originalUrl, url: req.url };
    }
  }

  describe('Tokens in query strings', () => {
    let logged = '';
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });

    /** An app with the option on or off, closed after `use` whatever it does. */
    async function withApp(
      allowQueryToken: boolean,
      use: (server: ReturnType<INestApplication['getHttpServer']>) => Promise<void>,
    ) {
      @Module({
        imports: [
          AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET, allowQueryToken }, logging: { destination } }),
        ],
        controllers: [SeenUrlController],
      })
      class QueryApp {}
      const app = (await Test.createTestingModule({ imports: [QueryApp] }).compile()).createNestApplication(
        httpAdapterFor(),
        { logger: false },
      );
      await app.init();
      await whenReady(app);
      try {
        await use(app.getHttpServer());
      } finally {
        await app.close();
      }
    }

    it('never reach a log line, allowed or refused', async () => {
      const refusedToken = signToken({ sub: 'refused' });
      const acceptedToken = signToken({ sub: 'accepted' });
      for (const [allowed, token, status] of [
        [false, refusedToken, 401],
        [true, acceptedToken, 200],
      ] as const) {
        await withApp(allowed, async (server) => {
          await request(server).get(`/seen-url?access_token=${token}`).expect(status);
        });
      }
      await sleep(50);
      expect(logged).toContain('/seen-url?access_token=[REDACTED]');
      expect(logged).not.toContain(refusedToken);
      expect(logged).not.toContain(acceptedToken);
    });

    it('are refused unless an option allows them', async () => {
      await withApp(false, async (server) => {
        await request(server).get(`/seen-url?access_token=${signToken()}`).expect(401);
      });
    });

    it('are redacted, where allowed, also where the AuthGuard does not read them: a public route, a request with a header, no route at all', async () => {
      await withApp(true, async (server) => {
        const token = signToken();
        const open = await request(server).get(`/seen-url/public?access_token=${token}`).expect(200);
        expect(open.body.originalUrl).toBe('/seen-url/public?access_token=[REDACTED]');
        const byHeader = await request(server).get(`/seen-url?access_token=${token}`).set(bearer(token)).expect(200);
        expect(byHeader.body).toEqual({
          originalUrl: '/seen-url?access_token=[REDACTED]',
          url: '/seen-url?access_token=[REDACTED]',
        });
        const nowhere = await request(server).get(`/nowhere?access_token=${token}`).expect(404);
        expect(nowhere.text).not.toContain(token);
        expect(nowhere.body.requestId).toEqual(expect.any(String));
        // An empty or undecodable value is no token: "missing", not "[REDACTED]" taken for one and found invalid.
        for (const value of ['', '%E0']) {
          const refused = await request(server).get(`/seen-url?access_token=${value}`).expect(401);
          expect(refused.body.message).toBe('Missing or invalid auth token');
        }
      });
    });

    it("are the app's own parameter where query tokens are not allowed: its URL is left as it came", async () => {
      await withApp(false, async (server) => {
        const open = await request(server).get('/seen-url/public?access_token=abc').expect(200);
        expect(open.body.originalUrl).toBe('/seen-url/public?access_token=abc');
      });
    });

    it('are accepted when allowed, and redacted from the URL before anything logs it', async () => {
      await withApp(true, async (server) => {
        const token = signToken();
        const res = await request(server).get(`/seen-url?a=1&access_token=${token}&b=2`).expect(200);
        expect(res.body.originalUrl).toBe('/seen-url?a=1&access_token=[REDACTED]&b=2');
        expect(JSON.stringify(res.body)).not.toContain(token);
      });
    });
  });
});
