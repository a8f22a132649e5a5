import type { Server } from 'http';
import { get } from 'http';
import { DEMO_SERVER_TIMEOUTS } from '../src/bootstrap';
import { bearer, signToken, startDemo } from './support/demo-app';
import { portOf, rawRequest } from './support/raw-http';
import { onEachPlatform } from './support/platform';

type TimedServer = Server & { connectionsCheckingInterval: number };

onEachPlatform(() => {
  describe("The demo's HTTP server timeouts", () => {
    it('are set explicitly, keep-alive above a load balancer idle timeout and the header timeout below the request timeout', async () => {
      const app = await startDemo();
      try {
        const server: Server = app.getHttpServer();
        expect({
          keepAliveTimeout: server.keepAliveTimeout,
          headersTimeout: server.headersTimeout,
          requestTimeout: server.requestTimeout,
        }).toEqual(DEMO_SERVER_TIMEOUTS);
        expect(server.keepAliveTimeout).toBeGreaterThan(60_000);
        expect(server.headersTimeout).toBeLessThan(server.requestTimeout);
      } finally {
        await app.close();
      }
    });

    it("a slow-header client gets the module's 408 JSON; an SSE stream outlives the request timeout", async () => {
      const app = await startDemo({}, { STREAM_TOKEN_DELAY_MS: '200' });
      const server: TimedServer = app.getHttpServer() as TimedServer;
      // The demo's settings, scaled down so the test does not wait seconds; the interval is fixed at listen time.
      const scale = 300 / DEMO_SERVER_TIMEOUTS.headersTimeout;
      server.headersTimeout = DEMO_SERVER_TIMEOUTS.headersTimeout * scale;
      server.requestTimeout = DEMO_SERVER_TIMEOUTS.requestTimeout * scale;
      server.connectionsCheckingInterval = 50;
      await app.listen(0, '127.0.0.1');
      const port = portOf(server);
      try {
        const slow = await rawRequest(port, ['GET /health HTTP/1.1\r\nHost: x\r\nX-Agent: slo', 100, 'w'], 3000);
        expect(slow.status).toBe(408);
        expect(slow.closed).toBe(true);
        const body = JSON.parse(slow.body);
        expect(body).toMatchObject({
          statusCode: 408,
          code: 'request_timeout',
          requestId: slow.headers['x-request-id'],
        });

        // Twice the (scaled) request timeout and more of streaming: Node's requestTimeout ends once the request is read.
        const started = Date.now();
        const events = await new Promise<number>((resolve, reject) => {
          const message = encodeURIComponent(
            'one two three four five six seven eight nine ten eleven twelve thirteen fourteen',
          );
          get(
            `http://127.0.0.1:${port}/agent/stream?message=${message}`,
            { headers: bearer(signToken({ sub: `timeouts-${process.pid}`, tier: 'pro' })) },
            (res) => {
              let data = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (data += chunk));
              res.on('end', () => resolve(data.split('\n').filter((line) => line.startsWith('data:')).length));
              res.on('error', reject);
            },
          ).on('error', reject);
        });
        expect(Date.now() - started).toBeGreaterThan(server.requestTimeout * 2);
        expect(events).toBeGreaterThanOrEqual(10);
      } finally {
        await app.close();
      }
    });
  });
});
