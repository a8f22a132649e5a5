import { Controller, Get, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { RequireScopes, TokenBudget, Usage, type UsageMeter } from '@agent-security/core';
import { bearer, signToken, TEST_SECRET } from './support/demo-app';
import { startApp } from '../libs/agent-security/test/support/build-app';
import { onEachPlatform } from './support/platform';

@RequireScopes('agent:read')
@Controller('scoped')
class ScopedController {
  @Get('read')
  read() {
    return { ok: 'read' };
  }

  /** The controller's scope and its own, both required. */
  @RequireScopes('agent:tools')
  @Get('tools')
  tools() {
    return { ok: 'tools' };
  }

  @RequireScopes('agent:tools')
  @TokenBudget()
  @Get('spend')
  spend(@Usage() usage: UsageMeter) {
    usage.add({ inputTokens: 100 });
    return { ok: 'spend' };
  }
}

@RequireScopes('agent:read')
@RequireScopes('agent:write')
@Controller('stacked')
class StackedController {
  /** Stacked on the handler too: every decorator adds up, none overwrites another. */
  @RequireScopes('agent:admin')
  @RequireScopes('agent:tools', 'agent:read')
  @Get()
  stacked() {
    return { ok: 'stacked' };
  }
}

onEachPlatform(() => {
  describe('@RequireScopes (e2e)', () => {
    let app: INestApplication;
    let user = 0;
    // A fresh caller per test: every test starts with a full request window and token budget.
    const token = (scope?: string) => signToken({ sub: `user-${user}`, ...(scope === undefined ? {} : { scope }) });

    beforeAll(async () => {
      app = await startApp(
        {
          jwt: { secret: TEST_SECRET },
          tiers: { free: { limit: 2, windowMs: 60_000, tokens: { limit: 50, windowMs: 60_000 } } },
          logging: false,
        },
        [ScopedController, StackedController],
      );
    });
    afterAll(() => app.close());
    beforeEach(() => user++);

    it('lets a token with every required scope through', async () => {
      await request(app.getHttpServer())
        .get('/scoped/tools')
        .set(bearer(token('agent:read agent:tools')))
        .expect(200, { ok: 'tools' });
    });

    it('answers 403 insufficient_scope with the RFC 6750 challenge naming every required scope', async () => {
      const res = await request(app.getHttpServer())
        .get('/scoped/tools')
        .set(bearer(token('agent:read')))
        .expect(403);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="agent-security", error="insufficient_scope", scope="agent:read agent:tools"',
      );
      expect(res.body).toMatchObject({
        statusCode: 403,
        error: 'Forbidden',
        message: 'Insufficient scope',
        code: 'insufficient_scope',
        requiredScopes: ['agent:read', 'agent:tools'],
      });
      expect(typeof res.body.requestId).toBe('string');
    });

    it('adds up stacked decorators on a handler and on a controller: a token lacking any of them gets 403 naming them all', async () => {
      const all = ['agent:read', 'agent:write', 'agent:admin', 'agent:tools'];
      for (const missing of all) {
        const scope = all.filter((s) => s !== missing).join(' ');
        const res = await request(app.getHttpServer())
          .get('/stacked')
          .set(bearer(token(scope)))
          .expect(403);
        expect(res.body.requiredScopes).toEqual(all);
        expect(res.headers['www-authenticate']).toBe(
          `Bearer realm="agent-security", error="insufficient_scope", scope="${all.join(' ')}"`,
        );
      }
      await request(app.getHttpServer())
        .get('/stacked')
        .set(bearer(token(all.join(' '))))
        .expect(200, { ok: 'stacked' });
    });

    it("requires the controller's scope on every handler", async () => {
      await request(app.getHttpServer())
        .get('/scoped/read')
        .set(bearer(token('agent:tools')))
        .expect(403);
      await request(app.getHttpServer())
        .get('/scoped/read')
        .set(bearer(token('agent:read')))
        .expect(200);
    });

    it('answers 401 to a missing or refused token first, naming the scopes the route needs (RFC 6750 §3)', async () => {
      const missing = await request(app.getHttpServer()).get('/scoped/tools').expect(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="agent-security", scope="agent:read agent:tools"');
      const refused = await request(app.getHttpServer()).get('/scoped/read').set(bearer('a.b.c')).expect(401);
      expect(refused.headers['www-authenticate']).toBe(
        'Bearer realm="agent-security", error="invalid_token", scope="agent:read"',
      );
    });

    it('counts no request for a refused scope: the window is untouched', async () => {
      for (let i = 0; i < 4; i++) {
        const res = await request(app.getHttpServer())
          .get('/scoped/read')
          .set(bearer(token('none')))
          .expect(403);
        expect(res.headers['x-ratelimit-remaining']).toBeUndefined();
      }
      const granted = token('agent:read');
      await request(app.getHttpServer()).get('/scoped/read').set(bearer(granted)).expect(200);
      await request(app.getHttpServer()).get('/scoped/read').set(bearer(granted)).expect(200);
      await request(app.getHttpServer()).get('/scoped/read').set(bearer(granted)).expect(429);
    });

    it('is checked before the token budget: a spent budget still answers 403 to a token without the scope', async () => {
      const granted = token('agent:read agent:tools');
      await request(app.getHttpServer()).get('/scoped/spend').set(bearer(granted)).expect(200);
      const spent = await request(app.getHttpServer()).get('/scoped/spend').set(bearer(granted)).expect(429);
      expect(spent.body.tokenLimit).toBe(50);
      await request(app.getHttpServer())
        .get('/scoped/spend')
        .set(bearer(token('agent:read')))
        .expect(403);
    });

    it('refuses a scope that cannot be written in a header, when decorating', () => {
      expect(() => RequireScopes('agent tools')).toThrow(/no scope token/);
      expect(() => RequireScopes('a"b')).toThrow(/no scope token/);
      expect(() => RequireScopes()).toThrow(/at least one scope/);
    });
  });
});
