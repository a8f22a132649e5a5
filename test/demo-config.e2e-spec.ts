import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { loadDemoConfig } from '../src/demo-config';
import { bearer, signToken, startDemo } from './support/demo-app';
import { startRedis, type RedisProcess } from './support/redis-server';
import { onEachPlatform } from './support/platform';

onEachPlatform(() => {
  describe('The demo reads AGENT_SECURITY_ON_STORE_ERROR', () => {
    it('passes fallback, allow or deny to the module, and leaves the default when unset', () => {
      for (const policy of ['fallback', 'allow', 'deny'] as const) {
        expect(loadDemoConfig({ AGENT_SECURITY_ON_STORE_ERROR: policy }).security.throttling).toEqual({
          onStoreError: policy,
        });
      }
      expect(loadDemoConfig({}).security.throttling).toBeUndefined();
    });

    it('refuses to start on anything else, naming the variable and the choices', () => {
      for (const value of ['Deny', 'reject', 'deny ']) {
        expect(() => loadDemoConfig({ AGENT_SECURITY_ON_STORE_ERROR: value })).toThrow(
          `AGENT_SECURITY_ON_STORE_ERROR must be one of fallback, allow, deny, got ${JSON.stringify(value)}`,
        );
      }
    });

    describe('on a demo whose Redis is gone', () => {
      let redis: RedisProcess;
      let app: INestApplication | undefined;
      beforeEach(async () => {
        redis = await startRedis();
      });
      afterEach(async () => {
        await app?.close();
        app = undefined;
        await redis.stop();
      });

      it.each([
        ['deny', 503],
        ['allow', 200],
      ])('%s answers %i', async (policy, status) => {
        app = await startDemo({}, { REDIS_URL: redis.url, AGENT_SECURITY_ON_STORE_ERROR: policy });
        const token = signToken({ sub: `demo-config-${policy}` });
        await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(200);
        await redis.stop();
        await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(status);
      });
    });
  });
});
