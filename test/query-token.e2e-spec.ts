import { Controller, Get, Logger, Module, Req, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Writable } from 'stream';
import request from 'supertest';
import { AgentSecurityModule, Public, type LoggingOptions } from '@agent-security/core';
import { bearer, signToken, TEST_SECRET } from './support/demo-app';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

@Controller('seen')
class SeenController {
  private readonly logger = new Logger('SeenController');

  @Public()
  @Get()
  seen(@Req() req: { originalUrl: string; url: string }) {
    // A handler that logs its URL, as many do.
    this.logger.log(`serving ${req.originalUrl}`);
    return { originalUrl: req.originalUrl, url: req.url };
  }

  @Get('private')
  private() {
    return { ok: true };
  }
}

/** Spellings of the parameter that are not RFC 6750's `access_token`, but carry the token all the same. */
const ODD_SPELLINGS = [
  (t: string) => `/seen?access%5Ftoken=${t}`,
  (t: string) => `/seen?access%5ftoken=${t}`,
  (t: string) => `/seen?ACCESS_TOKEN=${t}`,
  (t: string) => `/seen?Access_Token=${t}&b=2`,
  (t: string) => `/seen?a=1;access_token=${t}`,
  (t: string) => `/seen?;access_token=${t}`,
  (t: string) => `/seen;access_token=${t}`,
  (t: string) => `/seen?access_token[]=${t}`,
  (t: string) => `/seen?access_token%5B%5D=${t}`,
  (t: string) => `/seen?access_token[0]=${t}`,
  (t: string) => `/seen?%61ccess_token=${t}`,
  (t: string) => `/seen?access%255Ftoken=${t}`,
  (t: string) => `/seen?xaccess_token=1&ACCESS_TOKEN=${t}`,
];

onEachPlatform(() => {
  describe('Query tokens under odd spellings (e2e, through the completion line)', () => {
    async function withApp(
      logging: LoggingOptions,
      use: (server: ReturnType<INestApplication['getHttpServer']>, logged: () => string) => Promise<void>,
    ) {
      let logged = '';
      const destination = new Writable({
        write(chunk: Buffer, _encoding, done) {
          logged += chunk.toString();
          done();
        },
      });
      @Module({
        imports: [
          AgentSecurityModule.forRoot({
            jwt: { secret: TEST_SECRET, allowQueryToken: true },
            logging: { ...logging, destination },
          }),
        ],
        controllers: [SeenController],
      })
      class QueryApp {}
      const app = (await Test.createTestingModule({ imports: [QueryApp] }).compile()).createNestApplication(
        httpAdapterFor(),
        { bufferLogs: true },
      );
      const { Logger: PinoLogger } = await import('nestjs-pino');
      app.useLogger(app.get(PinoLogger));
      await app.init();
      await whenReady(app);
      try {
        await use(app.getHttpServer(), () => logged);
      } finally {
        await app.close();
      }
    }

    const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

    // The module's own fast completion line, and pino's (the user's redact paths send lines through pino).
    it.each([
      ['the fast line', {}],
      ["pino's line", { redact: ['ip'] }],
    ])('never reach a log line: %s', async (_name, logging) => {
      await withApp(logging, async (server, logged) => {
        const tokens: string[] = [];
        for (const [i, spell] of ODD_SPELLINGS.entries()) {
          const token = signToken({ sub: `odd-${i}` });
          tokens.push(token);
          const res = await request(server).get(spell(token));
          expect(res.text).not.toContain(token);
          // Also a route that needs a token: an odd spelling authenticates nothing.
          const refused = await request(server).get(spell(token).replace('/seen', '/seen/private'));
          expect(refused.status).toBe(spell(token).startsWith('/seen;') ? 404 : 401);
        }
        await settle();
        const text = logged();
        expect(text).toContain('request completed');
        expect(text).toContain('serving /seen');
        for (const [i, token] of tokens.entries()) {
          // The token's signature: a line that holds any of it leaked it.
          const signature = token.split('.')[2];
          if (text.includes(signature))
            throw new Error(
              `leaked through ${ODD_SPELLINGS[i]('<token>')}:\n${text
                .split('\n')
                .filter((l) => l.includes(signature))
                .join('\n')}`,
            );
        }
        expect(text).toContain('[REDACTED]');
      });
    });

    it('leave other parameters as they came, and the right spelling still authenticates', async () => {
      await withApp({}, async (server) => {
        const res = await request(server).get('/seen?q=caf%C3%A9&accessible=yes&page_token=p1').expect(200);
        expect(res.body.originalUrl).toBe('/seen?q=caf%C3%A9&accessible=yes&page_token=p1');
        const token = signToken();
        await request(server).get(`/seen/private?access_token=${token}&ACCESS_TOKEN=${token}`).expect(200);
        await request(server).get('/seen/private').set(bearer(token)).expect(200);
      });
    });
  });
});
