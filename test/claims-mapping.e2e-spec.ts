import { Controller, Get, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CurrentPrincipal, type AgentPrincipal, type AgentSecurityOptions } from '@agent-security/core';
import { bearer, signToken, TEST_SECRET } from './support/demo-app';
import { startApp } from '../libs/agent-security/test/support/build-app';
import { onEachPlatform } from './support/platform';

@Controller('whoami')
class WhoAmIController {
  @Get()
  whoami(@CurrentPrincipal() principal: AgentPrincipal) {
    return { userId: principal.userId, tier: principal.tier, scopes: principal.scopes };
  }
}

function start(jwt: Partial<AgentSecurityOptions['jwt']> = {}): Promise<INestApplication> {
  return startApp({ jwt: { secret: TEST_SECRET, ...jwt }, logging: false }, [WhoAmIController]);
}

onEachPlatform(() => {
  describe('Claims mapping (e2e)', () => {
    const whoami = async (app: INestApplication, claims: Record<string, unknown>, status = 200) =>
      (
        await request(app.getHttpServer())
          .get('/whoami')
          .set(bearer(signToken(claims)))
          .expect(status)
      ).body;

    describe('defaults', () => {
      let app: INestApplication;
      beforeAll(async () => (app = await start()));
      afterAll(() => app.close());

      it('reads sub, tier and a space-separated scope', async () => {
        expect(await whoami(app, { tier: 'pro', scope: 'agent:tools  agent:read' })).toEqual({
          userId: 'alice',
          tier: 'pro',
          scopes: ['agent:tools', 'agent:read'],
        });
      });

      it('reads scp (array or string) and permissions, together with scope', async () => {
        expect((await whoami(app, { scp: ['a', 'b'] })).scopes).toEqual(['a', 'b']);
        expect((await whoami(app, { scp: 'a b' })).scopes).toEqual(['a', 'b']);
        expect((await whoami(app, { scope: 'openid', permissions: ['agent:tools', 'openid'] })).scopes).toEqual([
          'openid',
          'agent:tools',
        ]);
      });

      it('grants no scopes for a malformed claim', async () => {
        expect((await whoami(app, { scope: 42, scp: { a: 1 }, permissions: [1, null] })).scopes).toEqual([]);
      });
    });

    it('reads namespaced claims by name', async () => {
      const app = await start({
        claims: {
          subject: 'https://example.com/user',
          tier: 'https://example.com/tier',
          scopes: 'https://example.com/scopes',
        },
      });
      try {
        const body = await whoami(app, {
          sub: 'auth0|123',
          'https://example.com/user': 'user-7',
          'https://example.com/tier': 'enterprise',
          'https://example.com/scopes': ['agent:tools'],
          tier: 'pro',
          scope: 'other',
        });
        expect(body).toEqual({ userId: 'user-7', tier: 'enterprise', scopes: ['agent:tools'] });
        // The named subject claim is required, as sub is by default.
        await whoami(app, { 'https://example.com/tier': 'pro' }, 401);
      } finally {
        await app.close();
      }
    });

    it('takes what a function returns, the defaults for what it leaves out, once per verified token', async () => {
      let calls = 0;
      const app = await start({
        claims: (claims) => {
          calls++;
          const meta = claims.app_metadata as { plan?: string } | undefined;
          return { tier: meta?.plan };
        },
      });
      try {
        const token = signToken({ app_metadata: { plan: 'pro' }, scope: 'agent:tools' });
        for (let i = 0; i < 3; i++) {
          const res = await request(app.getHttpServer()).get('/whoami').set(bearer(token)).expect(200);
          expect(res.body).toEqual({ userId: 'alice', tier: 'pro', scopes: ['agent:tools'] });
        }
        expect(calls).toBe(1);
      } finally {
        await app.close();
      }
    });

    it('refuses a token whose mapping function throws, as an invalid token', async () => {
      const app = await start({
        claims: () => {
          throw new Error('no');
        },
      });
      try {
        const res = await request(app.getHttpServer()).get('/whoami').set(bearer(signToken())).expect(401);
        expect(res.body.message).toBe('Invalid token');
      } finally {
        await app.close();
      }
    });

    it('refuses bad claim names at start-up, naming the option', async () => {
      await expect(start({ claims: { tier: '' } })).rejects.toThrow(
        /"jwt.claims.tier": must be a non-empty claim name/,
      );
    });
  });
});
