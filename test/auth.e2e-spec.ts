import type { INestApplication } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { bearer, signToken, startDemo, TEST_SECRET } from './support/demo-app';
import { onEachPlatform } from './support/platform';

const MISSING = { statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid auth token' };
const INVALID = { statusCode: 401, error: 'Unauthorized', message: 'Invalid token' };
const EXPIRED = { statusCode: 401, error: 'Unauthorized', message: 'Token expired' };

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A token signed with the test secret over an arbitrary payload text (bypassing jsonwebtoken's own checks). */
function signRaw(payload: string, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const { createHmac } = require('crypto') as typeof import('crypto');
  const head = `${b64url(header)}.${b64url(payload)}`;
  return `${head}.${createHmac('sha256', TEST_SECRET).update(head).digest('base64url')}`;
}

onEachPlatform(() => {
  describe('Authentication (e2e, demo app)', () => {
    let app: INestApplication;
    const now = () => Math.floor(Date.now() / 1000);

    beforeAll(async () => {
      app = await startDemo({ jwt: { secret: TEST_SECRET, issuer: 'agent-security-tests', audience: 'demo' } });
    });
    afterAll(() => app.close());

    const good = (claims: Record<string, unknown> = {}, options: jwt.SignOptions = {}) =>
      signToken(claims, { issuer: 'agent-security-tests', audience: 'demo', ...options });

    async function expect401(headers: Record<string, string>, body: object, path = '/me') {
      const res = await request(app.getHttpServer()).get(path).set(headers);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject(body);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
      const token = headers.Authorization?.split(' ')[1];
      if (token) expect(res.text).not.toContain(token);
      expect(res.text).not.toMatch(/jwt|signature|malformed|algorithm/i);
      return res;
    }

    it('lets a valid token through and exposes the principal', async () => {
      const res = await request(app.getHttpServer())
        .get('/me')
        .set(bearer(good({ tier: 'pro' })))
        .expect(200);
      expect(res.body).toEqual({ userId: 'alice', tier: 'pro' });
    });

    it('accepts a lowercase bearer scheme', async () => {
      await request(app.getHttpServer())
        .get('/me')
        .set({ Authorization: `bearer ${good()}` })
        .expect(200);
    });

    it('serves @Public() routes without a token', async () => {
      await request(app.getHttpServer()).get('/health').expect(200, { status: 'ok' });
    });

    it.each([
      ['no header', {}],
      ['a Basic header', { Authorization: 'Basic YWxpY2U6c2VjcmV0' }],
      ['Bearer with no token', { Authorization: 'Bearer' }],
      ['Bearer and spaces', { Authorization: 'Bearer    ' }],
      ['a token without scheme', { Authorization: 'abc.def.ghi' }],
    ])('answers "Missing or invalid auth token" to %s', async (_name, headers) => {
      await expect401(headers as Record<string, string>, MISSING);
    });

    it('answers "Token expired" to an expired token', async () => {
      await expect401(bearer(good({ exp: now() - 10 })), EXPIRED);
    });

    it.each([
      [
        'a bad signature',
        () =>
          signToken({}, { issuer: 'agent-security-tests', audience: 'demo' }, 'another-secret-that-is-32-bytes-long!!'),
      ],
      ['alg none', () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'alice', exp: now() + 60 })}.`],
      [
        'alg none with a signature part',
        () => `${b64url({ alg: 'none' })}.${b64url({ sub: 'alice', exp: now() + 60 })}.c2ln`,
      ],
      [
        'HS512, outside the allowed list',
        () =>
          jwt.sign({ sub: 'alice', iss: 'agent-security-tests', aud: 'demo' }, TEST_SECRET + TEST_SECRET, {
            algorithm: 'HS512',
            expiresIn: 60,
          }),
      ],
      ['a wrong issuer', () => good({}, { issuer: 'someone-else' })],
      ['a wrong audience', () => good({}, { audience: 'other-api' })],
      ['nbf in the future', () => good({ nbf: now() + 600 })],
      ['no sub', () => jwt.sign({ iss: 'agent-security-tests', aud: 'demo' }, TEST_SECRET, { expiresIn: 60 })],
      ['no exp', () => jwt.sign({ sub: 'alice', iss: 'agent-security-tests', aud: 'demo' }, TEST_SECRET)],
      ['an 8 KB token', () => 'a'.repeat(4000) + '.' + 'b'.repeat(4000) + '.c'],
      ['a token with three dots', () => `${good()}.extra`],
      ['non-ASCII bytes', () => 'é'.repeat(10) + '.x.y'],
      ['a JSON string payload', () => signRaw('"alice"')],
      ['a JSON array payload', () => signRaw('["alice"]')],
      ['a non-JSON payload', () => signRaw('not json at all')],
      ['a null payload', () => signRaw('null')],
    ])('answers "Invalid token" to %s', async (_name, makeToken) => {
      await expect401(bearer(makeToken()), INVALID);
    });

    it('answers "Invalid token" to a numeric sub', async () => {
      await expect401(
        bearer(signRaw(JSON.stringify({ sub: 42, exp: now() + 60, iss: 'agent-security-tests', aud: 'demo' }))),
        INVALID,
      );
    });

    it('gives the default tier for a missing or unknown tier claim, never a higher one', async () => {
      const server = app.getHttpServer();
      expect((await request(server).get('/me').set(bearer(good())).expect(200)).body.tier).toBe('free');
      expect(
        (
          await request(server)
            .get('/me')
            .set(bearer(good({ tier: 'root' })))
            .expect(200)
        ).body.tier,
      ).toBe('free');
      expect(
        (
          await request(server)
            .get('/me')
            .set(bearer(good({ tier: 'anonymous' })))
            .expect(200)
        ).body.tier,
      ).toBe('free');
      expect(
        (
          await request(server)
            .get('/me')
            .set(bearer(good({ tier: ['enterprise'] })))
            .expect(200)
        ).body.tier,
      ).toBe('free');
      expect(
        (
          await request(server)
            .get('/me')
            .set(bearer(good({ tier: 'enterprise' })))
            .expect(200)
        ).body.tier,
      ).toBe('enterprise');
    });

    it('treats a remembered token as expired once its exp passes', async () => {
      const token = good({ exp: now() + 1 });
      await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(200);
      await new Promise((resolve) => setTimeout(resolve, 2100));
      await expect401(bearer(token), EXPIRED);
    });
  });

  describe('Authentication options (e2e)', () => {
    it('accepts a token without exp when requireExp is false', async () => {
      const app = await startDemo({ jwt: { secret: TEST_SECRET, requireExp: false } });
      try {
        await request(app.getHttpServer())
          .get('/me')
          .set(bearer(jwt.sign({ sub: 'bob' }, TEST_SECRET)))
          .expect(200);
      } finally {
        await app.close();
      }
    });

    it('reads the tier from the configured claim', async () => {
      const app = await startDemo({ jwt: { secret: TEST_SECRET, claims: { tier: 'plan' } } });
      try {
        const res = await request(app.getHttpServer())
          .get('/me')
          .set(bearer(signToken({ plan: 'pro', tier: 'enterprise' })))
          .expect(200);
        expect(res.body.tier).toBe('pro');
      } finally {
        await app.close();
      }
    });

    it('tolerates clock skew on exp within clockToleranceSec', async () => {
      const app = await startDemo({ jwt: { secret: TEST_SECRET, clockToleranceSec: 30 } });
      try {
        const token = signToken({ exp: Math.floor(Date.now() / 1000) - 5 });
        await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(200);
      } finally {
        await app.close();
      }
    });
  });
});
