import type { INestApplication } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import type { AgentSecurityOptions } from '@agent-security/core';
import { createDemoApp } from '../../src/bootstrap';
import { loadDemoConfig, type DemoConfig } from '../../src/demo-config';
import { currentPlatform, whenReady, type Platform } from './platform';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!!';

/** The demo app as `npm start` builds it, with the test secret and any option overrides, on the given platform. */
export async function startDemo(
  overrides: Partial<AgentSecurityOptions> = {},
  env: NodeJS.ProcessEnv = {},
  platform: Platform = currentPlatform(),
): Promise<INestApplication> {
  const config: DemoConfig = loadDemoConfig({ JWT_SECRET: TEST_SECRET, HTTP_ADAPTER: platform, ...env });
  // Quiet unless a test captures logs itself (LOG_LEVEL=info npm test shows them).
  config.security = { ...config.security, logging: { level: process.env.LOG_LEVEL ?? 'silent' }, ...overrides };
  const app = await createDemoApp(config);
  await app.init();
  await whenReady(app);
  return app;
}

export function signToken(
  claims: Record<string, unknown> = {},
  options: jwt.SignOptions = {},
  secret: string = TEST_SECRET,
): string {
  const expiry: jwt.SignOptions = 'exp' in claims ? {} : { expiresIn: '1h' };
  return jwt.sign({ sub: 'alice', ...claims }, secret, { algorithm: 'HS256', ...expiry, ...options });
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
