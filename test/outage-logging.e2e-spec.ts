import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { StoreErrorPolicy } from '@agent-security/core';
import { bearer, signToken, startDemo } from './support/demo-app';
import { startRedis, type RedisProcess } from './support/redis-server';
import { onEachPlatform } from './support/platform';

/** Every line the module's logger writes, parsed. */
function captureLines() {
  const lines: Array<{ level: number; msg?: string; err?: unknown; status?: number }> = [];
  const destination = {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line !== '') lines.push(JSON.parse(line));
      return true;
    },
  };
  return { lines, destination };
}

let seq = 0;
const token = () => signToken({ sub: `log-${process.pid}-${++seq}` });

onEachPlatform(() => {
  describe('Logging during a Redis outage', () => {
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

    const policies: StoreErrorPolicy[] = ['deny', 'fallback', 'allow'];
    for (const policy of policies) {
      it(`${policy}: 60 requests to a hung Redis (SIGSTOP) log the change of state, not a line per request`, async () => {
        const { lines, destination } = captureLines();
        app = await startDemo(
          { throttling: { onStoreError: policy, commandTimeoutMs: 50 }, logging: { level: 'warn', destination } },
          { REDIS_URL: redis.url },
        );
        const caller = token();
        await request(app.getHttpServer()).get('/me').set(bearer(caller)).expect(200);
        redis.pause();
        const statuses = new Set<number>();
        for (let i = 0; i < 60; i++) {
          const path = i % 2 === 0 ? '/me' : '/agent/chat';
          const req =
            path === '/me'
              ? request(app.getHttpServer()).get(path)
              : request(app.getHttpServer()).post(path).send({ message: 'hi' });
          const res = await req.set(bearer(token()));
          if (policy === 'deny') expect(res.body).toMatchObject({ statusCode: 503, code: 'store_unavailable' });
          statuses.add(res.status);
        }
        expect([...statuses]).toEqual(policy === 'deny' ? [503] : [200]);
        // At warn: the loss of Redis, once (and at most a line or two from the usage store's side of it).
        expect(lines.length).toBeGreaterThanOrEqual(1);
        expect(lines.length).toBeLessThanOrEqual(3);
        expect(lines.filter((line) => line.err !== undefined)).toHaveLength(0);
      });
    }
  });
});
