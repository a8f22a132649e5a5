import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { loadDemoConfig } from '../src/demo-config';
import { startDemo } from './support/demo-app';
import { startProvider, type RunningProvider } from './support/oidc-provider';
import { onEachPlatform } from './support/platform';

onEachPlatform(() => {
  describe('the demo in issuer mode (JWT_ISSUER, JWT_AUDIENCE, JWT_JWKS_URI)', () => {
    let provider: RunningProvider;
    let app: INestApplication | undefined;
    beforeAll(async () => {
      provider = await startProvider({ extraClaims: { tier: 'pro' } });
    });
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });
    afterAll(() => provider.stop());

    it.each([
      ['discovery', () => ({})],
      ['JWT_JWKS_URI', () => ({ JWT_JWKS_URI: provider.jwksUri })],
    ])("verifies the provider's tokens through %s", async (_name, extra) => {
      app = await startDemo(
        {},
        { JWT_SECRET: '', JWT_ISSUER: provider.issuer, JWT_AUDIENCE: 'https://api.test/', ...extra() },
      );
      const token = await provider.token('agent');
      await request(app.getHttpServer())
        .get('/me')
        .set('Authorization', `Bearer ${token}`)
        .expect(200, { userId: 'agent', tier: 'pro' });
    });

    it('refuses JWT_ISSUER together with JWT_SECRET, and starts without the dev-secret warning in issuer mode', () => {
      expect(() => loadDemoConfig({ JWT_ISSUER: 'https://idp.example/', JWT_SECRET: 'x'.repeat(32) })).toThrow(
        /not both/,
      );
      expect(loadDemoConfig({ JWT_ISSUER: 'https://idp.example/', JWT_AUDIENCE: 'api' }).usingDevSecret).toBe(false);
    });
  });
});
