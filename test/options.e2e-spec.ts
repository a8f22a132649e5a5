import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AgentSecurityModule, type AgentSecurityOptions } from '@agent-security/core';
import { TEST_SECRET } from './support/demo-app';

/** Compiles and initialises a real app; the error it fails with, or undefined when it starts. */
async function startError(imports: unknown[]): Promise<Error | undefined> {
  let app: INestApplication | undefined;
  try {
    const moduleRef = await Test.createTestingModule({ imports: imports as never[] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return undefined;
  } catch (error) {
    return error as Error;
  } finally {
    await app?.close();
  }
}

const quiet = { logging: { level: 'silent' } };

describe('Options that cannot be misread', () => {
  it('a misspelt key fails start-up with its path and a did-you-mean, through forRoot', async () => {
    const options = { ...quiet, jwt: { secret: TEST_SECRET, audiance: 'agents' } } as AgentSecurityOptions;
    const error = await startError([AgentSecurityModule.forRoot(options)]);
    expect(error?.message).toMatch(/"jwt.audiance": is not an option; did you mean "jwt.audience"\?/);
  });

  it('the same through forRootAsync, from a factory returning an object literal', async () => {
    const error = await startError([
      AgentSecurityModule.forRootAsync({
        useFactory: () => ({
          ...quiet,
          jwt: { secret: TEST_SECRET },
          tiers: { free: { limit: 10, windowMs: 60_000, token: { limit: 1000, windowMs: 60_000 } } },
        }) as AgentSecurityOptions,
      }),
    ]);
    expect(error?.message).toMatch(/"tiers.free.token": is not an option; did you mean "tiers.free.tokens"\?/);
  });

  it('a top-level tirs fails start-up through forRootAsync', async () => {
    const error = await startError([
      AgentSecurityModule.forRootAsync({ useFactory: async () => ({ ...quiet, jwt: { secret: TEST_SECRET }, tirs: {} }) as AgentSecurityOptions }),
    ]);
    expect(error?.message).toMatch(/"tirs": is not an option; did you mean "tiers"\?/);
  });

  it('starts with every key spelt right', async () => {
    expect(await startError([AgentSecurityModule.forRoot({ ...quiet, jwt: { secret: TEST_SECRET, audience: 'agents' } })])).toBeUndefined();
  });
});
