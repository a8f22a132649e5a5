import { Body, Controller, Post } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import { TokenBudget, UsageService, type StoreErrorPolicy } from '@agent-security/core';
import { startRedis, type RedisProcess } from '../../../test/support/redis-server';
import { buildApp, type BuiltApp } from './support/build-app';
import { onEachPlatform } from '../../../test/support/platform';

@Controller()
class ChatController {
  @Post('chat')
  @TokenBudget()
  chat(@Body() body: { tokens: number }) {
    return { usage: { inputTokens: body.tokens, outputTokens: 0 } };
  }
}

/** The tokens Redis holds in a caller's budget window. */
async function tokensInRedis(admin: Redis, sub: string): Promise<number> {
  const [key] = await admin.keys(`*{user:${sub}}:tokens`);
  if (key === undefined) return 0;
  const buckets = await admin.hgetall(key);
  return Object.values(buckets).reduce((sum, tokens) => sum + Number(tokens), 0);
}

onEachPlatform(() => {
  describe('Tokens recorded in memory during an outage go to Redis when it returns', () => {
    let redis: RedisProcess;
    let admin: Redis;
    let built: BuiltApp | undefined;

    beforeEach(async () => {
      redis = await startRedis();
      admin = new Redis(redis.url);
    });
    afterEach(async () => {
      redis.resume();
      await built?.close();
      built = undefined;
      admin.disconnect();
      await redis.stop();
    });

    it.each<StoreErrorPolicy>(['fallback', 'deny'])(
      '%s: once, in the buckets they were recorded in',
      async (policy) => {
        built = await buildApp(
          {
            redis: redis.url,
            throttling: { onStoreError: policy, commandTimeoutMs: 200 },
            tiers: { free: { limit: 100, windowMs: 60_000, tokens: { limit: 1000, windowMs: 60_000 } } },
            defaultTier: 'free',
          },
          [ChatController],
        );
        const sub = `replay-${policy}-${process.pid}`;
        const chat = (tokens: number) => request(built!.server).post('/chat').set(built!.bearer(sub)).send({ tokens });
        await chat(10).expect(201);
        const deadline = Date.now() + 2000;
        while ((await tokensInRedis(admin, sub)) < 10 && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 10));
        expect(await tokensInRedis(admin, sub)).toBe(10);

        redis.pause();
        if (policy === 'fallback') {
          await chat(30).expect(201); // finds Redis gone, then runs on memory
          await chat(30).expect(201);
        } else {
          // Under deny nothing new is admitted; a chat admitted before the outage still records what it spent.
          await chat(1).expect(503);
        }
        if (policy === 'deny') {
          const usage = built.app.get(UsageService);
          await usage.record({ userId: sub, tier: 'free' } as never, { inputTokens: 60, outputTokens: 0 });
        }
        redis.resume();
        // The probe finds Redis back within a second or two; the replay follows at once.
        const back = Date.now() + 5000;
        while ((await tokensInRedis(admin, sub)) < 70 && Date.now() < back)
          await new Promise((resolve) => setTimeout(resolve, 50));
        expect(await tokensInRedis(admin, sub)).toBe(70);
        // Added once: the next record adds only its own tokens, and the budget is read from Redis.
        await chat(5).expect(201);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(await tokensInRedis(admin, sub)).toBe(75);
        const after = await chat(1).expect(201);
        expect(after.headers['x-tokenbudget-remaining']).toBe(String(1000 - 75));
      },
    );
  });
});
