import type { INestApplication } from '@nestjs/common';
import { execFileSync } from 'child_process';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { loadDemoConfig } from '../src/demo-config';
import { bearer, signToken, startDemo, TEST_SECRET } from './support/demo-app';
import { onEachPlatform } from './support/platform';

onEachPlatform(() => {
  describe('Demo: POST /agent/tools/:name (e2e)', () => {
    let app: INestApplication;
    beforeAll(async () => (app = await startDemo({}, { JWT_ALLOW_QUERY_TOKEN: '1' })));
    afterAll(() => app.close());

    const call = (name: string, token: string) =>
      request(app.getHttpServer()).post(`/agent/tools/${name}`).set(bearer(token));

    it('answers { tool, result } to a token with scope agent:tools', async () => {
      const res = await call('search', signToken({ scope: 'agent:read agent:tools' }))
        .send({ query: 'rate limits', top: 3 })
        .expect(200);
      expect(res.body).toEqual({ tool: 'search', result: { arguments: { query: 'rate limits', top: 3 } } });
    });

    it('answers 403 insufficient_scope with the challenge to a token without it', async () => {
      const res = await call('search', signToken({ scope: 'agent:read' }))
        .send({ query: 'x' })
        .expect(403);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="agent-security", error="insufficient_scope", scope="agent:tools"',
      );
      expect(res.body).toMatchObject({ statusCode: 403, code: 'insufficient_scope', message: 'Insufficient scope' });
      await call('search', signToken()).send({}).expect(403);
    });

    it.each([
      ['an array', [1, 2], 'got an array'],
      ['no body', undefined, 'got no body'],
    ])('answers 400 to %s', async (_name, body, got) => {
      const req = call('search', signToken({ scope: 'agent:tools' }));
      const res = await (body === undefined ? req : req.send(body as object)).expect(400);
      expect(res.body.message).toBe(`Tool arguments must be a JSON object, ${got}`);
    });

    it('answers 400 to a JSON body that is no object', async () => {
      const res = await call('search', signToken({ scope: 'agent:tools' }))
        .set('Content-Type', 'application/json')
        .send('"text"')
        .expect(400);
      expect(res.body.statusCode).toBe(400);
    });

    it('answers 400 to a tool name outside what MCP allows', async () => {
      await call('a'.repeat(65), signToken({ scope: 'agent:tools' }))
        .send({})
        .expect(400);
    });

    it('takes the token from ?access_token= with JWT_ALLOW_QUERY_TOKEN=1', async () => {
      await request(app.getHttpServer()).get(`/me?access_token=${signToken()}`).expect(200);
    });

    it('mints a token with scopes from npm run token -- --scope', () => {
      const token = execFileSync(
        process.execPath,
        ['--disable-warning=ExperimentalWarning', 'src/token.ts', '--scope', 'agent:tools agent:read', '--sub', 'bob'],
        {
          env: { ...process.env, JWT_SECRET: TEST_SECRET },
        },
      )
        .toString()
        .trim();
      expect(jwt.verify(token, TEST_SECRET)).toMatchObject({ sub: 'bob', scope: 'agent:tools agent:read' });
    });
  });

  describe('Demo configuration', () => {
    it('keeps HS256 with JWT_SECRET, or the development secret, by default', () => {
      expect(loadDemoConfig({ JWT_SECRET: TEST_SECRET }).security.jwt).toEqual({
        secret: TEST_SECRET,
        allowQueryToken: false,
      });
      expect(loadDemoConfig({}).usingDevSecret).toBe(true);
    });

    it('switches to issuer mode with JWT_ISSUER, JWT_AUDIENCE and JWT_JWKS_URI', () => {
      const config = loadDemoConfig({
        JWT_ISSUER: 'https://auth.example.com/',
        JWT_AUDIENCE: 'https://api.example.com',
        JWT_JWKS_URI: 'https://auth.example.com/keys',
        JWT_ALLOW_QUERY_TOKEN: '1',
      });
      expect(config.security.jwt).toEqual({
        issuer: 'https://auth.example.com/',
        audience: 'https://api.example.com',
        jwksUri: 'https://auth.example.com/keys',
        allowQueryToken: true,
      });
      expect(config.usingDevSecret).toBe(false);
      expect(() => loadDemoConfig({ JWT_ISSUER: 'https://auth.example.com/', JWT_SECRET: TEST_SECRET })).toThrow(
        /not both/,
      );
    });
  });
});
