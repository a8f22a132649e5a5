import { Module } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
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

  it('refuses to start on an adapter other than Express, instead of answering every request with a 500', async () => {
    // Fastify's type on Express's machinery: the check is what is tested, not Fastify (a reply has no setHeader).
    class OtherAdapter extends ExpressAdapter {
      override getType(): string {
        return 'fastify';
      }
    }
    const moduleRef = await Test.createTestingModule({ imports: [AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET } })] }).compile();
    const app = moduleRef.createNestApplication(new OtherAdapter(), { logger: false });
    await expect(app.init()).rejects.toThrow(/works on the Express adapter \(@nestjs\/platform-express\) only; this app uses "fastify"/);
    await app.close();
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
    }).compile().catch((error: Error) => error);
    expect(moduleRef).toBeInstanceOf(Error);
    expect((moduleRef as Error).message).toMatch(/"jwt.secret"/);
  });
});
