import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { request as httpRequest } from 'http';
import type { AddressInfo } from 'net';
import { Redis } from 'ioredis';
import request from 'supertest';
import { TokenBudget } from '@agent-security/core';
import { startRedis, type RedisProcess } from '../../../test/support/redis-server';
import { buildApp, type BuiltApp } from './support/build-app';

/** Chats wait here until the test lets them answer: their reservations are in flight meanwhile. */
let gate: Promise<void> = Promise.resolve();
let open: () => void = () => undefined;
const closeGate = () => (gate = new Promise<void>((resolve) => (open = resolve)));
let handlerRuns = 0;

interface ChatBody {
  max_tokens: number;
  /** What the stand-in model spends, at most max_tokens. */
  spend: number;
}

@Controller()
class ChatController {
  @Post('chat')
  @HttpCode(200)
  @TokenBudget({ reserve: (req) => (req.body as ChatBody).max_tokens })
  async chat(@Body() body: ChatBody) {
    handlerRuns++;
    await gate;
    return { usage: { inputTokens: 0, outputTokens: Math.min(body.spend, body.max_tokens) } };
  }

  @Post('soft')
  @HttpCode(200)
  @TokenBudget({ reserve: 'none' })
  async soft(@Body() body: ChatBody) {
    await gate;
    return { usage: { inputTokens: 0, outputTokens: body.spend } };
  }
}

const TIERS = { free: { limit: 1000, windowMs: 60_000, tokens: { limit: 300, windowMs: 60_000 } } };

async function scriptCalls(admin: Redis): Promise<number> {
  const stats = await admin.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(evalsha|eval|fcall):calls=(\d+)/gm)) calls += Number(match[2]);
  return calls;
}

async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Tokens recorded in a caller's budget hash. */
async function spent(admin: Redis, userId: string): Promise<number> {
  const buckets = await admin.hgetall(`agent-security:rl:{user:${userId}}:tokens`);
  return Object.values(buckets).reduce((sum, value) => sum + Number(value), 0);
}

