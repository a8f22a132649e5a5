import {
  Body,
  Controller,
  Get,
  Headers,
  HttpException,
  Logger,
  Module,
  Post,
  Res,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { get, request as httpRequest } from 'http';
import type { AddressInfo } from 'net';
import { connect } from 'net';
import { Writable } from 'stream';
import request from 'supertest';
import { PinoLogger } from 'nestjs-pino';
import { AgentSecurityModule } from '@agent-security/core';
import { AGENT_SECURITY_LOGGER } from '../libs/agent-security/src/logging/logging.constants.js';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { bearer, signToken, startDemo, TEST_SECRET } from './support/demo-app';
import { nodeResponse } from '../libs/agent-security/src/http/platform-objects.js';
import { httpAdapterFor, onEachPlatform, whenReady } from './support/platform';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A pino destination that keeps the JSON lines for the test to read. */
class LogCapture extends Writable {
  readonly lines: Array<Record<string, any>> = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    for (const line of chunk.toString().split('\n')) if (line.trim()) this.lines.push(JSON.parse(line));
    done();
  }
}

@Controller('test')
class TestController {
  private readonly logger = new Logger('TestController');

  constructor(private readonly pino: PinoLogger) {}

  @Get('assign')
  assign() {
    // nestjs-pino's request-scoped fields: they need its logger bound to the request.
    this.pino.assign({ agentRun: 'run-7' });
    this.pino.info('after assign');
    return { ok: true };
  }

  @Get('log')
  log() {
    this.logger.log('inside the handler');
    return { ok: true };
  }

  @Post('log')
  logBody(@Body() body: { note?: string }) {
    this.logger.log(`inside the handler, after the body: ${body.note}`);
    return { ok: true };
  }

  @Get('boom')
  boom() {
    throw new Error('database password is hunter2');
  }

  @Get('not-here')
  notHere() {
    // The shape http-errors gives (raw-body, many Express libraries): a status of its own, a message the client may see.
    throw Object.assign(new Error('No such agent run'), { status: 404, statusCode: 404, expose: true });
  }

  @Get('empty-payload')
  emptyPayload() {
    throw new HttpException(undefined as unknown as string, 400);
  }

  @Get('half-stream')
  halfStream(@Res() reply: unknown) {
    const res = nodeResponse(reply);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write('data: one\n\n');
    // The agent fails after the first event, once the headers are out.
    return new Promise((_resolve, reject) => setTimeout(() => reject(new Error('LLM provider went away')), 20));
  }

  @Get('echo-secret')
  echo(@Headers() headers: Record<string, string>) {
    // What a careless handler does: the redaction must still keep the token and cookie out.
    this.logger.log({ token: 'abc.def.ghi', note: 'a token field', headers });
    return { ok: true };
  }
}

async function testApp(logs: LogCapture | string) {
  @Module({
    imports: [
      AgentSecurityModule.forRoot({
        jwt: { secret: TEST_SECRET },
        logging: { destination: logs },
        cors: { origins: ['http://app.example'], credentials: true },
      }),
    ],
    controllers: [TestController],
  })
  class TestApp {}
  const app = (await Test.createTestingModule({ imports: [TestApp] }).compile()).createNestApplication(
    httpAdapterFor(),
    { bufferLogs: true },
  );
  const { Logger: PinoLogger } = await import('nestjs-pino');
  app.useLogger(app.get(PinoLogger));
  await app.init();
  await whenReady(app);
  return app;
}

const waitForLogs = () => new Promise((resolve) => setTimeout(resolve, 50));

