import { Controller, ForbiddenException, Get, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import request from 'supertest';
import { AgentSecurityModule } from '@agent-security/core';
import { bearer, signToken, startDemo, TEST_SECRET } from './support/demo-app';
import { portOf, rawRequest } from './support/raw-http';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

const CSP = "default-src 'none';frame-ancestors 'none'";

function expectSecurityHeaders(headers: Record<string, string | string[] | undefined>) {
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['content-security-policy']).toBe(CSP);
  expect(headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  expect(headers['x-frame-options']).toBe('SAMEORIGIN');
}

onEachPlatform(() => {
  describe("The demo's security headers (app.useSecurityHeaders) on every answer, the module's own included", () => {
    let app: INestApplication;
    const tiers = { free: { limit: 1, windowMs: 60_000 } };

    beforeAll(async () => {
      app = await startDemo({}, { AGENT_SECURITY_TIERS: JSON.stringify(tiers) });
      await app.listen(0, '127.0.0.1');
    });
    afterAll(() => app.close());

    it('200', async () => {
      const res = await request(app.getHttpServer()).get('/health').expect(200);
      expectSecurityHeaders(res.headers);
    });

    it('401', async () => {
      const res = await request(app.getHttpServer()).get('/me').expect(401);
      expectSecurityHeaders(res.headers);
      expect(res.headers['x-request-id']).toBeDefined();
    });

    it('429', async () => {
      const token = signToken({ sub: `headers-${process.pid}` });
      await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(200);
      const res = await request(app.getHttpServer()).get('/me').set(bearer(token)).expect(429);
      expectSecurityHeaders(res.headers);
    });

    it('the CORS preflight the module answers at its front door', async () => {
      const res = await request(app.getHttpServer())
        .options('/me')
        .set('Origin', 'http://localhost:3000')
        .set('Access-Control-Request-Method', 'GET')
        .expect(204);
      expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3000');
      expectSecurityHeaders(res.headers);
    });

    it('404 and the body parser 400', async () => {
      expectSecurityHeaders((await request(app.getHttpServer()).get('/nowhere').expect(404)).headers);
      const malformed = await request(app.getHttpServer())
        .post('/agent/chat')
        .set(bearer(signToken({ sub: `parser-${process.pid}` })))
        .set('Content-Type', 'application/json')
        .send('{"message": ')
        .expect(400);
      expectSecurityHeaders(malformed.headers);
    });

    it("Node's own 431", async () => {
      const answer = await rawRequest(portOf(app.getHttpServer()), [
        `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`,
      ]);
      expect(answer.status).toBe(431);
      expectSecurityHeaders(answer.headers);
    });
  });

  @Controller()
  class ForbiddenController {
    @Get('forbidden')
    forbidden(): never {
      throw new ForbiddenException();
    }
  }

  @Module({
    imports: [
      AgentSecurityModule.forRoot({
        jwt: { secret: TEST_SECRET },
        tiers: { free: { limit: 100, windowMs: 60_000 } },
        logging: false,
      }),
    ],
    controllers: [ForbiddenController],
  })
  class CsrfApp {}

  describe('with enableCsrfProtection as well', () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await NestFactory.create(CsrfApp, httpAdapterFor(), { logger: false });
      app.useSecurityHeaders();
      app.enableCsrfProtection();
      await app.init();
      await whenReady(app);
    });
    afterAll(() => app.close());

    it("a 403 from a handler and Nest's cross-origin 403 both carry the headers, and the latter the module's body and request id", async () => {
      const token = signToken({ sub: `csrf-${process.pid}` });
      const handler = await request(app.getHttpServer()).get('/forbidden').set(bearer(token)).expect(403);
      expect(handler.headers['x-content-type-options']).toBe('nosniff');
      const crossSite = await request(app.getHttpServer())
        .post('/forbidden')
        .set(bearer(token))
        .set('Sec-Fetch-Site', 'cross-site')
        .set('Origin', 'https://evil.example')
        .expect(403);
      expect(crossSite.headers['x-content-type-options']).toBe('nosniff');
      expect(crossSite.headers['x-request-id']).toBeDefined();
      expect(crossSite.body).toMatchObject({ statusCode: 403, requestId: crossSite.headers['x-request-id'] });
    });
  });
});
