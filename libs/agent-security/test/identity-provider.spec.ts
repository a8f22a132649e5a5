import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'crypto';
import type { JWK as JsonWebKey } from 'jose';
import { importJWK, SignJWT } from 'jose';
import request from 'supertest';
import { freePort } from '../../../test/support/redis-server';
import { publicJwk, rsaSigningKey, startProvider, type RunningProvider } from '../../../test/support/oidc-provider';
import { startJwtApp, type JwtApp } from './support/jwt-app';

const AUDIENCE = 'https://api.test/';
const b64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** RS256 over a payload given as text, so that it can hold what JSON.stringify cannot write (1e309). */
function signRs256(key: JsonWebKey, header: Record<string, unknown>, payload: string): string {
  const input = `${b64url({ alg: 'RS256', kid: key.kid, ...header })}.${b64url(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), createPrivateKey({ key, format: 'jwk' })).toString('base64url')}`;
}

async function signJose(
  key: JsonWebKey,
  alg: string,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(await importJWK(key as never, alg));
}

function privateJwk(kid: string, type: 'ec' | 'ed25519', namedCurve?: string): JsonWebKey {
  const { privateKey } =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: namedCurve as string }) : generateKeyPairSync('ed25519');
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}

describe('issuer mode against a real OpenID Provider (oidc-provider)', () => {
  let provider: RunningProvider;
  let app: JwtApp | undefined;
  const get = (token: string) => request(app!.app.getHttpServer()).get('/me').set('Authorization', `Bearer ${token}`);
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: provider.issuer,
    aud: AUDIENCE,
    sub: 'agent',
    exp: now() + 300,
    ...extra,
  });

  beforeEach(async () => {
    provider = await startProvider({ clients: [{ id: 'agent' }, { id: 'other' }], extraClaims: { tier: 'pro' } });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await provider.stop();
  });

  it("finds the JWKS through discovery and accepts the provider's at+jwt token", async () => {
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE });
    const token = await provider.token('agent', 'agent:tools');
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())).toMatchObject({
      typ: 'at+jwt',
      alg: 'RS256',
    });
    await get(token).expect(200, { userId: 'agent', tier: 'pro' });
    await get(token).expect(200);
    expect(provider.discoveryRequests()).toBe(1);
    expect(provider.jwksRequests()).toBe(1);
  });

  it('takes the JWKS from jwt.jwksUri without discovery', async () => {
    app = await startJwtApp({ issuer: provider.issuer, jwksUri: provider.jwksUri, audience: AUDIENCE });
    await get(await provider.token('agent')).expect(200);
    expect(provider.discoveryRequests()).toBe(0);
    expect(provider.jwksRequests()).toBe(1);
  });

  it('answers a cached token synchronously', async () => {
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE });
    const { TokenVerifier } = await import('../src/auth/token-verifier');
    const verifier = app.app.get(TokenVerifier);
    const token = await provider.token('agent');
    const first = verifier.verify(token);
    expect(first).toBeInstanceOf(Promise);
    const principal = await first;
    expect(verifier.verify(token)).toBe(principal);
  });

  it('refuses a token of the same provider for another audience', async () => {
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE });
    const res = await get(await provider.token('agent', undefined, { resource: 'https://other-api.test/' })).expect(
      401,
    );
    expect(res.body).toMatchObject({ message: 'Invalid token', code: 'invalid_token' });
    expect(app.refusals()).toEqual(['audience']);
  });

  it('refuses a token of another issuer and one without iss', async () => {
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE });
    const key = provider.keys[0];
    await get(signRs256(key, {}, JSON.stringify(claims({ iss: 'https://evil.test/' })))).expect(401);
    const { iss, ...noIssuer } = claims();
    void iss;
    await get(signRs256(key, {}, JSON.stringify(noIssuer))).expect(401);
    expect(app.refusals()).toEqual(['issuer', 'issuer']);
  });

  it('refuses HS256 "signed" with the provider\'s public key', async () => {
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE });
    const pem = createPublicKey({ key: publicJwk(provider.keys[0]), format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const input = `${b64url({ alg: 'HS256', typ: 'JWT', kid: provider.keys[0].kid })}.${b64url(claims())}`;
    const forged = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    const res = await get(forged).expect(401);
    expect(res.body.code).toBe('invalid_token');
    expect(app.refusals()).toEqual(['algorithm']);
  });

  it("keeps accepting the old key's tokens after a rotation, and takes the new key once its cooldown has passed", async () => {
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE, jwks: { cooldownMs: 200 } });
    const old = await provider.token('agent');
    await get(old).expect(200);
    const before = await provider.token('other');
    await provider.restart([rsaSigningKey('rotated'), provider.keys[0]]);
    const rotated = await provider.token('agent');
    expect(JSON.parse(Buffer.from(rotated.split('.')[0], 'base64url').toString()).kid).toBe('rotated');
    await sleep(250);
    await get(rotated).expect(200);
    await get(before).expect(200);
    await get(old).expect(200);
    expect(provider.jwksRequests()).toBe(2);
  });

  it('verifies RS384, PS256, ES256, ES384 and EdDSA tokens by kid, each only with a key of its own type', async () => {
    // Without "alg", so that one RSA key serves RS*, PS* alike.
    const { alg: _alg, ...rsa } = provider.keys[0] as JsonWebKey & { alg?: string };
    void _alg;
    const es256 = privateJwk('es256', 'ec', 'P-256');
    const es384 = privateJwk('es384', 'ec', 'P-384');
    const ed = privateJwk('ed', 'ed25519');
    await provider.restart([rsa, es256, es384, ed]);
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE });
    for (const [key, alg] of [
      [rsa, 'RS384'],
      [rsa, 'PS256'],
      [rsa, 'PS512'],
      [es256, 'ES256'],
      [es384, 'ES384'],
      [ed, 'EdDSA'],
    ] as const) {
      await get(await signJose(key, alg, claims({ sub: alg }))).expect(200, { userId: alg, tier: 'free' });
    }
    // The ES256 key named for an RS256 token, or the RSA key for ES256: refused, whatever the token says.
    const forgedKid = await signJose(rsa, 'RS256', claims(), { kid: 'es256' });
    await get(forgedKid).expect(401);
    expect(app.refusals()).toEqual(['unknown_kid']);
  });

  it('keeps verifying with the keys it holds while the provider is down, refuses an unknown kid within the timeout, and drops keys past staleMaxAgeMs', async () => {
    const startedAt = Date.now();
    app = await startJwtApp({
      issuer: provider.issuer,
      audience: AUDIENCE,
      jwks: { cooldownMs: 0, timeoutMs: 1500, cacheMaxAgeMs: 100, staleMaxAgeMs: 3000 },
    });
    await get(await provider.token('agent')).expect(200);
    const unused = await provider.token('other');
    const stranger = rsaSigningKey('stranger');
    provider.hang(true);
    await sleep(150); // past cacheMaxAgeMs: a refetch is due, and hangs
    let started = Date.now();
    // A known key does not wait for the refetch (it would take the whole timeout).
    await get(unused).expect(200, { userId: 'other', tier: 'pro' });
    expect(Date.now() - started).toBeLessThan(700);
    started = Date.now();
    // An unknown kid waits for the hung refetch, and no longer than its timeout.
    await get(signRs256(stranger, {}, JSON.stringify(claims()))).expect(401);
    expect(Date.now() - started).toBeGreaterThan(1000);
    expect(Date.now() - started).toBeLessThan(2500);
    await provider.stop();
    started = Date.now();
    await get(signRs256(stranger, {}, JSON.stringify(claims({ sub: 'x' })))).expect(401);
    expect(Date.now() - started).toBeLessThan(1000);
    // Past staleMaxAgeMs since the last answer: the keys are dropped.
    await sleep(Math.max(0, startedAt + 3300 - Date.now()));
    await get(signRs256(provider.keys[0], {}, JSON.stringify(claims({ sub: 'late' })))).expect(401);
    expect(app.refusals()).toEqual(['unknown_kid', 'unknown_kid', 'jwks_unavailable']);
  });

  it('fetches the JWKS at most once per cooldown under a flood of made-up kids', async () => {
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE });
    await get(await provider.token('agent')).expect(200);
    const fetched = provider.jwksRequests();
    const attacker = rsaSigningKey('attacker');
    const flood = Array.from({ length: 200 }, (_, i) =>
      signRs256({ ...attacker, kid: `made-up-${i}` }, {}, JSON.stringify(claims({ sub: `s${i}` }))),
    );
    const statuses = await Promise.all(flood.map(async (token) => (await get(token)).status));
    expect(statuses.every((status) => status === 401)).toBe(true);
    expect(provider.jwksRequests() - fetched).toBeLessThanOrEqual(1);
    expect(app.refusals().filter((reason) => reason === 'unknown_kid')).toHaveLength(200);
  });

  it('starts while the provider is down and verifies once it answers', async () => {
    const token = await provider.token('agent');
    await provider.stop();
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE });
    const res = await get(token).expect(401);
    expect(res.body.code).toBe('invalid_token');
    await provider.restart();
    const deadline = Date.now() + 8000;
    let status = 401;
    while (status !== 200 && Date.now() < deadline) {
      await sleep(200);
      status = (await get(token)).status;
    }
    expect(status).toBe(200);
    expect(app.refusals()[0]).toBe('jwks_unavailable');
  });

  it('refuses a typ of another kind of JWT, a crit header, and an exp of 1e309, without fetching for them', async () => {
    app = await startJwtApp({ issuer: provider.issuer, audience: AUDIENCE });
    await get(await provider.token('agent')).expect(200);
    const key = provider.keys[0];
    await get(signRs256(key, { typ: 'JWT' }, JSON.stringify(claims({ sub: 'plain' })))).expect(200);
    await get(signRs256(key, { typ: 'logout+jwt' }, JSON.stringify(claims()))).expect(401);
    await get(signRs256(key, { crit: ['exp'], exp: 1 }, JSON.stringify(claims()))).expect(401);
    await get(
      signRs256(key, {}, `{"iss":"${provider.issuer}","aud":"${AUDIENCE}","sub":"forever","exp":1e309}`),
    ).expect(401);
    expect(app.refusals()).toEqual(['type', 'crit', 'invalid_time']);
    expect(provider.jwksRequests()).toBe(1);
  });
});

describe('issuer mode start-up', () => {
  it('does not wait for the provider: init returns while the JWKS fetch hangs', async () => {
    const port = await freePort();
    const { createServer } = await import('net');
    const sockets: import('net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)).listen(port, '127.0.0.1');
    const started = Date.now();
    const app = await startJwtApp({ issuer: `http://127.0.0.1:${port}`, audience: AUDIENCE });
    expect(Date.now() - started).toBeLessThan(2000);
    await app.close();
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
});
