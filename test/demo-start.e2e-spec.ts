import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { resolve } from 'path';
import request from 'supertest';
import { TEST_SECRET } from './support/demo-app';
import { PLATFORMS } from './support/platform';
import { freePort } from './support/redis-server';

const ROOT = resolve(__dirname, '..');

/** `npm start` as a user runs it: the built demo, on the platform HTTP_ADAPTER names. */
async function startBuiltDemo(
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; line: Record<string, unknown>; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: { ...process.env, JWT_SECRET: TEST_SECRET, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = await new Promise<Record<string, unknown>>((done, fail) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`no start-up line within 20 s:\n${out}\n${err}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      for (const text of out.split('\n')) {
        if (!text.includes('Agent API listening')) continue;
        clearTimeout(timer);
        done(JSON.parse(text) as Record<string, unknown>);
      }
    });
    child.on('exit', (code) => fail(new Error(`the demo exited with ${code}:\n${out}\n${err}`)));
  });
  return { child, line, port };
}

describe('The demo started as `npm start` does (built, in its own process)', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'libs/agent-security/tsconfig.lib.json'], {
      cwd: ROOT,
    });
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
  }, 120_000);

  it.each(PLATFORMS)(
    'HTTP_ADAPTER=%s starts on that adapter, names it in its start-up line, and answers',
    async (platform) => {
      const { child, line, port } = await startBuiltDemo({ HTTP_ADAPTER: platform });
      try {
        expect(line.msg).toBe(`Agent API listening on http://localhost:${port} (${platform} adapter)`);
        const health = await request(`http://127.0.0.1:${port}`).get('/health').expect(200);
        expect(health.headers['x-request-id']).toBeDefined();
        expect(health.headers['x-content-type-options']).toBe('nosniff');
        const refused = await request(`http://127.0.0.1:${port}`)
          .get('/me')
          .set('Authorization', 'Bearer nope')
          .expect(401);
        expect(refused.body).toMatchObject({ code: 'invalid_token', requestId: refused.headers['x-request-id'] });
        // Express says who it is unless told not to; neither platform does here.
        expect(health.headers['x-powered-by']).toBeUndefined();
      } finally {
        child.kill('SIGTERM');
      }
    },
    30_000,
  );

  it('refuses an HTTP_ADAPTER it does not know, naming the choices', () => {
    let failure = '';
    try {
      execFileSync(process.execPath, ['dist/main.js'], {
        cwd: ROOT,
        env: { ...process.env, JWT_SECRET: TEST_SECRET, HTTP_ADAPTER: 'koa' },
        stdio: 'pipe',
      });
    } catch (error) {
      failure = String((error as { stderr?: Buffer }).stderr);
    }
    expect(failure).toContain('HTTP_ADAPTER must be one of express, fastify, got "koa"');
  });
});
