import { Controller, Get, Module, Req, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { IncomingMessage } from 'http';
import { PinoLogger } from 'nestjs-pino';
import { Writable } from 'stream';
import request from 'supertest';
import { AgentSecurityModule, Public, type LoggingOptions } from '@agent-security/core';
import { TEST_SECRET } from './support/demo-app';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

@Controller('echo')
class EchoController {
  constructor(private readonly logger: PinoLogger) {}

  @Public()
  @Get()
  echo(@Req() req: IncomingMessage) {
    // What an app logs when it logs the request as it came.
    this.logger.info(
      { req: { method: req.method, url: req.url, headers: req.headers }, password: 'hunter2', card: '4111' },
      'handled',
    );
    return { ok: true };
  }
}

async function linesFor(pino: NonNullable<LoggingOptions['pino']>): Promise<Array<Record<string, any>>> {
  const lines: Array<Record<string, any>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  @Module({
    imports: [
      AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET }, logging: { level: 'info', destination, pino } }),
    ],
    controllers: [EchoController],
  })
  class LoggingApp {}
  const moduleRef = await Test.createTestingModule({ imports: [LoggingApp] }).compile();
  const app: INestApplication = moduleRef.createNestApplication(httpAdapterFor(), { logger: false });
  await app.init();
  await whenReady(app);
  try {
    await request(app.getHttpServer())
      .get('/echo')
      .set('Authorization', 'Bearer very-secret')
      .set('Cookie', 'sid=abc')
      .expect(200);
  } finally {
    await app.close();
  }
  const handled = lines.find((line) => line.msg === 'handled');
  expect(handled).toBeDefined();
  return [handled!];
}

onEachPlatform(() => {
  describe('logging.pino.redact adds to the built-in redaction', () => {
    it.each<[string, NonNullable<LoggingOptions['pino']>, string]>([
      ['a list of paths', { redact: ['card'] }, '[REDACTED]'],
      ['{ paths, censor }', { redact: { paths: ['card'], censor: '***' } }, '***'],
      [
        'a censor that hands the value back',
        { redact: { paths: ['card'], censor: (value: unknown) => value } },
        '[REDACTED]',
      ],
    ])(
      'with %s, Authorization, cookies and passwords stay hidden and the user path is hidden too',
      async (_name, pino, censor) => {
        const [line] = await linesFor(pino);
        expect(JSON.stringify(line)).not.toContain('very-secret');
        expect(JSON.stringify(line)).not.toContain('sid=abc');
        expect(JSON.stringify(line)).not.toContain('hunter2');
        expect(line.req.headers.authorization).toBe(censor);
        expect(line.card).toBe(censor);
      },
    );

    it('with pino: { redact: undefined }, the built-in paths still apply', async () => {
      const [line] = await linesFor({ redact: undefined });
      expect(line.req.headers.authorization).toBe('[REDACTED]');
      expect(line.req.headers.cookie).toBe('[REDACTED]');
      expect(line.password).toBe('[REDACTED]');
      expect(line.card).toBe('4111');
    });
  });
});
