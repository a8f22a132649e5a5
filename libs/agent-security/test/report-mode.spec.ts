import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { Writable } from 'stream';
import request from 'supertest';
import { AgentStream, TokenBudget } from '@agent-security/core';
import { startRedis, type RedisProcess } from '../../../test/support/redis-server';
import { buildApp, type BuiltApp } from './support/build-app';

let releaseStreams: () => void = () => undefined;
let streamGate: Promise<void> = Promise.resolve();

@Controller()
class AgentController {
  @Post('chat')
  @HttpCode(200)
  @TokenBudget({ reserve: 50 })
  chat(@Body() body: { tokens: number }) {
    return { usage: { model: 'model-a', inputTokens: body.tokens, outputTokens: 0 } };
  }

  @Get('stream')
  @AgentStream()
  async stream() {
    await streamGate;
    return { usage: { model: 'model-a', inputTokens: 1, outputTokens: 0 } };
  }

  @Get('plain') plain() {
    return { ok: true };
  }
}

const TIERS = {
  free: { limit: 3, windowMs: 60_000, tokens: { limit: 100, windowMs: 60_000 }, maxConcurrentStreams: 1 },
  // $1 per million input tokens: 10 tokens spend this budget.
  paid: { limit: 1000, windowMs: 60_000, cost: { limitUsd: 0.00001, windowMs: 60_000 } },
};
const pricing = { 'model-a': { inputPerMillionUsd: 1, outputPerMillionUsd: 4 } };

describe.each([
  ['memory', false],
  ['Redis', true],
])('Report-only mode (%s)', (_name, onRedis) => {
  let redis: RedisProcess | undefined;
  let built: BuiltApp;
  const lines: Array<Record<string, unknown>> = [];
  let seq = 0;
  const user = (tier: string) => built.bearer(`report-${onRedis}-${process.pid}-${++seq}`, { tier });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 40));
  /** The completion line of the response with this request id. */
  const lineOf = (response: request.Response) =>
    lines.find((line) => line.requestId === response.headers['x-request-id']);

  beforeAll(async () => {
    if (onRedis) redis = await startRedis();
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const text of String(chunk).split('\n')) if (text.trim() !== '') lines.push(JSON.parse(text));
        done();
      },
    });
    built = await buildApp(
      {
        redis: redis?.url,
        tiers: TIERS,
        defaultTier: 'free',
        pricing,
        mode: 'report',
        logging: { level: 'info', destination },
        throttling: { commandTimeoutMs: 2000 },
      },
      [AgentController],
    );
  });
  afterAll(async () => {
    releaseStreams();
    await built.close();
    await redis?.stop();
  });

  it('answers past a full request window with truthful headers, and logs wouldRefuse: rate_limited', async () => {
    const caller = user('free');
    for (let i = 0; i < 3; i++) await request(built.server).get('/plain').set(caller).expect(200);
    const past = await request(built.server).get('/plain').set(caller).expect(200);
    expect(past.headers['ratelimit']).toMatch(/"free";r=0;/);
    expect(past.headers['retry-after']).toBeUndefined();
    await settle();
    expect(lineOf(past)).toMatchObject({ status: 200, wouldRefuse: 'rate_limited' });
  });

  it('answers past a spent token budget (reservations counted) and logs wouldRefuse: token_budget_exceeded', async () => {
    const caller = user('free');
    const first = await request(built.server).post('/chat').set(caller).send({ tokens: 80 }).expect(200);
    expect(first.headers['x-tokenbudget-remaining']).toBe('100');
    await settle();
    const past = await request(built.server).post('/chat').set(caller).send({ tokens: 80 }).expect(200);
    expect(past.headers['x-tokenbudget-remaining']).toBe('20');
    await settle();
    const further = await request(built.server).post('/chat').set(caller).send({ tokens: 1 }).expect(200);
    expect(further.headers['x-tokenbudget-remaining']).toBe('0'); // 160 spent: recorded as usual
    await settle();
    expect(lineOf(first)?.wouldRefuse).toBeUndefined();
    expect(lineOf(past)).toMatchObject({ status: 200, wouldRefuse: 'token_budget_exceeded' });
    expect(lineOf(further)).toMatchObject({ wouldRefuse: 'token_budget_exceeded' });
  });

  it('answers past a spent cost budget and logs wouldRefuse: cost_budget_exceeded', async () => {
    const caller = user('paid');
    await request(built.server).post('/chat').set(caller).send({ tokens: 10 }).expect(200);
    await settle();
    const past = await request(built.server).post('/chat').set(caller).send({ tokens: 10 }).expect(200);
    expect(past.headers['x-costbudget-remaining-usd']).toBe('0');
    await settle();
    expect(lineOf(past)).toMatchObject({ status: 200, wouldRefuse: 'cost_budget_exceeded' });
  });

  it('answers past the stream cap and logs wouldRefuse: too_many_streams', async () => {
    const caller = user('free');
    streamGate = new Promise<void>((resolve) => (releaseStreams = resolve));
    const first = request(built.server)
      .get('/stream')
      .set(caller)
      .then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = request(built.server)
      .get('/stream')
      .set(caller)
      .then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 100));
    releaseStreams();
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await settle();
    expect(lineOf(a)?.wouldRefuse).toBeUndefined();
    expect(lineOf(b)).toMatchObject({ status: 200, wouldRefuse: 'too_many_streams' });
  });
});

describe('Report-only mode for one tier (tiers.X.mode)', () => {
  let built: BuiltApp;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const text of String(chunk).split('\n')) if (text.trim() !== '') lines.push(JSON.parse(text));
        done();
      },
    });
    const tiers = {
      free: { limit: 1, windowMs: 60_000, tokens: { limit: 100, windowMs: 60_000 } },
      trial: { limit: 1, windowMs: 60_000, tokens: { limit: 100, windowMs: 60_000 }, mode: 'report' as const },
    };
    built = await buildApp({ tiers, defaultTier: 'free', pricing, logging: { level: 'info', destination } }, [
      AgentController,
    ]);
  });
  afterAll(() => built.close());

  it('reports the tier in report mode and enforces the others', async () => {
    const trial = built.bearer(`tier-report-${process.pid}`, { tier: 'trial' });
    const free = built.bearer(`tier-enforce-${process.pid}`, { tier: 'free' });
    await request(built.server).post('/chat').set(trial).send({ tokens: 120 }).expect(200);
    await request(built.server).post('/chat').set(free).send({ tokens: 120 }).expect(200);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const reported = await request(built.server).post('/chat').set(trial).send({ tokens: 1 }).expect(200);
    const enforced = await request(built.server).post('/chat').set(free).send({ tokens: 1 }).expect(429);
    expect(enforced.body.code).toBe('token_budget_exceeded');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(lines.find((line) => line.requestId === reported.headers['x-request-id'])).toMatchObject({
      tier: 'trial',
      wouldRefuse: 'token_budget_exceeded',
    });
    const plain = await request(built.server).get('/plain').set(trial).expect(200);
    expect(plain.headers['ratelimit']).toMatch(/"trial";r=0;/);
    await request(built.server).get('/plain').set(free).expect(429);
  });
});
