import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { importJWK, SignJWT } from 'jose';
import request from 'supertest';
import { AgentSecurityModule, type JwtOptions } from '@agent-security/core';
import { startProvider, type RunningProvider } from './support/oidc-provider';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

@Controller('me')
class MeController {
  @Get()
  me() {
    return { ok: true };
  }
}

/**
 * jwt.accessTokenType in issuer mode, against a real OpenID Provider: its access tokens are `typ: at+jwt`; a token
 * signed with its key as `typ: JWT` or with no `typ`, for the same audience, is what an ID token for a client id
 * looks like (and what Auth0 and Entra send as access tokens).
 */
onEachPlatform(() => {
  describe('jwt.accessTokenType (e2e, issuer mode with a real OpenID Provider)', () => {
    const audience = 'https://api.test/';
    let provider: RunningProvider;
    const apps: INestApplication[] = [];

    beforeAll(async () => {
      provider = await startProvider({ resource: audience });
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      await provider?.stop();
    });

    async function appWith(jwt: Partial<JwtOptions>): Promise<INestApplication> {
      @Module({
        imports: [AgentSecurityModule.forRoot({ jwt: { issuer: provider.issuer, audience, ...jwt }, logging: false })],
        controllers: [MeController],
      })
      class App {}
      const app = (await Test.createTestingModule({ imports: [App] }).compile()).createNestApplication(
        httpAdapterFor(),
        { logger: false },
      );
      apps.push(app);
      await app.init();
      await whenReady(app);
      return app;
    }

    /** Signed with the provider's own key, as the provider would sign an ID token. */
    async function signedByProvider(typ: string | undefined): Promise<string> {
      const jwk = provider.keys[0];
      const header = { alg: 'RS256', kid: jwk.kid as string, ...(typ === undefined ? {} : { typ }) };
      return new SignJWT({ nonce: 'n', azp: 'agent' })
        .setProtectedHeader(header)
        .setIssuer(provider.issuer)
        .setAudience(audience)
        .setSubject('user-1')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(await importJWK(jwk, 'RS256'));
    }

    const status = async (app: INestApplication, token: string) =>
      (await request(app.getHttpServer()).get('/me').set('Authorization', `Bearer ${token}`)).status;

    it("takes the provider's at+jwt access tokens, and by default also typ JWT or none", async () => {
      const app = await appWith({});
      const accessToken = await provider.token('agent');
      expect(JSON.parse(Buffer.from(accessToken.split('.')[0], 'base64url').toString()).typ).toBe('at+jwt');
      expect(await status(app, accessToken)).toBe(200);
      expect(await status(app, await signedByProvider('JWT'))).toBe(200);
      expect(await status(app, await signedByProvider(undefined))).toBe(200);
    });

    it("with 'at+jwt', refuses an ID-token-like typ JWT or no typ with 401 invalid_token, and keeps the access tokens", async () => {
      const app = await appWith({ accessTokenType: 'at+jwt' });
      expect(await status(app, await provider.token('agent'))).toBe(200);
      for (const typ of ['JWT', undefined]) {
        const res = await request(app.getHttpServer())
          .get('/me')
          .set('Authorization', `Bearer ${await signedByProvider(typ)}`)
          .expect(401);
        expect(res.body.code).toBe('invalid_token');
      }
      expect(await status(app, await signedByProvider('application/at+jwt'))).toBe(200);
    });

    it('refuses another value, and the option outside issuer mode, at start-up', async () => {
      await expect(appWith({ accessTokenType: 'AT+JWT' as never })).rejects.toThrow(
        /"jwt.accessTokenType": must be "at\+jwt" or "any", got "AT\+JWT"/,
      );
      await expect(appWith({ secret: 'x'.repeat(32), accessTokenType: 'at+jwt' })).rejects.toThrow(
        /"jwt.accessTokenType": applies in issuer mode only/,
      );
    });
  });
});
