import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AGENT_SECURITY_STORE } from '../libs/agent-security/src/throttling/throttling.constants';
import { isAnonymousKey, MemoryThrottlerStorage } from '../libs/agent-security/src/throttling/memory-throttler.storage';
import type { WindowRule } from '../libs/agent-security/src/throttling/sliding-window.interface';
import { bearer, signToken, startDemo } from './support/demo-app';
import { onEachPlatform } from './support/platform';

/** The memory store tells anonymous callers from verified ones by the keys the guard builds: they must keep their shape. */
onEachPlatform(() => {
  describe('The keys the tier guard gives the memory store', () => {
    let app: INestApplication;
    afterAll(() => app.close());

    it('put a public route’s per-IP windows in the anonymous part, and a verified caller’s (and their route windows) in the other', async () => {
      app = await startDemo();
      const store = app.get<MemoryThrottlerStorage>(AGENT_SECURITY_STORE);
      expect(store).toBeInstanceOf(MemoryThrottlerStorage);
      const seen: WindowRule[][] = [];
      // consumeSync: the plain routes' consume and the budgeted routes' admission both count through it.
      const consumeSync = store.consumeSync.bind(store);
      store.consumeSync = (rules) => {
        seen.push([...rules]);
        return consumeSync(rules);
      };
      await request(app.getHttpServer()).get('/agent/models').expect(200);
      await request(app.getHttpServer())
        .post('/agent/chat')
        .set(bearer(signToken({ sub: 'ip:{x}' })))
        .send({ message: 'hi' })
        .expect(200);
      const [anonymous, verified] = seen;
      expect(anonymous.map((rule) => isAnonymousKey(rule.key))).toEqual([true]);
      expect(verified).toHaveLength(2);
      expect(verified.map((rule) => isAnonymousKey(rule.key))).toEqual([false, false]);
    });
  });
});
