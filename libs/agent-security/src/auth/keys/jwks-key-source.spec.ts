import { generateKeyPairSync } from 'crypto';
import { createServer, type Server } from 'http';
import type { AddressInfo } from 'net';
import { pino } from 'pino';
import type { JwksConfig } from '../../agent-security.config';
import { KeyLookupError } from '../token-refusal';
import { JwksKeySource } from './jwks-key-source';
import { isLoopbackHost } from './key-url';

/** A provider on loopback whose discovery document names `jwksUri(issuer)` as its JWKS. */
async function provider(
  jwksUri: (issuer: string) => string,
): Promise<{ issuer: string; jwksRequests: () => number; close: () => Promise<void> }> {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
  let jwks = 0;
  let issuer = '';
  const server: Server = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    response.setHeader('connection', 'close');
    if (request.url === '/.well-known/openid-configuration')
      return response.end(JSON.stringify({ issuer, jwks_uri: jwksUri(issuer) }));
    if (request.url === '/jwks') {
      jwks++;
      return response.end(JSON.stringify({ keys: [jwk] }));
    }
    response.statusCode = 404;
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, jwksRequests: () => jwks, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function source(issuer: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const config: JwksConfig = {
    discoveryIssuer: issuer,
    cooldownMs: 30_000,
    timeoutMs: 2_000,
    cacheMaxAgeMs: 600_000,
    staleMaxAgeMs: 86_400_000,
  };
  return { keys: new JwksKeySource(config, logger), lines };
}

describe('JwksKeySource: the jwks_uri found by discovery', () => {
  it('takes a loopback http jwks_uri of a loopback issuer', async () => {
    const idp = await provider((issuer) => `${issuer}/jwks`);
    try {
      const { keys } = source(idp.issuer);
      await expect(keys.key('k1', 'RS256')).resolves.toMatchObject({ kid: 'k1' });
      expect(idp.jwksRequests()).toBe(1);
    } finally {
      await idp.close();
    }
  });

  it.each([
    ['a DNS name that starts with 127.', 'http://127.attacker.example/jwks'],
    ['a DNS name under 127.0.0.1', 'http://127.0.0.1.nip.io/jwks'],
    ['a public host', 'http://idp.example/jwks'],
  ])(
    'refuses %s over plain http, even from an http loopback issuer: jwks_unavailable, with the rule in the log',
    async (_name, jwksUri) => {
      const idp = await provider(() => jwksUri);
      try {
        const { keys, lines } = source(idp.issuer);
        const refused = await keys.key('k1', 'RS256').catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(KeyLookupError);
        expect((refused as KeyLookupError).reason).toBe('jwks_unavailable');
        expect(lines).toEqual([
          expect.objectContaining({
            level: 40,
            error: `the jwks_uri found by discovery must be an https URL (http only on a loopback host: 127.0.0.0/8, localhost, [::1]), got ${JSON.stringify(jwksUri)}`,
          }),
        ]);
        expect(idp.jwksRequests()).toBe(0);
      } finally {
        await idp.close();
      }
    },
  );
});

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.0.0.2', '127.255.255.255', 'localhost', '[::1]'])('takes %s', (host) =>
    expect(isLoopbackHost(host)).toBe(true),
  );
  it.each([
    '127.attacker.example',
    '127.0.0.1.nip.io',
    '128.0.0.1',
    '10.0.0.1',
    '[::ffff:7f00:1]',
    'localhost.example',
    '0.0.0.0',
  ])('refuses %s', (host) => expect(isLoopbackHost(host)).toBe(false));
});
