// An RS256 signing key, its JWKS served on loopback (with an OpenID Connect discovery document), and 1,000 RS256
// tokens signed with it: the rows that verify tokens from a provider's JWKS (6h, 7d).
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import jwt from 'jsonwebtoken';
import { CALLERS } from './common.mjs';
import { freePort } from './process.mjs';

/** The `aud` of the RS256 tokens, and what the JWKS rows require. */
export const JWKS_AUDIENCE = 'https://bench.agent-security.test/';
const KID = 'bench-rs256';

/**
 * Starts the JWKS server: `GET /.well-known/openid-configuration` and `GET /jwks`, counting JWKS fetches.
 * Returns { issuer, jwksUri, tokens, jwksRequests(), stop() }; `tokens` are sub user-0..user-999, tier pro, 1 h.
 */
export async function startJwks(count = CALLERS) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const jwksUri = `${issuer}/jwks`;
  const jwks = JSON.stringify({
    keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }],
  });
  const discovery = JSON.stringify({ issuer, jwks_uri: jwksUri });
  let fetched = 0;
  const server = createServer((req, res) => {
    const body = req.url === '/jwks' ? jwks : req.url === '/.well-known/openid-configuration' ? discovery : undefined;
    if (req.url === '/jwks') fetched++;
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(body ?? '{}');
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const tokens = new Array(count);
  for (let i = 0; i < count; i++) {
    tokens[i] = jwt.sign({ sub: `user-${i}`, tier: 'pro' }, privateKey, {
      algorithm: 'RS256',
      keyid: KID,
      issuer,
      audience: JWKS_AUDIENCE,
      expiresIn: '1h',
    });
  }
  return {
    issuer,
    jwksUri,
    tokens,
    jwksRequests: () => fetched,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
