import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  HttpException,
  Module,
  Post,
  ServiceUnavailableException,
  UnauthorizedException,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  AgentSecurityModule,
  ClientClosedRequestException,
  Public,
  TokenBudget,
  TooManyStreamsException,
  type AgentSecurityOptions,
} from '@agent-security/core';
import { startRedis } from './support/redis-server';
import { bearer, signToken, TEST_SECRET } from './support/demo-app';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

/** `@nestjs/terminus`'s HealthCheckService throws exactly this when a check fails. */
const TERMINUS_BODY = {
  status: 'error',
  info: { memory: { status: 'up' } },
  error: { redis: { status: 'down', message: 'Connection is closed.' } },
  details: { memory: { status: 'up' }, redis: { status: 'down', message: 'Connection is closed.' } },
};

@Controller('errors')
class ErrorsController {
  @Public()
  @Get('health')
  health() {
    throw new ServiceUnavailableException(TERMINUS_BODY);
  }

  @Public()
  @Get('forbidden')
  forbidden() {
    throw new ForbiddenException();
  }

  @Public()
  @Get('unauthorized')
  unauthorized() {
    throw new UnauthorizedException('Sign in first');
  }

  @Public()
  @Get('own-code')
  ownCode() {
    throw new HttpException({ message: 'Quota for this project is spent', code: 'project_quota', project: 'p1' }, 402);
  }

  @Public()
  @Get('teapot')
  teapot() {
    throw new HttpException('Short and stout', 418);
  }

  @Public()
  @Get('crash')
  crash() {
    throw new Error('database password is hunter2');
  }

  @Public()
  @Post('body')
  body(@Body() body: unknown) {
    return body;
  }

  @Get('limited')
  limited() {
    return { ok: true };
  }

  @TokenBudget()
  @Get('budget')
  budget() {
    return { ok: true };
  }
}

async function appWith(options: Partial<AgentSecurityOptions>): Promise<INestApplication> {
  @Module({
    imports: [AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET }, logging: { level: 'silent' }, ...options })],
    controllers: [ErrorsController],
  })
  class ErrorsApp {}
  const moduleRef = await Test.createTestingModule({ imports: [ErrorsApp] }).compile();
  const app = moduleRef.createNestApplication(httpAdapterFor(), { logger: false });
  await app.init();
  await whenReady(app);
  return app;
}

onEachPlatform(() => {
  describe('Error bodies and their codes', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await appWith({ tiers: { free: { limit: 1, windowMs: 60_000, tokens: { limit: 0, windowMs: 60_000 } } } });
    });
    afterAll(() => app.close());

    it("keeps an HttpException's object fields as they are: terminus's 503 body with its map of failed checks", async () => {
      const res = await request(app.getHttpServer()).get('/errors/health').expect(503);
      expect(res.body).toEqual({
        ...TERMINUS_BODY,
        statusCode: 503,
        message: 'Service Unavailable',
        code: 'service_unavailable',
        requestId: res.headers['x-request-id'],
      });
    });

    it.each<[string, number, string, Record<string, unknown>]>([
      ['/errors/forbidden', 403, 'forbidden', { error: 'Forbidden', message: 'Forbidden' }],
      ['/errors/unauthorized', 401, 'unauthorized', { error: 'Unauthorized', message: 'Sign in first' }],
      ['/errors/teapot', 418, 'im_a_teapot', { message: 'Short and stout' }],
      ['/errors/nowhere', 404, 'not_found', { error: 'Not Found' }],
      ['/errors/crash', 500, 'internal_error', { error: 'Internal Server Error', message: 'Internal server error' }],
    ])('%s answers %i with code %s', async (path, status, code, fields) => {
      const res = await request(app.getHttpServer()).get(path).expect(status);
      expect(res.body).toMatchObject({ statusCode: status, code, requestId: res.headers['x-request-id'], ...fields });
      expect(JSON.stringify(res.body)).not.toContain('hunter2');
    });

    it("keeps an app's own code and fields, filling statusCode and error", async () => {
      const res = await request(app.getHttpServer()).get('/errors/own-code').expect(402);
      expect(res.body).toEqual({
        statusCode: 402,
        error: 'Payment Required',
        message: 'Quota for this project is spent',
        code: 'project_quota',
        project: 'p1',
        requestId: res.headers['x-request-id'],
      });
    });

    it('a malformed body is invalid_request_body, an oversized one payload_too_large', async () => {
      const malformed = await request(app.getHttpServer())
        .post('/errors/body')
        .set('Content-Type', 'application/json')
        .send('{"a":')
        .expect(400);
      expect(malformed.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'invalid_request_body' });
      const large = await request(app.getHttpServer())
        .post('/errors/body')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ a: 'x'.repeat(200_000) }))
        .expect(413);
      expect(large.body).toMatchObject({ statusCode: 413, code: 'payload_too_large' });
    });

    it('a refused request is rate_limited, a spent token budget token_budget_exceeded', async () => {
      const token = signToken({ sub: 'codes-1', tier: 'free' });
      await request(app.getHttpServer()).get('/errors/limited').set(bearer(token)).expect(200);
      const limited = await request(app.getHttpServer()).get('/errors/limited').set(bearer(token)).expect(429);
      expect(limited.body).toMatchObject({
        statusCode: 429,
        error: 'Too Many Requests',
        code: 'rate_limited',
        tier: 'free',
      });
      const spent = await request(app.getHttpServer())
        .get('/errors/budget')
        .set(bearer(signToken({ sub: 'codes-2', tier: 'free' })))
        .expect(429);
      expect(spent.body).toMatchObject({ statusCode: 429, code: 'token_budget_exceeded' });
    });

    it('the stream and closed-request exceptions carry their codes', () => {
      expect(new TooManyStreamsException(1, 'free').getResponse()).toMatchObject({ code: 'too_many_streams' });
      expect(new ClientClosedRequestException().getResponse()).toMatchObject({ code: 'client_closed_request' });
    });
  });

  describe('A store that cannot be reached, with onStoreError: deny', () => {
    it('answers 503 store_unavailable', async () => {
      const redis = await startRedis();
      const app = await appWith({ redis: redis.url, throttling: { onStoreError: 'deny' } });
      await redis.stop();
      try {
        const res = await request(app.getHttpServer())
          .get('/errors/limited')
          .set(bearer(signToken({ sub: 'codes-3' })))
          .expect(503);
        expect(res.body).toMatchObject({
          statusCode: 503,
          error: 'Service Unavailable',
          code: 'store_unavailable',
          requestId: res.headers['x-request-id'],
        });
      } finally {
        await app.close();
      }
    });
  });

  describe('errorFilter: false', () => {
    it("leaves errors to the app's filters (here Nest's own): no requestId added, the exception's body as it is", async () => {
      const app = await appWith({ errorFilter: false });
      try {
        const res = await request(app.getHttpServer()).get('/errors/forbidden').expect(403);
        expect(res.body).toEqual({ statusCode: 403, message: 'Forbidden' });
        const health = await request(app.getHttpServer()).get('/errors/health').expect(503);
        expect(health.body).toEqual(TERMINUS_BODY);
      } finally {
        await app.close();
      }
    });

    it('is refused when not a boolean', async () => {
      await expect(appWith({ errorFilter: 'no' as never })).rejects.toThrow(/"errorFilter": must be true or false/);
    });
  });
});
