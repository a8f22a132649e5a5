import { Body, Controller, Get, Post } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import { AgentStream, Throttle, TokenBudget } from '@agent-security/core';
import { startRedis, type RedisProcess } from '../../../test/support/redis-server';
import { buildApp, type BuiltApp } from './support/build-app';
import { onEachPlatform } from '../../../test/support/platform';

let releaseStream: () => void = () => undefined;

@Controller()
class AgentController {
  @Post('chat')
  @TokenBudget()
  chat(@Body() body: { tokens?: number }) {
    return { usage: { inputTokens: body.tokens ?? 10, outputTokens: 0 } };
  }

  /** Holds its stream slot until the test lets it answer. */
  @Get('stream')
  @AgentStream()
  async stream() {
    await new Promise<void>((resolve) => (releaseStream = resolve));
    return { done: true };
  }

  @Post('narrow')
  @TokenBudget()
  @Throttle({ default: { limit: 1, ttl: 60_000 } })
  narrow() {
    return { usage: { inputTokens: 1, outputTokens: 0 } };
  }

  @Get('plain') plain() {
    return { ok: true };
  }
}

const TIERS = {
  free: { limit: 4, windowMs: 60_000, tokens: { limit: 100, windowMs: 60_000 }, maxConcurrentStreams: 1 },
};

/** The script calls Redis ran so far (EVALSHA, EVAL and FCALL, as INFO commandstats counts them). */
async function scriptCalls(admin: Redis): Promise<number> {
  const stats = await admin.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(evalsha|eval|fcall):calls=(\d+)/gm)) calls += Number(match[2]);
  return calls;
}

/** Waits until the response's close has recorded the tokens (the record is the second call of an allowed chat). */
async function settled(admin: Redis, expected: number): Promise<number> {
  const deadline = Date.now() + 2000;
  let calls = await scriptCalls(admin);
  while (calls < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    calls = await scriptCalls(admin);
  }
  return calls;
}

onEachPlatform(() => {
  describe('One admission per request on budgeted routes (a real redis-server)', () => {
    let redis: RedisProcess;
    let admin: Redis;
    let built: BuiltApp;
    let seq = 0;
    const user = () => built.bearer(`admit-${process.pid}-${++seq}`, { tier: 'free' });

    beforeAll(async () => {
      redis = await startRedis();
      admin = new Redis(redis.url);
      built = await buildApp({ redis: redis.url, tiers: TIERS, defaultTier: 'free' }, [AgentController]);
    });
    afterAll(async () => {
      await built.close();
      admin.disconnect();
      await redis.stop();
    });
    beforeEach(() => admin.config('RESETSTAT'));

    it('costs an allowed chat two script calls (admission, then the record) and a refused one one', async () => {
      const caller = user();
      await request(built.server).post('/chat').set(caller).send({ tokens: 10 }).expect(201);
      expect(await settled(admin, 2)).toBe(2);

      await admin.config('RESETSTAT');
      await request(built.server).post('/chat').set(caller).send({ tokens: 100 }).expect(201); // spends the budget
      await settled(admin, 2);
      await admin.config('RESETSTAT');
      const refused = await request(built.server).post('/chat').set(caller).send({ tokens: 1 }).expect(429);
      expect(refused.body.code).toBe('token_budget_exceeded');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await scriptCalls(admin)).toBe(1);
    });

    it('a request refused by the budget takes no request-window slot', async () => {
      const caller = user();
      await request(built.server).post('/chat').set(caller).send({ tokens: 150 }).expect(201);
      for (let i = 0; i < 5; i++) await request(built.server).post('/chat').set(caller).expect(429);
      // Two of four requests were counted (the chat and this one): the refused five took none.
      const plain = await request(built.server).get('/plain').set(caller).expect(200);
      expect(plain.headers['ratelimit']).toMatch(/"free";r=2;/);
    });

    it('a request refused by a window takes no stream slot and records no tokens; one call each', async () => {
      const caller = user();
      for (let i = 0; i < 4; i++) await request(built.server).get('/plain').set(caller).expect(200);
      await admin.config('RESETSTAT');
      const refused = await request(built.server).get('/stream').set(caller).expect(429);
      expect(refused.body.code).toBe('rate_limited');
      expect(await scriptCalls(admin)).toBe(1);
      const streams = await admin.keys('*streams*');
      for (const key of streams) expect(await admin.zcard(key)).toBe(0);
    });

    it("a route's own window refusing takes neither the tier window nor tokens", async () => {
      const caller = user();
      await request(built.server).post('/narrow').set(caller).expect(201);
      await admin.config('RESETSTAT');
      const refused = await request(built.server).post('/narrow').set(caller).expect(429);
      expect(refused.body.code).toBe('rate_limited');
      expect(await scriptCalls(admin)).toBe(1);
      const plain = await request(built.server).get('/plain').set(caller).expect(200);
      expect(plain.headers['ratelimit']).toMatch(/"free";r=2;/); // the narrow 201 and this one
    });

    it('a request refused by the stream cap takes no request-window slot; one call', async () => {
      const caller = user();
      const first = request(built.server)
        .get('/stream')
        .set(caller)
        .then((response) => response);
      const deadline = Date.now() + 2000;
      while ((await admin.keys('*streams*')).length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      await admin.config('RESETSTAT');
      const refused = await request(built.server).get('/stream').set(caller).expect(429);
      expect(refused.body.code).toBe('too_many_streams');
      expect(await scriptCalls(admin)).toBe(1);
      releaseStream();
      expect((await first).status).toBe(200);
      // The stream and this request were counted; the refused one was not.
      const plain = await request(built.server).get('/plain').set(caller).expect(200);
      expect(plain.headers['ratelimit']).toMatch(/"free";r=2;/);
    });

    it('keeps a plain route at one batched call', async () => {
      const caller = user();
      await request(built.server).get('/plain').set(caller).expect(200);
      expect(await scriptCalls(admin)).toBe(1);
    });
  });
});
