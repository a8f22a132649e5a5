import type { INestApplication } from '@nestjs/common';
import type { Server } from 'http';
import { Writable } from 'stream';
import { startDemo } from './support/demo-app';
import { portOf, rawRequest, type RawAnswer } from './support/raw-http';
import { onEachPlatform } from './support/platform';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

class LogCapture extends Writable {
  readonly lines: Array<Record<string, any>> = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    for (const line of chunk.toString().split('\n')) if (line.trim()) this.lines.push(JSON.parse(line));
    done();
  }
}

function expectModuleAnswer(answer: RawAnswer, statusCode: number, code: string) {
  expect(answer.status).toBe(statusCode);
  expect(answer.closed).toBe(true);
  expect(answer.headers.connection).toBe('close');
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
  const body = JSON.parse(answer.body);
  expect(body).toEqual({
    statusCode,
    error: expect.any(String),
    message: expect.any(String),
    code,
    requestId: expect.stringMatching(UUID),
  });
  expect(answer.headers['x-request-id']).toBe(body.requestId);
  return body;
}

onEachPlatform(() => {
  describe("Node's own answers (clientError) carry the module's JSON body and a request id", () => {
    let app: INestApplication;
    let port: number;
    const logs = new LogCapture();

    beforeAll(async () => {
      app = await startDemo({ logging: { level: 'info', destination: logs } });
      await app.listen(0, '127.0.0.1');
      port = portOf(app.getHttpServer());
    });
    afterAll(() => app.close());

    it('431 for a 70 KB header block', async () => {
      const answer = await rawRequest(port, [
        `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`,
      ]);
      expectModuleAnswer(answer, 431, 'request_header_fields_too_large');
    });

    it('400 for a malformed request line', async () => {
      const answer = await rawRequest(port, ['GARBAGE\r\n\r\n']);
      expect(expectModuleAnswer(answer, 400, 'bad_request').message).toBe('Malformed request line');
    });

    it('400 for Content-Length together with Transfer-Encoding', async () => {
      const answer = await rawRequest(port, [
        'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      ]);
      expectModuleAnswer(answer, 400, 'bad_request');
    });

    it.each([
      ['a NUL', 'a\0b'],
      ['a bare LF', 'a\nb'],
      ['a bare CR', 'a\rb'],
    ])('400 for %s in a header value', async (_name, value) => {
      const answer = await rawRequest(port, [`GET /health HTTP/1.1\r\nHost: x\r\nX-Agent: ${value}\r\n\r\n`]);
      expect(expectModuleAnswer(answer, 400, 'bad_request').message).toBe('Malformed header');
    });

    it('logs one line per answer with its request id and the reason, never the bytes', async () => {
      const answer = await rawRequest(port, [`GET /health HTTP/1.1\r\nHost: x\r\nX-Secret: sk-live-abc\0\r\n\r\n`]);
      const { requestId } = JSON.parse(answer.body);
      const lines = logs.lines.filter((line) => line.requestId === requestId);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 40,
        statusCode: 400,
        code: 'bad_request',
        reason: 'HPE_INVALID_HEADER_TOKEN',
      });
      expect(JSON.stringify(lines[0])).not.toContain('sk-live-abc');
    });

    it('a normal request on the same server is untouched', async () => {
      const answer = await rawRequest(port, ['GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
      expect(answer.status).toBe(200);
    });
  });

  describe('the 408 of a header timeout, and the server of app.init()', () => {
    it('a client that never finishes its headers gets the 408 JSON (app.init() + app.getHttpServer())', async () => {
      const app = await startDemo();
      const server: Server & { connectionsCheckingInterval: number } = app.getHttpServer() as Server & {
        connectionsCheckingInterval: number;
      };
      // Node checks its timeouts on an interval fixed when the server starts listening.
      server.headersTimeout = 300;
      server.requestTimeout = 300;
      server.connectionsCheckingInterval = 50;
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const answer = await rawRequest(portOf(server), ['GET /health HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n'], 3000);
        expectModuleAnswer(answer, 408, 'request_timeout');
      } finally {
        await app.close();
      }
    });
  });
});
