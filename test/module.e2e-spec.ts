import { Controller, Get, Module } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { Test } from '@nestjs/testing';
import { AgentSecurityModule } from '@agent-security/core';
import { TEST_SECRET } from './support/demo-app';

describe('AgentSecurityModule start-up', () => {
  it('refuses to be imported twice', async () => {
    @Module({ imports: [AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET } })] })
    class FeatureModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET } }), FeatureModule],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await expect(app.init()).rejects.toThrow(/AgentSecurityModule.forRoot\(\) is imported 2 times/);
    await app.close();
  });

  it('refuses to start on an adapter that is neither Express nor Fastify, naming it', async () => {
    // Another platform's type on Express's machinery: the check is what is tested.
    class KoaAdapter extends ExpressAdapter {
      override getType(): string {
        return 'koa';
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET } })],
    }).compile();
    const app = moduleRef.createNestApplication(new KoaAdapter(), { logger: false });
    await expect(app.init()).rejects.toThrow(
      'AgentSecurityModule runs on Express (@nestjs/platform-express) or Fastify (@nestjs/platform-fastify); this app\'s HTTP adapter is "koa" (KoaAdapter).',
    );
    await app.close();
  });

  it('starts on Fastify and answers with its checks', async () => {
    @Controller()
    class HelloController {
      @Get('hello')
      hello() {
        return { hello: 'world' };
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET }, logging: false })],
      controllers: [HelloController],
    }).compile();
    const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    try {
      const res = await request(app.getHttpServer()).get('/hello').expect(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.headers['x-request-id']).toBeDefined();
      expect(res.body).toMatchObject({
        statusCode: 401,
        code: 'missing_token',
        requestId: res.headers['x-request-id'],
      });
    } finally {
      await app.close();
    }
  });

  it('fails start-up on a bad option, naming it', async () => {
    await expect(
      Test.createTestingModule({ imports: [AgentSecurityModule.forRoot({ jwt: { secret: 'short' } })] }).compile(),
    ).rejects.toThrow(/"jwt.secret": is 5 bytes/);
  });

  it('takes its options from forRootAsync', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        AgentSecurityModule.forRootAsync({
          useFactory: async () => ({ jwt: { secret: 'tiny' } }),
        }),
      ],
    })
      .compile()
      .catch((error: Error) => error);
    expect(moduleRef).toBeInstanceOf(Error);
    expect((moduleRef as Error).message).toMatch(/"jwt.secret"/);
  });
});
