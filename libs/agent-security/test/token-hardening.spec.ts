import { createHmac } from 'crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { startJwtApp, type JwtApp } from './support/jwt-app';

const SECRET = 'token-hardening-secret-of-at-least-32-bytes';
const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
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
    await get(signRaw(JSON.stringify({ sub: 'alice', exp: now() + 60 }), { crit: ['exp'], exp: now() + 60 })).expect(401, /Invalid token/);
  });

  it.each([
    ['exp of 1e309 (Infinity: it never expires)', `{"sub":"alice","exp":1e309}`],
    ['nbf of -1e309', `{"sub":"alice","exp":${now() + 60},"nbf":-1e309}`],
    ['iat of 1e309', `{"sub":"alice","exp":${now() + 60},"iat":1e309}`],
    ['exp as a string', `{"sub":"alice","exp":"${now() + 60}"}`],
  ])('refuses an %s', async (_name, payload) => {
    await get(signRaw(payload)).expect(401, /Invalid token/);
  });

  it('refuses a subject that is not well-formed UTF-16, so that x\\ud800 and x\\udbff never share a window', async () => {
    for (const sub of ['x\ud800', 'x\udbff', '\udc00x']) {
      await get(signRaw(JSON.stringify({ sub, exp: now() + 60 }))).expect(401);
    }
    // A well-formed astral character (a surrogate pair) is a subject like any other.
    await get(signRaw(JSON.stringify({ sub: 'x\ud83d\ude00', exp: now() + 60 }))).expect(200, { userId: 'x\ud83d\ude00', tier: 'free' });
  });
});
