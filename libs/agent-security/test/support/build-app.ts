import type { INestApplication, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AgentSecurityModule } from '@agent-security/core';
import { createTestToken, testOptions, TEST_JWT_SECRET, type TestOptionsOverrides } from '@agent-security/core/testing';
import { createPlatformApp, currentPlatform, type Platform } from '../../../../test/support/platform.js';

/**
 * The one way the library's integration tests (and the e2e specs that need no demo) build an app: the module on
 * `testOptions(overrides)` (memory store unless `redis` is given, silent logs, the test secret unless `jwt.secret` is
 * given) and the given controllers, initialised, Nest's own logger off.
 */
export async function startApp(
  overrides: TestOptionsOverrides,
  controllers: Type[] = [],
  platform: Platform = currentPlatform(),
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [AgentSecurityModule.forRoot(testOptions(overrides))],
    controllers,
  }).compile();
  return createPlatformApp(moduleRef, platform);
}

export interface BuiltApp {
  app: INestApplication;
  /** The HTTP server, for supertest. */
  server: ReturnType<INestApplication['getHttpServer']>;
  /** An Authorization header for a test token of `sub` (tier and scope as given), signed with the test secret. */
  bearer(sub: string, claims?: { tier?: string; scope?: string }): { Authorization: string };
  close(): Promise<void>;
}

/** startApp, with its server and a token maker at hand. */
export async function buildApp(
  overrides: TestOptionsOverrides,
  controllers: Type[] = [],
  platform: Platform = currentPlatform(),
): Promise<BuiltApp> {
  const app = await startApp(overrides, controllers, platform);
  return {
    app,
    server: app.getHttpServer(),
    bearer: (sub, claims = {}) => ({
      Authorization: `Bearer ${createTestToken({ secret: TEST_JWT_SECRET, sub, ...claims })}`,
    }),
    close: () => app.close(),
  };
}
