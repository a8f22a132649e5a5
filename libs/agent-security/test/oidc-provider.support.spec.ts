import { startProvider, type RunningProvider, rsaSigningKey } from '../../../test/support/oidc-provider';

function header(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
}
function payload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

describe('the test OpenID Provider (test/support/oidc-provider.ts)', () => {
  let provider: RunningProvider;
  afterEach(() => provider?.stop());

  it('issues RS256 at+jwt access tokens for the resource, publishes its keys and counts JWKS fetches', async () => {
    provider = await startProvider({ clients: [{ id: 'agent-1' }], extraClaims: { tier: 'pro' } });
    const token = await provider.token('agent-1', 'agent:tools');
    expect(header(token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: provider.keys[0].kid });
    expect(payload(token)).toMatchObject({
      iss: provider.issuer,
      aud: 'https://api.test/',
      sub: 'agent-1',
      scope: 'agent:tools',
      tier: 'pro',
    });
    const discovery = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()) as {
      jwks_uri: string;
    };
    expect(discovery.jwks_uri).toBe(provider.jwksUri);
    const jwks = (await (await fetch(provider.jwksUri)).json()) as { keys: { kid: string; d?: string }[] };
    expect(jwks.keys.map((key) => key.kid)).toEqual([provider.keys[0].kid]);
    expect(jwks.keys[0].d).toBeUndefined();
    expect(provider.jwksRequests()).toBe(1);
    expect(provider.discoveryRequests()).toBe(1);
  });

  it('restarts on the same issuer with a new signing key first while still publishing the old one', async () => {
    provider = await startProvider();
    const old = provider.keys[0];
    await provider.restart([rsaSigningKey('rotated'), old]);
    const token = await provider.token('agent');
    expect(header(token).kid).toBe('rotated');
    const jwks = (await (await fetch(provider.jwksUri)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((key) => key.kid)).toEqual(['rotated', old.kid]);
    await provider.stop();
    await expect(fetch(provider.jwksUri)).rejects.toThrow();
  });
});
