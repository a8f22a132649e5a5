import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';

/** The HTTP platforms every e2e suite runs on, as @nestjs/throttler's own e2e suites do. */
export const PLATFORMS = ['express', 'fastify'] as const;
export type Platform = (typeof PLATFORMS)[number];

let current: Platform = 'express';

/**
 * Runs the suite once per platform: `onEachPlatform(() => { describe(...) })`. Inside, the apps the support helpers
 * build (startDemo, startApp, buildApp, createPlatformApp) are on that platform unless told otherwise.
 */
export function onEachPlatform(suite: (platform: Platform) => void): void {
  describe.each(PLATFORMS)('on %s', (platform) => {
    beforeAll(() => {
      current = platform;
    });
    afterAll(() => {
      current = 'express';
    });
    suite(platform);
  });
}

/** The platform of the suite running now (express outside onEachPlatform). */
export function currentPlatform(): Platform {
  return current;
}

/** Express's body parser refuses bodies above 100 KiB by default, Fastify's above 1 MiB: the same limit on both. */
export const BODY_LIMIT = 100 * 1024;

export function httpAdapterFor(platform: Platform = current): ExpressAdapter | FastifyAdapter {
  return platform === 'fastify' ? new FastifyAdapter({ bodyLimit: BODY_LIMIT }) : new ExpressAdapter();
}

/** A testing module's app on the platform, initialised, and (Fastify) ready to answer through `getHttpServer()`. */
export async function createPlatformApp(
  moduleRef: TestingModule,
  platform: Platform = current,
  options: NestApplicationOptions = { logger: false },
): Promise<INestApplication> {
  const app = moduleRef.createNestApplication(httpAdapterFor(platform), options);
  await app.init();
  await whenReady(app);
  return app;
}

/** Fastify answers through its server only once its plugins have loaded (`ready()`); Express at once. */
export async function whenReady(app: INestApplication): Promise<void> {
  if (app.getHttpAdapter().getType() !== 'fastify') return;
  await (app.getHttpAdapter().getInstance() as { ready(): PromiseLike<unknown> }).ready();
}
