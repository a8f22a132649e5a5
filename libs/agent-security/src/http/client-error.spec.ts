import { createServer, type IncomingMessage, type Server } from 'http';
import { portOf, rawRequest } from '../../../../test/support/raw-http';
import { clientErrorAnswer, clientErrorListener } from './client-error';

describe('clientErrorListener on a plain Node server', () => {
  let server: Server & { connectionsCheckingInterval: number };
  const logged: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    server = createServer((incoming, response) => {
      const request = incoming as IncomingMessage & { id?: string };
      request.id = 'req-from-the-front-door';
      if (request.url === '/stream') {
        response.writeHead(200, { 'Content-Type': 'text/plain' });
        response.write('part one');
        return;
      }
      if (request.url === '/upload') return; // reads a body that never comes
      response.end('ok');
    }) as unknown as typeof server;
    server.headersTimeout = 300;
    server.requestTimeout = 300;
    server.connectionsCheckingInterval = 50;
    server.on(
      'clientError',
      clientErrorListener(
        () => 'X-Content-Type-Options: nosniff\r\n',
        (fields) => logged.push(fields),
      ),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('writes the given header lines with the answer', async () => {
    const answer = await rawRequest(portOf(server), ['GARBAGE\r\n\r\n']);
    expect(answer.status).toBe(400);
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
  });

  it('writes nothing when a response is already on its way, and closes the connection', async () => {
    // A pipelined malformed request behind one whose answer has started.
    const answer = await rawRequest(portOf(server), [
      'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n',
      100,
      'GARBAGE\r\n\r\n',
    ]);
    expect(answer.status).toBe(200);
    expect(answer.closed).toBe(true);
    expect(answer.body).not.toContain('bad_request');
  });

  it('a request whose body stops coming gets the 408 under the id it already has', async () => {
    const answer = await rawRequest(portOf(server), [
      'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc',
    ]);
    expect(answer.status).toBe(408);
    expect(answer.headers['x-request-id']).toBe('req-from-the-front-door');
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'request_timeout', requestId: 'req-from-the-front-door' });
    expect(logged).toContainEqual({
      requestId: 'req-from-the-front-door',
      statusCode: 408,
      code: 'request_timeout',
      reason: 'ERR_HTTP_REQUEST_TIMEOUT',
    });
  });

  it("keeps Node's statuses", () => {
    expect(clientErrorAnswer('HPE_HEADER_OVERFLOW').statusCode).toBe(431);
    expect(clientErrorAnswer('HPE_CHUNK_EXTENSIONS_OVERFLOW').statusCode).toBe(413);
    expect(clientErrorAnswer('ERR_HTTP_REQUEST_TIMEOUT').statusCode).toBe(408);
    expect(clientErrorAnswer('HPE_SOMETHING_NEW').statusCode).toBe(400);
  });
});
