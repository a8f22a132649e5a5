import { Controller, Get, Logger, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AgentSecurityModule, AgentStream, TokenBudget, type AgentSecurityOptions } from '@agent-security/core';
import { bearer, signToken, TEST_SECRET } from './support/demo-app';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

/** Compiles and initialises a real app; the error it fails with, or undefined when it starts. */
async function startError(imports: unknown[]): Promise<Error | undefined> {
  let app: INestApplication | undefined;
  try {
    const moduleRef = await Test.createTestingModule({ imports: imports as never[] }).compile();
    app = moduleRef.createNestApplication(httpAdapterFor(), { logger: false });
    await app.init();
    await whenReady(app);
    return undefined;
  } catch (error) {
    return error as Error;
  } finally {
    await app?.close();
  }
}

const quiet = { logging: { level: 'silent' } };

onEachPlatform(() => {
  describe('Options that cannot be misread', () => {
    it('a misspelt key fails start-up with its path and a did-you-mean, through forRoot', async () => {
      const options = { ...quiet, jwt: { secret: TEST_SECRET, audiance: 'agents' } } as AgentSecurityOptions;
      const error = await startError([AgentSecurityModule.forRoot(options)]);
      expect(error?.message).toMatch(/"jwt.audiance": is not an option; did you mean "jwt.audience"\?/);
    });

    it('the same through forRootAsync, from a factory returning an object literal', async () => {
      const error = await startError([
        AgentSecurityModule.forRootAsync({
          useFactory: () =>
            ({
              ...quiet,
              jwt: { secret: TEST_SECRET },
              tiers: { free: { limit: 10, windowMs: 60_000, token: { limit: 1000, windowMs: 60_000 } } },
            }) as AgentSecurityOptions,
        }),
      ]);
      expect(error?.message).toMatch(/"tiers.free.token": is not an option; did you mean "tiers.free.tokens"\?/);
    });

    it('a top-level tirs fails start-up through forRootAsync', async () => {
      const error = await startError([
        AgentSecurityModule.forRootAsync({
          useFactory: async () => ({ ...quiet, jwt: { secret: TEST_SECRET }, tirs: {} }) as AgentSecurityOptions,
        }),
      ]);
      expect(error?.message).toMatch(/"tirs": is not an option; did you mean "tiers"\?/);
    });

    it('starts with every key spelt right', async () => {
      expect(
        await startError([AgentSecurityModule.forRoot({ ...quiet, jwt: { secret: TEST_SECRET, audience: 'agents' } })]),
      ).toBeUndefined();
    });
  });

  @Controller('options')
  class OptionsController {
    @Get()
    get() {
      return { ok: true };
    }
  }

  async function appWith(options: AgentSecurityOptions): Promise<INestApplication> {
    @Module({ imports: [AgentSecurityModule.forRoot(options)], controllers: [OptionsController] })
    class OptionsApp {}
    const moduleRef = await Test.createTestingModule({ imports: [OptionsApp] }).compile();
    const app = moduleRef.createNestApplication(httpAdapterFor(), { logger: false });
    await app.init();
    await whenReady(app);
    return app;
  }

  describe('Given tiers replace the defaults', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await appWith({
        ...quiet,
        jwt: { secret: TEST_SECRET },
        tiers: { free: { limit: 2, windowMs: 60_000 }, pro: { limit: 5, windowMs: 60_000 } },
      });
    });
    afterAll(() => app.close());

    it('a token naming a default tier the app did not define (enterprise) gets the default tier', async () => {
      const token = signToken({ sub: 'ent-1', tier: 'enterprise' });
      const res = await request(app.getHttpServer()).get('/options').set(bearer(token)).expect(200);
      expect(res.headers['ratelimit-policy']).toBe('"free";q=2;w=60');
      await request(app.getHttpServer()).get('/options').set(bearer(token)).expect(200);
      await request(app.getHttpServer()).get('/options').set(bearer(token)).expect(429);
    });

    it('a token naming a given tier gets it', async () => {
      const res = await request(app.getHttpServer())
        .get('/options')
        .set(bearer(signToken({ sub: 'pro-1', tier: 'pro' })))
        .expect(200);
      expect(res.headers['ratelimit-policy']).toBe('"pro";q=5;w=60');
    });

    it('defaultTier must be one of the given tiers', async () => {
      const unset = await startError([
        AgentSecurityModule.forRoot({
          ...quiet,
          jwt: { secret: TEST_SECRET },
          tiers: { basic: { limit: 1, windowMs: 1000 } },
        }),
      ]);
      expect(unset?.message).toMatch(
        /"defaultTier": is not set, so it is "free", which is not one of the tiers \(basic\)/,
      );
      const named = await startError([
        AgentSecurityModule.forRoot({
          ...quiet,
          jwt: { secret: TEST_SECRET },
          tiers: { basic: { limit: 1, windowMs: 1000 } },
          defaultTier: 'enterprise',
        }),
      ]);
      expect(named?.message).toMatch(/"defaultTier": names tier "enterprise", which is not one of the tiers \(basic\)/);
    });
  });

  @Controller('agent')
  class AgentController {
    @TokenBudget()
    @Get('chat')
    chat() {
      return { ok: true };
    }

    @AgentStream()
    @Get('stream')
    stream() {
      return { ok: true };
    }

    @Get('plain')
    plain() {
      return { ok: true };
    }
  }

  describe('A budget decorator on a route no tier can budget', () => {
    async function warningsFor(tiers: AgentSecurityOptions['tiers']): Promise<string[]> {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        @Module({
          imports: [AgentSecurityModule.forRoot({ ...quiet, jwt: { secret: TEST_SECRET }, tiers })],
          controllers: [AgentController],
        })
        class AgentApp {}
        const moduleRef = await Test.createTestingModule({ imports: [AgentApp] }).compile();
        const app = moduleRef.createNestApplication(httpAdapterFor(), { logger: false });
        await app.init();
        await whenReady(app);
        await request(app.getHttpServer())
          .get('/agent/chat')
          .set(bearer(signToken({ sub: 'warn-1' })));
        await app.close();
        return warn.mock.calls
          .map(([message]) => String(message))
          .filter((message) => message.includes('AgentController'));
      } finally {
        warn.mockRestore();
      }
    }

    it('warns once at start-up, naming each route, when no tier has a token budget', async () => {
      const warnings = await warningsFor({ free: { limit: 10, windowMs: 60_000 } });
      expect(warnings).toEqual([
        expect.stringMatching(
          /^AgentController\.chat has @TokenBudget\(\) or @AgentStream\(\), but no tier has a token budget/,
        ),
        expect.stringMatching(/^AgentController\.stream has/),
      ]);
    });

    it('says nothing when a tier has one', async () => {
      expect(
        await warningsFor({ free: { limit: 10, windowMs: 60_000, tokens: { limit: 1000, windowMs: 60_000 } } }),
      ).toEqual([]);
    });
  });
});
