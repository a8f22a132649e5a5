// The library as a user gets it: packed (prepack builds it), installed from the tarball with its peers from the registry
// into a new app outside the workspace, type-checked strictly against the shipped declarations, booted on this Node.
// Nothing here resolves @agent-security/core to the workspace's sources.
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, relative, resolve } from 'path';
import { freePort } from './support/redis-server';

const LIB = resolve(__dirname, '../libs/agent-security');
const WORKSPACE = resolve(__dirname, '..');
const SECRET = 'package-test-secret-of-at-least-32-bytes';

// The install line of the package README, with what `nest new` already gives an app, plus the compiler.
const DEPENDENCIES = [
  '@nestjs/common@12',
  '@nestjs/core@12',
  '@nestjs/platform-express@12',
  'reflect-metadata@0.2',
  'rxjs@7',
  '@nestjs/jwt@12',
  '@nestjs/throttler@6',
  'nestjs-pino@5',
  'pino@10',
  'pino-http@11',
  'ioredis@6',
];
// ioredis 6's declarations import redis-errors, whose types it lists only as its own devDependency: an app that
// checks libraries' declarations (skipLibCheck false) needs them, with or without this package.
const DEV_DEPENDENCIES = ['typescript@6', '@types/node@24', '@types/redis-errors@1'];

const APP_MODULE = `import { Controller, Get, Module } from '@nestjs/common';
import { AgentSecurityModule, CurrentPrincipal, Public, type AgentPrincipal } from '@agent-security/core';

@Controller()
export class AppController {
  @Public()
  @Get('health')
  health(): { status: string } {
    return { status: 'ok' };
  }

  @Get('me')
  me(@CurrentPrincipal() principal: AgentPrincipal): { userId: string; tier: string } {
    return { userId: principal.userId, tier: principal.tier };
  }
}

@Module({
  imports: [
    AgentSecurityModule.forRootAsync({
      useFactory: () => ({ jwt: { secret: process.env.JWT_SECRET ?? '' }, logging: { level: 'silent' } }),
    }),
  ],
  controllers: [AppController],
})
export class AppModule {}
`;

const MAIN = `import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(Number(process.env.PORT), '127.0.0.1');
console.log('READY');
`;

// Prints a token for argv[2], through the package's testing entry.
const TOKEN = `import { createTestToken } from '@agent-security/core/testing';

const secret = process.env.JWT_SECRET;
if (secret === undefined) throw new Error('JWT_SECRET is not set');
console.log(createTestToken({ secret, sub: process.argv[2] ?? 'alice', tier: 'pro', expiresIn: '5m' }));
`;

const TSCONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2023',
    strict: true,
    skipLibCheck: false,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    isolatedModules: true,
    types: ['node'],
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
};

/** The environment of a child without the npm_* variables of the `npm test` that runs this file. */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!/^npm_/i.test(name)) env[name] = value;
  return { ...env, ...extra };
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(command, args, {
    cwd,
    env: childEnv(env),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} in ${cwd} exited with ${result.status}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

describe('the packed library in a new app', () => {
  let dir: string;
  let installed: string;
  let app: ChildProcess | undefined;
  let base: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-security-package-'));
    expect(relative(WORKSPACE, dir).startsWith('..')).toBe(true);
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], LIB)) as [{ filename: string }];
    const tarball = join(dir, packed[0].filename);

    const project = join(dir, 'app');
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2),
    );
    run('npm', ['install', '--no-audit', '--no-fund', tarball, ...DEPENDENCIES], project);
    run('npm', ['install', '--no-audit', '--no-fund', '--save-dev', ...DEV_DEPENDENCIES], project);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    writeFileSync(join(project, 'src/app.module.ts'), APP_MODULE);
    writeFileSync(join(project, 'src/main.ts'), MAIN);
    writeFileSync(join(project, 'src/token.ts'), TOKEN);
    installed = project;
  }, 600_000);

  afterAll(async () => {
    if (app !== undefined && app.exitCode === null) {
      const exited = new Promise((done) => app!.once('exit', done));
      app.kill('SIGTERM');
      await exited;
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('ships the ESM build, its declarations, README and LICENSE; no specs, no sources; maps carry their sources', () => {
    const root = join(installed, 'node_modules/@agent-security/core');
    const files = filesUnder(root);
    expect(files).toEqual(
      expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']),
    );
    expect(files).toEqual(expect.arrayContaining(['dist/testing/index.js', 'dist/testing/index.d.ts']));
    expect(files.filter((file) => /\.spec\.|\.contract\.|\.ts$/.test(file) && !file.endsWith('.d.ts'))).toEqual([]);
    expect(
      files.every((file) => file.startsWith('dist/') || ['LICENSE', 'README.md', 'package.json'].includes(file)),
    ).toBe(true);
    for (const map of files.filter((file) => file.endsWith('.js.map'))) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(root, map), 'utf8')) as {
        sources: string[];
        sourcesContent?: string[];
      };
      expect([map, sourcesContent?.length]).toEqual([map, sources.length]);
    }
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(manifest.engines.node).toBe('>=22.12.0');
    expect(Object.keys(manifest.exports)).toEqual(expect.arrayContaining(['.', './testing']));
  });

  it('type-checks an app against the shipped declarations with strict and skipLibCheck false', () => {
    run(process.execPath, [join(installed, 'node_modules/typescript/bin/tsc'), '-p', '.'], installed);
  }, 120_000);

  it('boots on this Node, answers a public route, a test token from the testing entry, and no token', async () => {
    const port = await freePort();
    const env = { JWT_SECRET: SECRET, PORT: String(port) };
    app = spawn(process.execPath, ['dist/main.js'], {
      cwd: installed,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    await new Promise<void>((ready, failed) => {
      app!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk;
        if (output.includes('READY')) ready();
      });
      app!.stderr!.on('data', (chunk: Buffer) => (output += chunk));
      app!.once('exit', (code) => failed(new Error(`the app exited with ${code} before listening:\n${output}`)));
    });
    base = `http://127.0.0.1:${port}`;

    const health = await fetch(`${base}/health`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);

    const token = run(process.execPath, ['dist/token.js', 'alice'], installed, env).trim();
    const me = await fetch(`${base}/me`, { headers: { Authorization: `Bearer ${token}` } });
    expect([me.status, await me.json()]).toEqual([200, { userId: 'alice', tier: 'pro' }]);

    const refused = await fetch(`${base}/me`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
  }, 60_000);
});
