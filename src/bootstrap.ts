import { NestFactory } from '@nestjs/core';
import type { Server } from 'http';
import type { INestApplication } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
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

/**
 * The Nest adapter for HTTP_ADAPTER. Each platform package is loaded only when chosen: an app installs one of them.
 * Fastify's own logger stays off (the module logs every request), and its body limit is Express's default (100 KiB)
 * instead of 1 MiB, so a chat message gets the same 413 on both.
 */
async function httpAdapter({ httpAdapter: name, trustProxy }: DemoConfig): Promise<AbstractHttpAdapter> {
  if (name === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    // Fastify takes the proxies to trust when it is created, Express at any time (below). Fastify 5 reads a hop count
    // as trusting nothing, so the count is given as Express's own reading of it: the nearest `trustProxy` hops.
    const trust = trustProxy > 0 ? { trustProxy: (_address: string, hop: number) => hop < trustProxy } : {};
    return new FastifyAdapter({ bodyLimit: 100 * 1024, ...trust });
  }
  const { ExpressAdapter } = await import('@nestjs/platform-express');
  return new ExpressAdapter();
}

/** Builds the demo app exactly as `npm start` runs it, on the adapter the config names; the end-to-end tests use it too. */
export async function createDemoApp(config: DemoConfig): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(config), await httpAdapter(config), { bufferLogs: true });
  // Nest's own lines (start-up, errors) go through the module's pino logger too.
  app.useLogger(app.get(Logger));
  // Express announces itself; Fastify does not.
  if (config.httpAdapter === 'express') {
    (app as NestExpressApplication).disable('x-powered-by');
    if (config.trustProxy > 0) (app as NestExpressApplication).set('trust proxy', config.trustProxy);
  }
  // helmet 8's headers on every response, the module's own answers included; a JSON API loads nothing and is framed by no one.
  app.useSecurityHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  app.enableShutdownHooks();
  Object.assign(app.getHttpServer() as Server, DEMO_SERVER_TIMEOUTS);
  return app;
}
