import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { StoreErrorPolicy } from '@agent-security/core';
import { bearer, signToken, startDemo } from './support/demo-app';
import { startRedis, type RedisProcess } from './support/redis-server';
import { onEachPlatform } from './support/platform';

const COMMAND_TIMEOUT_MS = 200;
let seq = 0;
const token = () => signToken({ sub: `budgeted-${process.pid}-${++seq}` });

onEachPlatform(() => {
  describe('A budgeted route while Redis hangs (SIGSTOP)', () => {
    let redis: RedisProcess;
    let app: INestApplication | undefined;

    beforeEach(async () => {
      redis = await startRedis();
    });
    afterEach(async () => {
      redis.resume();
      await app?.close();
      app = undefined;
      await redis.stop();
    });

    async function timed(count: number, send: () => request.Test): Promise<{ ms: number; statuses: Set<number> }> {
      const statuses = new Set<number>();
      const start = Date.now();
      for (let i = 0; i < count; i++) statuses.add((await send()).status);
      return { ms: Date.now() - start, statuses };
    }

    it.each<[StoreErrorPolicy, number]>([
      ['fallback', 200],
      ['deny', 503],
    ])(
      '%s: /agent/chat answers without waiting out the command timeout, as /me does, and readiness says down',
      async (policy, status) => {
        app = await startDemo(
          { throttling: { onStoreError: policy, commandTimeoutMs: COMMAND_TIMEOUT_MS } },
          { REDIS_URL: redis.url },
        );
        const server = app.getHttpServer();
        const chat = () => request(server).post('/agent/chat').set(bearer(token())).send({ message: 'hello there' });
        await chat().expect(200);
        redis.pause();
        await chat(); // finds Redis gone, once
        const me = await timed(10, () => request(server).get('/me').set(bearer(token())));
        const chats = await timed(10, chat);
        expect([...me.statuses]).toEqual([status]);
        expect([...chats.statuses]).toEqual([status]);
        // Each chat asked Redis for its budget and waited out the timeout: ten took at least ten timeouts. Half of that is
        // still tens of times what ten requests that do not ask take.
        expect(chats.ms).toBeLessThan((10 * COMMAND_TIMEOUT_MS) / 2);
        const ready = await request(server).get('/health/ready').expect(503);
        expect(ready.body.rateLimitStore).toMatchObject({ status: 'down', policy });
      },
    );
  });
});
