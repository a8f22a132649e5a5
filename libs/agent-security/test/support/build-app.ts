import type { INestApplication, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AgentSecurityModule } from '@agent-security/core';
import { createTestToken, testOptions, TEST_JWT_SECRET, type TestOptionsOverrides } from '@agent-security/core/testing';

export interface BuiltApp {
  app: INestApplication;
  /** The HTTP server, for supertest. */
  server: ReturnType<INestApplication['getHttpServer']>;
  /** An Authorization header for a test token of `sub` (tier and claims as given). */
  bearer(sub: string, claims?: { tier?: string; scope?: string }): { Authorization: string };
  close(): Promise<void>;
}

/**
 * The one way the library's integration tests build an app: the module on `testOptions(overrides)` (memory store,
 * silent logs, the test secret unless overridden) and the given controllers, initialised.
 */
export async function buildApp(overrides: TestOptionsOverrides, controllers: Type[] = []): Promise<BuiltApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [AgentSecurityModule.forRoot(testOptions(overrides))],
    controllers,
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return {
    app,
    server: app.getHttpServer(),
    bearer: (sub, claims = {}) => ({ Authorization: `Bearer ${createTestToken({ secret: TEST_JWT_SECRET, sub, ...claims })}` }),
    close: () => app.close(),
  };
}
