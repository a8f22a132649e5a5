import type { INestApplication } from '@nestjs/common';
import { Writable } from 'stream';
import request from 'supertest';
import { loadDemoConfig } from '../src/demo-config';
import { bearer, signToken, startDemo } from './support/demo-app';

let seq = 0;
const caller = (tier = 'free') => bearer(signToken({ sub: `demo-budgets-${process.pid}-${++seq}`, tier }));
// 10 words in; the stand-in answers "You said 10 words. Echo: ..." (15 tokens).
const MESSAGE = 'one two three four five six seven eight nine ten';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('The demo budgets its chats (e2e, memory store)', () => {
  let app: INestApplication;
  const tiers = {
    free: { limit: 100, windowMs: 60_000, tokens: { limit: 20, windowMs: 60_000 } },
    // $1 per million in, $4 per million out: a chat of 10 in and 15 out costs $0.00007.
    paid: { limit: 100, windowMs: 60_000, cost: { limitUsd: 0.0002, windowMs: 60_000 } },
  };

  beforeAll(async () => {
    app = await startDemo({}, { AGENT_SECURITY_TIERS: JSON.stringify(tiers) });
  });
  afterAll(() => app.close());
  const chat = (who: Record<string, string>, body: object) =>
    request(app.getHttpServer()).post('/agent/chat').set(who).send(body);

  it('caps the stand-in model output at max_tokens', async () => {
    const response = await chat(caller('paid'), { message: MESSAGE, max_tokens: 3 }).expect(200);
    expect(response.body).toEqual({
      reply: 'You said 10',
      usage: { model: 'stand-in-echo-1', inputTokens: 10, outputTokens: 3 },
    });
    const uncapped = await chat(caller('paid'), { message: MESSAGE }).expect(200);
    expect(uncapped.body.usage.outputTokens).toBe(15);
    await chat(caller(), { message: MESSAGE, max_tokens: 0 }).expect(400);
    await chat(caller(), { message: MESSAGE, max_tokens: 2.5 }).expect(400);
  });

  it('reserves input + max_tokens on its chat route (no more than the model can answer)', async () => {
    // 10 + min(100, 15) = 25 on a budget of 20: refused before the model is called.
    const refused = await chat(caller(), { message: MESSAGE, max_tokens: 100 }).expect(429);
    expect(refused.body).toMatchObject({
      code: 'token_budget_exceeded',
      tokenLimit: 20,
      tokensUsed: 0,
      tokensRequested: 25,
    });
    // 10 + 5 = 15 fits; it spends 15, and the next chat finds 5 left.
    const who = caller();
    await chat(who, { message: MESSAGE, max_tokens: 5 }).expect(200);
    await sleep(20);
    const next = await chat(who, { message: MESSAGE, max_tokens: 1 }).expect(429);
    expect(next.body).toMatchObject({ tokensUsed: 15, tokensRequested: 11 });
    expect(next.headers['x-tokenbudget-remaining']).toBe('5');
  });

  it('prices chats at $1 per million input and $4 per million output tokens, refusing a spent cost budget', async () => {
    const who = caller('paid');
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await chat(who, { message: MESSAGE }).expect(200);
      remaining.push(response.headers['x-costbudget-remaining-usd']);
      await sleep(20);
    }
    expect(remaining).toEqual(['0.0002', '0.00013', '0.00006']);
    const refused = await chat(who, { message: MESSAGE }).expect(429);
    expect(refused.body).toMatchObject({
      code: 'cost_budget_exceeded',
      message: 'Cost budget exceeded',
      costLimitUsd: '0.0002',
      costUsedUsd: '0.00021',
    });
  });
});

describe('The demo reads AGENT_SECURITY_MODE', () => {
  it('turns report mode on, leaves the default when unset, and refuses anything else', () => {
    expect(loadDemoConfig({ AGENT_SECURITY_MODE: 'report' }).security.mode).toBe('report');
    expect(loadDemoConfig({}).security.mode).toBeUndefined();
    expect(() => loadDemoConfig({ AGENT_SECURITY_MODE: 'shadow' })).toThrow(
      'AGENT_SECURITY_MODE must be one of enforce, report, got "shadow"',
    );
  });

  it('report: a chat past its budget answers 200, and the log says it would have been refused', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const text of String(chunk).split('\n')) if (text.trim() !== '') lines.push(JSON.parse(text));
        done();
      },
    });
    const tiers = { free: { limit: 100, windowMs: 60_000, tokens: { limit: 10, windowMs: 60_000 } } };
    const app = await startDemo(
      { logging: { level: 'info', destination } },
      { AGENT_SECURITY_TIERS: JSON.stringify(tiers), AGENT_SECURITY_MODE: 'report' },
    );
    try {
      const response = await request(app.getHttpServer())
        .post('/agent/chat')
        .set(caller())
        .send({ message: MESSAGE })
        .expect(200);
      expect(response.headers['x-tokenbudget-remaining']).toBe('10');
      await sleep(30);
      expect(lines.find((line) => line.requestId === response.headers['x-request-id'])).toMatchObject({
        status: 200,
        wouldRefuse: 'token_budget_exceeded',
      });
    } finally {
      await app.close();
    }
  });
});