describe('Reserved token budgets (a real redis-server)', () => {
  let redis: RedisProcess;
  let admin: Redis;
  let one: BuiltApp;
  let two: BuiltApp;
  let seq = 0;
  const userId = () => `reserve-${process.pid}-${++seq}`;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    const options = { redis: redis.url, tiers: TIERS, defaultTier: 'free', throttling: { commandTimeoutMs: 2000 } };
    one = await buildApp(options, [ChatController]);
    two = await buildApp(options, [ChatController]);
  });
  afterAll(async () => {
    open();
    await one.close();
    await two.close();
    admin.disconnect();
    await redis.stop();
  });

  it('10 concurrent chats with max_tokens 100 on a 300-token budget: 3 run, spend at most 300; 7 are refused; no extra script call', async () => {
    const id = userId();
    const caller = one.bearer(id);
    void closeGate();
    handlerRuns = 0;
    await admin.config('RESETSTAT');
    const chats = Array.from({ length: 10 }, () =>
      request(one.server)
        .post('/chat')
        .set(caller)
        .send({ max_tokens: 100, spend: 100 })
        .then((r) => r),
    );
    await eventually(async () => handlerRuns === 3 && (await scriptCalls(admin)) === 10);
    open();
    const responses = await Promise.all(chats);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(7);
    for (const r of refused) {
      expect(r.body).toMatchObject({
        message: 'Token budget exceeded',
        code: 'token_budget_exceeded',
        tokenLimit: 300,
        tokensRequested: 100,
      });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    await eventually(async () => (await spent(admin, id)) === 300);
    // One admission per chat and one record per admitted chat, which replaces its reservation: as without reservations.
    expect(await scriptCalls(admin)).toBe(13);
    expect(await admin.zcard(`agent-security:rl:{user:${id}}:reserved`)).toBe(0);
  });

  it('replaces the reservation by what was spent: unspent tokens are free again at once', async () => {
    const id = userId();
    const caller = one.bearer(id);
    gate = Promise.resolve();
    for (let i = 0; i < 3; i++)
      await request(one.server).post('/chat').set(caller).send({ max_tokens: 100, spend: 10 }).expect(200);
    await eventually(async () => (await spent(admin, id)) === 30);
    const next = await request(one.server).post('/chat').set(caller).send({ max_tokens: 270, spend: 1 }).expect(200);
    expect(next.headers['x-tokenbudget-remaining']).toBe('270');
  });

  it("'none' keeps the soft check: concurrent requests all pass while anything is left", async () => {
    const caller = one.bearer(userId());
    void closeGate();
    const chats = Array.from({ length: 5 }, () =>
      request(one.server)
        .post('/soft')
        .set(caller)
        .send({ spend: 100 })
        .then((r) => r),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    open();
    expect((await Promise.all(chats)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it('two app instances on one Redis share the reservations', async () => {
    const id = userId();
    void closeGate();
    handlerRuns = 0;
    const chats = Array.from({ length: 10 }, (_, i) =>
      request((i % 2 === 0 ? one : two).server)
        .post('/chat')
        .set(one.bearer(id))
        .send({ max_tokens: 100, spend: 100 })
        .then((r) => r),
    );
    await eventually(
      async () => handlerRuns === 3 && (await admin.zcard(`agent-security:rl:{user:${id}}:reserved`)) === 3,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    open();
    const statuses = (await Promise.all(chats)).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    await eventually(async () => (await spent(admin, id)) === 300);
  });

  it('renews the reservation of a request that outlives its lease, and lets go of it when it ends', async () => {
    const short = await buildApp(
      {
        redis: redis.url,
        tiers: TIERS,
        defaultTier: 'free',
        streams: { leaseMs: 300 },
        throttling: { commandTimeoutMs: 2000 },
      },
      [ChatController],
    );
    try {
      const id = userId();
      void closeGate();
      const long = request(short.server)
        .post('/chat')
        .set(short.bearer(id))
        .send({ max_tokens: 250, spend: 10 })
        .then((r) => r);
      await new Promise((resolve) => setTimeout(resolve, 800)); // more than two leases
      const refused = await request(short.server)
        .post('/chat')
        .set(short.bearer(id))
        .send({ max_tokens: 100, spend: 1 })
        .expect(429);
      expect(refused.body.tokensReserved).toBe(250);
      open();
      expect((await long).status).toBe(200);
      await eventually(async () => (await spent(admin, id)) === 10);
      expect(await admin.zcard(`agent-security:rl:{user:${id}}:reserved`)).toBe(0);
    } finally {
      open();
      await short.close();
    }
  });

  it('releases at once the reservation of a client that left before the handler', async () => {
    const id = userId();
    const key = `agent-security:rl:{user:${id}}:reserved`;
    handlerRuns = 0;
    const address = one.app.getHttpServer().listening ? (one.app.getHttpServer().address() as AddressInfo) : undefined;
    const server =
      address === undefined
        ? await new Promise<AddressInfo>((resolve) => {
            const s = one.app.getHttpServer().listen(0, '127.0.0.1', () => resolve(s.address() as AddressInfo));
          })
        : address;
    // Redis holds every command for 400 ms: the client leaves while its admission waits.
    await admin.client('PAUSE', 400, 'ALL');
    const body = JSON.stringify({ max_tokens: 250, spend: 1 });
    const req = httpRequest({
      host: '127.0.0.1',
      port: server.port,
      path: '/chat',
      method: 'POST',
      headers: { ...one.bearer(id), 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('error', () => undefined);
    req.end(body);
    await new Promise((resolve) => setTimeout(resolve, 100));
    req.destroy();
    // The admission ran after the pause and took the reservation; the closed client's session gave it back.
    await new Promise((resolve) => setTimeout(resolve, 600));
    await eventually(async () => (await scriptCalls(admin)) > 0 && (await admin.zcard(key)) === 0);
    expect(handlerRuns).toBe(0);
    expect(await spent(admin, id)).toBe(0);
    gate = Promise.resolve();
    await request(one.server).post('/chat').set(one.bearer(id)).send({ max_tokens: 300, spend: 1 }).expect(200);
  });
});
