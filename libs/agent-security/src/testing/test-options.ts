import type { AgentSecurityOptions, JwtOptions, LoggingOptions } from '../agent-security-options.interface.js';

/** An HS256 secret for test apps (32 bytes or more, as the module requires). Never use it outside tests. */
export const TEST_JWT_SECRET = 'agent-security-test-secret-not-for-production';

export type TestOptionsOverrides = Omit<Partial<AgentSecurityOptions>, 'jwt' | 'logging'> & {
  jwt?: Partial<JwtOptions>;
  logging?: LoggingOptions | false;
};

/**
 * Module options for a test app: `AgentSecurityModule.forRoot(testOptions())`. Limits in memory (no `redis`),
 * logs at level `silent`, HS256 with TEST_JWT_SECRET. `jwt` and `logging` overrides are merged into these
 * defaults (so `{ jwt: { audience } }` keeps the secret); every other option replaces its default.
 */
export function testOptions(overrides: TestOptionsOverrides = {}): AgentSecurityOptions {
  const { jwt, logging, ...rest } = overrides;
  return {
    ...rest,
    jwt: { secret: TEST_JWT_SECRET, ...jwt },
    logging: logging === false ? false : { level: 'silent', ...logging },
  };
}
