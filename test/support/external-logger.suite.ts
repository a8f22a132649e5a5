import { Controller, Get, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { LoggerModule, Logger as PinoNestLogger, PinoLogger } from 'nestjs-pino';
import { pino } from 'pino';
import { Writable } from 'stream';
import request from 'supertest';
import { AgentSecurityModule, Public } from '@agent-security/core';
import { TEST_SECRET } from './demo-app';
import { httpAdapterFor, whenReady, type Platform } from './platform';

@Controller('feature')
class FeatureController {
  constructor(
    private readonly pinoLogger: PinoLogger,
    private readonly logger: PinoNestLogger,
  ) {}

  @Public()
  @Get()
  get() {
    this.pinoLogger.info('from PinoLogger');
    this.logger.log('from Logger');
    return { ok: true };
  }
}

/** A feature module that imports no LoggerModule: it gets whichever the app's globals give it. */
@Module({ controllers: [FeatureController] })
class FeatureModule {}

/**
 * One app per test file: nestjs-pino keeps one pino-http instance per process (the first LoggerModule's), so a second
 * app in the same file would log through the first one's logger whatever it configured. Hence one file per platform
 * (external-logger.e2e-spec.ts, external-logger-fastify.e2e-spec.ts) running this suite.
 */
export function externalLoggerSuite(platform: Platform): void {
  describe(`An app with its own nestjs-pino LoggerModule and logging: false (on ${platform})`, () => {
    // Not on Fastify: there nestjs-pino's own middleware (pino-http through middie) does not run in this set-up (a testing
    // module's app on FastifyAdapter), with the module or without it (checked with nestjs-pino alone): handler lines
    // without its request binding, no completion line. Nothing the module does or could do.
    (platform === 'fastify' ? it.skip : it)(
      "keeps its own logger, imported after AgentSecurityModule: its lines carry the module's request id, and the module writes none",
      async () => {
        const lines: Array<Record<string, any>> = [];
        const destination = new Writable({
          write(chunk, _encoding, done) {
            for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
            done();
          },
        });
        @Module({
          imports: [
            AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET }, logging: false }),
            LoggerModule.forRoot({ pinoHttp: { logger: pino({}, destination) } }),
            FeatureModule,
          ],
        })
        class App {}
        const moduleRef = await Test.createTestingModule({ imports: [App] }).compile();
        const app = moduleRef.createNestApplication(httpAdapterFor(platform), { logger: false });
        await app.init();
        await whenReady(app);
        try {
          const res = await request(app.getHttpServer()).get('/feature').expect(200);
          // pino-http writes its line on the response's 'finish', which may come after the client has the whole answer.
          for (let waited = 0; lines.length < 3 && waited < 1000; waited += 10)
            await new Promise((resolve) => setTimeout(resolve, 10));
          expect(lines.map((line) => line.msg)).toEqual(['from PinoLogger', 'from Logger', 'request completed']);
          expect(lines.every((line) => line.req.id === res.headers['x-request-id'])).toBe(true);
        } finally {
          await app.close();
        }
      },
    );
  });
}
