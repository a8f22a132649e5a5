import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import request from 'supertest';
import { TokenBudget, UsageService, type AgentPrincipal } from '@agent-security/core';
import { startRedis, type RedisProcess } from '../../../test/support/redis-server';
import { resolveAgentSecurityConfig } from '../src/agent-security.config';
import { testOptions } from '../src/testing/test-options';
import { buildApp, type BuiltApp } from './support/build-app';

@Controller()
class ChatController {
  @Post('chat')
  @HttpCode(200)
  @TokenBudget()
  chat(@Body() body: { model?: string; input?: number; output?: number }) {
    return { usage: { model: body.model ?? 'model-a', inputTokens: body.input ?? 10, outputTokens: body.output ?? 5 } };
  }
}

// $1 per million input tokens, $4 per million output tokens: a chat of 10 in and 5 out costs $0.00003.
const pricing = {
  'model-a': { inputPerMillionUsd: 1, outputPerMillionUsd: 4 },
  'model-b': { inputPerMillionUsd: 0.15, outputPerMillionUsd: 0.6, cachedInputPerMillionUsd: 0.075 },
};
const cost = { limitUsd: 0.0001, windowMs: 60_000 };

describe.each([
  ['memory, cost budget only', false, { free: { limit: 1000, windowMs: 60_000, cost } }],
  [
    'Redis, beside a token budget (the record replaces a reservation)',
    true,
    { free: { limit: 1000, windowMs: 60_000, tokens: { limit: 1_000_000, windowMs: 60_000 }, cost } },
  ],
])('Cost budgets in dollars (%s)', (_name, onRedis, tiers) => {
  let redis: RedisProcess | undefined;
  let built: BuiltApp;
  let usage: UsageService;
  let seq = 0;
  const principal = (): AgentPrincipal =>
    ({ userId: `cost-${onRedis}-${process.pid}-${++seq}`, tier: 'free' }) as AgentPrincipal;

  beforeAll(async () => {
    if (onRedis) redis = await startRedis();
    // A generous command timeout: a thousand records at once must not be taken for an outage on a shared machine.
    built = await buildApp(
      { redis: redis?.url, tiers, defaultTier: 'free', pricing, throttling: { commandTimeoutMs: 2000 } },
      [ChatController],
    );
    usage = built.app.get(UsageService);
  });
  afterAll(async () => {
    await built.close();
    await redis?.stop();
  });

  it('refuses at the right call with 429 "Cost budget exceeded", Retry-After and the exact figures', async () => {
    const caller = built.bearer(principal().userId);
    const remaining: string[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await request(built.server).post('/chat').set(caller).send({}).expect(200);
      expect(response.headers['x-costbudget-limit-usd']).toBe('0.0001');
      remaining.push(response.headers['x-costbudget-remaining-usd']);
      // The record is written when the response closes.
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(remaining).toEqual(['0.0001', '0.00007', '0.00004', '0.00001']);
    const refused = await request(built.server).post('/chat').set(caller).send({}).expect(429);
    expect(refused.body).toMatchObject({
      statusCode: 429,
      message: 'Cost budget exceeded',
      code: 'cost_budget_exceeded',
      costLimitUsd: '0.0001',
      costUsedUsd: '0.00012',
      window: '60s',
      tier: 'free',
    });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['x-costbudget-remaining-usd']).toBe('0');
  });

  it('keeps amounts exact: 10,000 records of $0.000031 are $0.31, not a float sum', async () => {
    const who = principal();
    let float = 0;
    for (let i = 0; i < 10_000; i++) float += 3 / 1e6 + (7 * 4) / 1e6;
    expect(float).not.toBe(0.31); // what floating point would have kept
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 1000 }, () => usage.record(who, { model: 'model-a', inputTokens: 3, outputTokens: 7 })),
      );
    }
    const state = await usage.costBudget(who);
    expect(state).toMatchObject({ limitUsd: '0.0001', usedUsd: '0.31', remainingUsd: '0' });
  });

  it('prices cached input apart, to the nano-dollar, rounding a record up, never down', async () => {
    const who = principal();
    // 1000 x $0.15 + 100 x $0.6 + 1000 x $0.075 per million = $0.000285; 1 input token = $0.00000015 -> 150 nano.
    await usage.record(who, { model: 'model-b', inputTokens: 1000, outputTokens: 100, cachedInputTokens: 1000 });
    await usage.record(who, { model: 'model-b', inputTokens: 1 });
    expect((await usage.costBudget(who))?.usedUsd).toBe('0.00028515');
  });

  it('an unknown model is an error at record time, never a free call; so is no model on a cost budget', async () => {
    const who = principal();
    await expect(usage.record(who, { model: 'gpt-unknown', inputTokens: 10 })).rejects.toThrow(
      /"gpt-unknown", which has no price.*priced: model-a, model-b/,
    );
    await expect(usage.record(who, { inputTokens: 10 })).rejects.toThrow(/names no model/);
    const caller = built.bearer(who.userId);
    await request(built.server).post('/chat').set(caller).send({ model: 'gpt-unknown' }).expect(500);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await usage.costBudget(who))?.usedUsd).toBe('0');
  });
});

describe('cost options at start-up', () => {
  const resolve = (overrides: object) => () => resolveAgentSecurityConfig(testOptions(overrides));

  it('refuses a cost budget without prices, bad amounts and misspelt price keys, naming the option', () => {
    expect(resolve({ tiers: { free: { limit: 1, windowMs: 1000, cost } }, defaultTier: 'free' })).toThrow(
      /tiers\.free\.cost.*needs prices/,
    );
    expect(
      resolve({
        pricing,
        tiers: { free: { limit: 1, windowMs: 1000, cost: { limitUsd: -1, windowMs: 1000 } } },
        defaultTier: 'free',
      }),
    ).toThrow(/tiers\.free\.cost\.limitUsd/);
    expect(
      resolve({
        pricing,
        tiers: { free: { limit: 1, windowMs: 1000, cost: { limitUsd: 1, windowMs: 0 } } },
        defaultTier: 'free',
      }),
    ).toThrow(/tiers\.free\.cost\.windowMs/);
    expect(resolve({ pricing: { m: { inputPerMillionUsd: 0.0000001, outputPerMillionUsd: 1 } } })).toThrow(
      /pricing\.m.*at most 6 decimals/,
    );
    expect(resolve({ pricing: { m: { inputPerMillionUsd: '1', outputPerMillionUsd: 1 } } })).toThrow(/pricing\.m/);
    expect(resolve({ pricing: { m: { inputPerMilionUsd: 1, outputPerMillionUsd: 1 } } })).toThrow(/inputPerMilionUsd/);
    expect(resolve({ anonymous: { limit: 1, windowMs: 1000, cost } })).toThrow(/anonymous\.cost/);
    expect(resolve({ mode: 'shadow' })).toThrow(/mode.*"enforce" or "report"/);
    expect(resolve({ tiers: { free: { limit: 1, windowMs: 1000, mode: 'dry-run' } }, defaultTier: 'free' })).toThrow(
      /tiers\.free\.mode.*"enforce" or "report"/,
    );
    expect(
      resolveAgentSecurityConfig(
        testOptions({ pricing, tiers: { free: { limit: 1, windowMs: 1000, cost } }, defaultTier: 'free' }),
      ).costBudgets.get('free'),
    ).toEqual({
      limitNanoUsd: 100_000,
      windowMs: 60_000,
    });
  });
});