onEachPlatform(() => {
  describe('Request ids, logs and the error shape (e2e)', () => {
    let demo: INestApplication;
    let app: INestApplication;
    const logs = new LogCapture();

    beforeAll(async () => {
      demo = await startDemo({}, { AGENT_SECURITY_TIERS: JSON.stringify({ free: { limit: 1, windowMs: 60_000 } }) });
      app = await testApp(logs);
    });
    afterAll(async () => {
      await demo.close();
      await app.close();
    });

    function expectId(res: request.Response) {
      expect([res.status, res.headers['x-request-id']]).toEqual([res.status, expect.stringMatching(UUID)]);
      expect([res.status, res.headers['x-response-time']]).toEqual([res.status, expect.stringMatching(/^\d+ms$/)]);
      if (res.status >= 400 && res.headers['content-type']?.includes('json')) {
        expect(res.body.requestId).toBe(res.headers['x-request-id']);
      }
    }

    it('puts X-Request-ID and X-Response-Time on every kind of response', async () => {
      const server = demo.getHttpServer();
      const token = signToken({ sub: `ids-${process.pid}` });
      expectId(await request(server).get('/health').expect(200));
      expectId(await request(server).get('/me').expect(401));
      expectId(await request(server).get('/me').set(bearer(token)).expect(200));
      expectId(await request(server).get('/me').set(bearer(token)).expect(429));
      expectId(await request(server).get('/no-such-route').expect(404));
      expectId(
        await request(server)
          .post('/agent/chat')
          .set(bearer(signToken({ sub: 'v' })))
          .send({ message: 42 })
          .expect(400),
      );
      const malformed = await request(server)
        .post('/agent/chat')
        .set(bearer(signToken({ sub: 'm' })))
        .set('Content-Type', 'application/json')
        .send('{"message": "unterminated')
        .expect(400);
      expectId(malformed);
      expect(malformed.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Malformed request body',
        code: 'invalid_request_body',
        requestId: malformed.headers['x-request-id'],
      });
      expectId(await request(app.getHttpServer()).get('/test/boom').set(bearer(signToken())).expect(500));
      const preflight = await request(app.getHttpServer())
        .options('/test/log')
        .set('Origin', 'http://app.example')
        .set('Access-Control-Request-Method', 'GET')
        .expect(204);
      expect(preflight.headers['x-request-id']).toMatch(UUID);
    });

    it('answers an unexpected error with a bare 500 and logs its stack once', async () => {
      const res = await request(app.getHttpServer()).get('/test/boom').set(bearer(signToken())).expect(500);
      expect(res.body).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        message: 'Internal server error',
        code: 'internal_error',
        requestId: res.headers['x-request-id'],
      });
      expect(res.text).not.toContain('hunter2');
      await waitForLogs();
      const lines = logs.lines.filter((line) => line.requestId === res.headers['x-request-id'] && line.level === 50);
      expect(lines).toHaveLength(1);
      expect(lines[0].err.stack).toContain('database password is hunter2');
      expect(lines[0]).toMatchObject({ method: 'GET', status: 500, route: '/test/boom' });
    });

    it("answers an error carrying its own 4xx status with that status and its message, as Nest's own filter does", async () => {
      const res = await request(app.getHttpServer()).get('/test/not-here').set(bearer(signToken())).expect(404);
      expect(res.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'No such agent run',
        code: 'not_found',
        requestId: res.headers['x-request-id'],
      });
    });

    it('answers an HttpException without a payload with its own status, not a 500 from the filter', async () => {
      const res = await request(app.getHttpServer()).get('/test/empty-payload').set(bearer(signToken())).expect(400);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Bad Request',
        code: 'bad_request',
        requestId: res.headers['x-request-id'],
      });
    });

    it('cuts a response that fails after its headers went out, so the client cannot take it for a whole one', async () => {
      const server = app.getHttpServer();
      if (!server.listening) await app.listen(0, '127.0.0.1');
      const { port } = server.address() as AddressInfo;
      const outcome = await new Promise<{ status?: number; body: string; complete: boolean; error?: string }>(
        (resolve) => {
          let body = '';
          const req = get(`http://127.0.0.1:${port}/test/half-stream`, { headers: bearer(signToken()) }, (res) => {
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('error', (error) =>
              resolve({ status: res.statusCode, body, complete: res.complete, error: error.message }),
            );
            res.on('close', () => resolve({ status: res.statusCode, body, complete: res.complete }));
          });
          req.on('error', (error) => resolve({ body, complete: false, error: error.message }));
        },
      );
      expect(outcome).toMatchObject({ status: 200, body: 'data: one\n\n', complete: false });
    });

    it('keeps a safe incoming X-Request-ID and replaces an unsafe one', async () => {
      const server = demo.getHttpServer();
      const kept = await request(server).get('/health').set('X-Request-ID', 'client-id-123_abc.XYZ').expect(200);
      expect(kept.headers['x-request-id']).toBe('client-id-123_abc.XYZ');
      const long = await request(server)
        .get('/health')
        .set('X-Request-ID', 'x'.repeat(10 * 1024))
        .expect(200);
      expect(long.headers['x-request-id']).toMatch(UUID);
      const spaced = await request(server).get('/health').set('X-Request-ID', 'has space').expect(200);
      expect(spaced.headers['x-request-id']).toMatch(UUID);
    });

    it('never reflects an incoming id that carries CR/LF or control bytes', async () => {
      await demo.listen(0, '127.0.0.1');
      const { port } = demo.getHttpServer().address() as AddressInfo;
      const raw = (id: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: ${id}\r\nConnection: close\r\n\r\n`);
          });
          let data = '';
          socket.on('data', (chunk) => (data += chunk.toString('latin1')));
          socket.on('end', () => resolve(data));
          socket.on('error', reject);
        });
      for (const id of ['abc\rInjected: yes', 'abc\x01def', 'abc\x7fdef']) {
        const response = await raw(id);
        expect(response).not.toMatch(/^Injected/m);
        const echoed = /^X-Request-ID: (.*)$/im.exec(response);
        if (echoed) expect(echoed[1].trim()).toMatch(UUID);
      }
    });

    it('does not trust the incoming id when told not to', async () => {
      const capture = new LogCapture();
      @Module({
        imports: [
          AgentSecurityModule.forRoot({
            jwt: { secret: TEST_SECRET },
            logging: { trustIncomingRequestId: false, destination: capture },
          }),
        ],
        controllers: [TestController],
      })
      class Untrusting {}
      // NestFactory without a logger option: Nest's logger is process-wide, and a testing module compiled
      // here would install its TestingLogger over the other app's pino logger.
      const untrusting = await NestFactory.create(Untrusting, httpAdapterFor());
      await untrusting.init();
      await whenReady(untrusting);
      try {
        const res = await request(untrusting.getHttpServer())
          .get('/test/log')
          .set('X-Request-ID', 'client-chosen')
          .expect(401);
        expect(res.headers['x-request-id']).toMatch(UUID);
      } finally {
        await untrusting.close();
      }
    });

    it('tags every line logged while handling a request with its requestId, and writes one lean completion line', async () => {
      const token = signToken({ sub: 'logger-user', tier: 'pro' });
      const res = await request(app.getHttpServer())
        .get('/test/log')
        .set(bearer(token))
        .set('Cookie', 'session=s3cret')
        .expect(200);
      await waitForLogs();
      const id = res.headers['x-request-id'];
      const mine = logs.lines.filter((line) => line.requestId === id);
      const inside = mine.find((line) => line.msg === 'inside the handler');
      expect(inside).toBeDefined();
      expect(inside!.context).toBe('TestController');
      // The caller and the route are known by the time the handler runs, and its lines say so.
      expect(inside).toMatchObject({ userId: 'logger-user', tier: 'pro', route: '/test/log' });
      const done = mine.find((line) => line.msg === 'request completed');
      expect(done).toMatchObject({
        method: 'GET',
        route: '/test/log',
        path: '/test/log',
        status: 200,
        userId: 'logger-user',
        tier: 'pro',
      });
      expect(typeof done!.durationMs).toBe('number');
      expect(done!.ip).toBeDefined();
    });

    it('keeps the request id in handler lines of a request whose body comes after its headers (read from socket events)', async () => {
      const server = app.getHttpServer();
      if (!server.listening) await app.listen(0, '127.0.0.1');
      const { port } = server.address() as AddressInfo;
      const body = JSON.stringify({ note: 'posted late' });
      const requestId = await new Promise<string | undefined>((resolve, reject) => {
        const req = httpRequest(
          {
            port,
            host: '127.0.0.1',
            method: 'POST',
            path: '/test/log',
            headers: {
              ...bearer(signToken({ sub: 'poster', tier: 'pro' })),
              'Content-Type': 'application/json',
              'Content-Length': Buffer.byteLength(body),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.headers['x-request-id'] as string | undefined));
          },
        );
        req.on('error', reject);
        req.flushHeaders();
        // The body in a later packet: the parser reads it from the socket's events, outside the front door's call.
        setTimeout(() => req.end(body), 50);
      });
      await waitForLogs();
      const inside = logs.lines.find((line) => line.msg === 'inside the handler, after the body: posted late');
      expect(inside).toMatchObject({ requestId, userId: 'poster', route: '/test/log' });
    });

    it("adds a user's pino mixin to every line, the completion line included, through their own merge strategy", async () => {
      const capture = new LogCapture();
      const pino = {
        mixin: () => ({ service: 'agents' }),
        mixinMergeStrategy: (line: object, mixin: object) => ({ ...mixin, ...line, merged: true }),
      };
      @Module({
        imports: [
          AgentSecurityModule.forRoot({ jwt: { secret: TEST_SECRET }, logging: { destination: capture, pino } }),
        ],
        controllers: [TestController],
      })
      class Mixed {}
      const mixed = await NestFactory.create(Mixed, httpAdapterFor(), { bufferLogs: true });
      const { Logger: PinoLogger } = await import('nestjs-pino');
      mixed.useLogger(mixed.get(PinoLogger));
      await mixed.init();
      await whenReady(mixed);
      try {
        const res = await request(mixed.getHttpServer())
          .get('/test/log')
          .set(bearer(signToken({ sub: 'mixer', tier: 'pro' })))
          .expect(200);
        mixed.get(AGENT_SECURITY_LOGGER).info('outside any request');
        await waitForLogs();
        const id = res.headers['x-request-id'];
        const inside = capture.lines.find((line) => line.msg === 'inside the handler');
        expect(inside).toMatchObject({
          requestId: id,
          userId: 'mixer',
          route: '/test/log',
          service: 'agents',
          merged: true,
        });
        const done = capture.lines.find((line) => line.msg === 'request completed');
        expect(done).toMatchObject({ requestId: id, userId: 'mixer', status: 200, service: 'agents', merged: true });
        const outside = capture.lines.find((line) => line.msg === 'outside any request');
        expect(outside).toMatchObject({ service: 'agents', merged: true });
        expect(outside).not.toHaveProperty('requestId');
      } finally {
        await mixed.close();
      }
    });

    it("keeps nestjs-pino's PinoLogger.assign() working inside a request, for that request only", async () => {
      const first = await request(app.getHttpServer())
        .get('/test/assign')
        .set(bearer(signToken({ sub: 'assigner' })))
        .expect(200);
      const other = await request(app.getHttpServer())
        .get('/test/log')
        .set(bearer(signToken({ sub: 'assigner' })))
        .expect(200);
      await waitForLogs();
      const line = logs.lines.find(
        (entry) => entry.msg === 'after assign' && entry.requestId === first.headers['x-request-id'],
      );
      expect(line).toMatchObject({ agentRun: 'run-7', userId: 'assigner', route: '/test/assign' });
      const unrelated = logs.lines.filter((entry) => entry.requestId === other.headers['x-request-id']);
      expect(unrelated.length).toBeGreaterThan(0);
      expect(unrelated.some((entry) => 'agentRun' in entry)).toBe(false);
    });

    it('keeps Authorization, cookies and tokens out of every log line', async () => {
      const token = signToken({ sub: 'secretive' });
      await request(app.getHttpServer())
        .get('/test/log')
        .set(bearer(token))
        .set('Cookie', 'session=s3cret')
        .expect(200);
      await request(app.getHttpServer())
        .get('/test/echo-secret')
        .set(bearer(token))
        .set('Cookie', 'session=s3cret')
        .expect(200);
      await request(app.getHttpServer())
        .get('/test/boom')
        .set(bearer(token))
        .set('Cookie', 'session=s3cret')
        .expect(500);
      await waitForLogs();
      const all = JSON.stringify(logs.lines);
      expect(all).not.toContain(token);
      expect(all).not.toContain('s3cret');
      expect(all).not.toContain('abc.def.ghi');
      expect(all).toContain('[REDACTED]');
    });
  });

  describe('Logging to a file path (e2e)', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'agent-security-e2e-log-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('writes the completion lines to the file, and what was logged just before shutdown too', async () => {
      const file = join(dir, 'agent.log');
      const fileApp = await testApp(file);
      const res = await request(fileApp.getHttpServer())
        .get('/test/log')
        .set(bearer(signToken({ sub: 'filed' })))
        .expect(200);
      await waitForLogs();
      const root = fileApp.get(AGENT_SECURITY_LOGGER);
      // Same turn as close(): only the shutdown flush can get this line to the file.
      root.info('last words');
      await fileApp.close();
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      const id = res.headers['x-request-id'];
      expect(lines.find((line) => line.msg === 'request completed' && line.requestId === id)).toMatchObject({
        status: 200,
        userId: 'filed',
      });
      expect(lines.find((line) => line.msg === 'inside the handler' && line.requestId === id)).toBeDefined();
      expect(lines.at(-1)).toMatchObject({ msg: 'last words' });
    });
  });
});
