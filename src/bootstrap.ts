import { NestFactory } from '@nestjs/core';
import type { Server } from 'http';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { DemoConfig } from './demo-config.js';

/** The HTTP server timeouts the demo sets instead of Node's defaults (see docs/http.md). */
export const DEMO_SERVER_TIMEOUTS = {
  // Above a typical load balancer's idle timeout, so that the balancer, not Node, closes an idle connection
  // and never sends a request on a socket Node is closing (a spurious 502).
  keepAliveTimeout: 65_000,
  // A client that has not sent its headers by then is gone or slow on purpose; it gets the module's 408.
  headersTimeout: 10_000,
  // Receiving the whole request, body included, above the slowest honest upload of a chat message. Node stops
  // counting once the request is read, so a long handler or an SSE stream is not cut by it.
  requestTimeout: 30_000,
} as const;

/** Builds the demo app exactly as `npm start` runs it; the end-to-end tests use it too. */
export async function createDemoApp(config: DemoConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { bufferLogs: true });
  // Nest's own lines (start-up, errors) go through the module's pino logger too.
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  // helmet 8's headers on every response, the module's own answers included; a JSON API loads nothing and is framed by no one.
  app.useSecurityHeaders({ contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } });
  app.enableShutdownHooks();
  Object.assign(app.getHttpServer() as Server, DEMO_SERVER_TIMEOUTS);
  return app;
}
