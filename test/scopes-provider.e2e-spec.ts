import { createPublicKey } from 'crypto';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { bearer, startDemo } from './support/demo-app';
import { publicJwk, startProvider, type RunningProvider } from './support/oidc-provider';
import { onEachPlatform } from './support/platform';

/**
 * Scopes of tokens a real OpenID Provider issues by client_credentials. Verified with the provider's signing key as a
 * PEM public key; issuer mode (keys from the provider's JWKS) is tested with the provider on its own.
 */
onEachPlatform(() => {
  describe('Scopes from a real OpenID Provider (e2e)', () => {
    const resource = 'https://api.test/';
    let provider: RunningProvider;
    let app: INestApplication;

    beforeAll(async () => {
      provider = await startProvider({
        resource,
        clients: [
          { id: 'tool-runner', scope: 'agent:tools agent:read' },
          { id: 'reader', scope: 'agent:read' },
        ],
      });
      const publicKey = createPublicKey({ key: publicJwk(provider.keys[0]), format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      });
      app = await startDemo({ jwt: { publicKey, algorithms: ['RS256'], issuer: provider.issuer, audience: resource } });
    });
    afterAll(async () => {
      await app?.close();
      await provider?.stop();
    });

    const callTool = (token: string) =>
      request(app.getHttpServer()).post('/agent/tools/search').set(bearer(token)).send({ query: 'x' });

    it('lets a token granted agent:tools call the tool', async () => {
      const token = await provider.token('tool-runner', 'agent:tools');
      const res = await callTool(token).expect(200);
      expect(res.body).toEqual({ tool: 'search', result: { arguments: { query: 'x' } } });
    });

    it('answers 403 insufficient_scope to a client not allowed agent:tools', async () => {
      // The provider itself refuses to grant it a scope it is not allowed.
      await expect(provider.token('reader', 'agent:tools')).rejects.toThrow(/invalid_scope/);
      const token = await provider.token('reader', 'agent:read');
      const res = await callTool(token).expect(403);
      expect(res.body.code).toBe('insufficient_scope');
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="agent-security", error="insufficient_scope", scope="agent:tools", ' +
          'resource_metadata="https://api.test/.well-known/oauth-protected-resource"',
      );
      // The same client's token is good where no scope is required.
      await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(200, { userId: 'reader', tier: 'free' });
    });

    it('publishes the provider as the authorization server of the audience, and names the document in 401s', async () => {
      const doc = await request(app.getHttpServer()).get('/.well-known/oauth-protected-resource').expect(200);
      expect(doc.body).toEqual({
        resource,
        authorization_servers: [provider.issuer],
        scopes_supported: ['agent:tools'],
        bearer_methods_supported: ['header'],
      });
      const refused = await callTool('').expect(401);
      expect(refused.headers['www-authenticate']).toBe(
        'Bearer realm="agent-security", scope="agent:tools", resource_metadata="https://api.test/.well-known/oauth-protected-resource"',
      );
      // What an MCP client does next: the document names the issuer, whose discovery names its token endpoint.
      const discovery = await fetch(`${doc.body.authorization_servers[0]}/.well-known/openid-configuration`).then(
        (r) => r.json() as Promise<{ token_endpoint: string }>,
      );
      expect(discovery.token_endpoint).toBe(`${provider.issuer}/token`);
    });
  });
});
