import { createHmac } from 'crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { startJwtApp, type JwtApp } from './support/jwt-app';

const SECRET = 'token-hardening-secret-of-at-least-32-bytes';
const b64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** HS256 over a payload given as text, so that it can hold what JSON.stringify cannot write (1e309). */
function signRaw(payload: string, header: Record<string, unknown> = {}): string {
  const input = `${b64url({ alg: 'HS256', typ: 'JWT', ...header })}.${b64url(payload)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

describe('token hardening, secret mode (HS256)', () => {
  let app: JwtApp;
  beforeAll(async () => {
    app = await startJwtApp({ secret: SECRET });
  });
  afterAll(() => app.close());
  const get = (token: string) => request(app.app.getHttpServer()).get('/me').set('Authorization', `Bearer ${token}`);

  it('still accepts a plain token', async () => {
    await get(jwt.sign({ sub: 'alice' }, SECRET, { expiresIn: 60 })).expect(200, { userId: 'alice', tier: 'free' });
  });

  it('refuses a crit header: no extension is understood (RFC 7515 §4.1.11)', async () => {
    const res = await get(
      signRaw(JSON.stringify({ sub: 'alice', exp: now() + 60 }), { crit: ['exp'], exp: now() + 60 }),
    ).expect(401);
    expect(res.body).toMatchObject({ message: 'Invalid token', code: 'invalid_token' });
  });

  it.each([
    ['exp of 1e309 (Infinity: it never expires)', `{"sub":"alice","exp":1e309}`],
    ['nbf of -1e309', `{"sub":"alice","exp":${now() + 60},"nbf":-1e309}`],
    ['iat of 1e309', `{"sub":"alice","exp":${now() + 60},"iat":1e309}`],
    ['exp as a string', `{"sub":"alice","exp":"${now() + 60}"}`],
  ])('refuses an %s', async (_name, payload) => {
    const res = await get(signRaw(payload)).expect(401);
    expect(res.body.code).toBe('invalid_token');
  });

  it('refuses a subject that is not well-formed UTF-16, so that x\\ud800 and x\\udbff never share a window', async () => {
    for (const sub of ['x\ud800', 'x\udbff', '\udc00x']) {
      await get(signRaw(JSON.stringify({ sub, exp: now() + 60 }))).expect(401);
    }
    // A well-formed astral character (a surrogate pair) is a subject like any other.
    await get(signRaw(JSON.stringify({ sub: 'x\ud83d\ude00', exp: now() + 60 }))).expect(200, {
      userId: 'x\ud83d\ude00',
      tier: 'free',
    });
  });
});

describe('refusals: one debug line each with the reason, a code in the body', () => {
  let app: JwtApp;
  beforeAll(async () => {
    app = await startJwtApp({ secret: SECRET, issuer: 'tests', audience: 'api' });
  });
  afterAll(() => app.close());
  const get = (headers: Record<string, string>) => request(app.app.getHttpServer()).get('/me').set(headers);
  const good = (claims: Record<string, unknown> = {}, options: jwt.SignOptions = {}) =>
    jwt.sign({ sub: 'alice', ...claims }, SECRET, {
      ...('exp' in claims ? {} : { expiresIn: 60 }),
      issuer: 'tests',
      audience: 'api',
      ...options,
    });

  it.each<[string, string, string | undefined, () => Record<string, string>]>([
    ['no token', 'missing_token', undefined, () => ({})],
    ['an expired token', 'token_expired', 'expired', () => ({ Authorization: `Bearer ${good({ exp: now() - 10 })}` })],
    [
      'a token not yet valid',
      'invalid_token',
      'not_yet_valid',
      () => ({ Authorization: `Bearer ${good({ nbf: now() + 600 })}` }),
    ],
    [
      'another audience',
      'invalid_token',
      'audience',
      () => ({ Authorization: `Bearer ${good({}, { audience: 'other' })}` }),
    ],
    ['another issuer', 'invalid_token', 'issuer', () => ({ Authorization: `Bearer ${good({}, { issuer: 'evil' })}` })],
    ['a bad signature', 'invalid_token', 'signature', () => ({ Authorization: `Bearer ${good().slice(0, -4)}AAAA` })],
    [
      'another algorithm',
      'invalid_token',
      'algorithm',
      () => ({
        Authorization: `Bearer ${jwt.sign({ sub: 'alice' }, SECRET.repeat(2), { algorithm: 'HS384', expiresIn: 60, issuer: 'tests', audience: 'api' })}`,
      }),
    ],
    ['a malformed token', 'invalid_token', 'malformed', () => ({ Authorization: 'Bearer not-a-jwt' })],
    [
      'no subject',
      'invalid_token',
      'no_subject',
      () => ({
        Authorization: `Bearer ${jwt.sign({ tier: 'pro' }, SECRET, { expiresIn: 60, issuer: 'tests', audience: 'api' })}`,
      }),
    ],
    [
      'a crit header',
      'invalid_token',
      'crit',
      () => ({
        Authorization: `Bearer ${signRaw(JSON.stringify({ sub: 'alice', exp: now() + 60, iss: 'tests', aud: 'api' }), { crit: ['x'] })}`,
      }),
    ],
  ])('%s: code %s, one debug line with reason %s, never the token', async (_name, code, reason, headers) => {
    const before = app.lines().length;
    const sent = headers();
    const res = await get(sent).expect(401);
    expect(res.body.code).toBe(code);
    expect(res.body.message).toBe(
      code === 'missing_token'
        ? 'Missing or invalid auth token'
        : code === 'token_expired'
          ? 'Token expired'
          : 'Invalid token',
    );
    const lines = app.lines().slice(before);
    const refused = lines.filter((line) => line.msg === 'token refused');
    expect(refused.map((line) => line.reason)).toEqual(reason === undefined ? [] : [reason]);
    if (refused.length) expect(refused[0].level).toBe(20);
    const token = sent.Authorization?.slice(7);
    if (token) expect(JSON.stringify(lines)).not.toContain(token);
  });
});
