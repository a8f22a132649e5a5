import { spawn, spawnSync, type ChildProcess } from 'child_process';
import { createServer, Socket } from 'net';

export interface RedisProcess {
  port: number;
  url: string;
  process: ChildProcess;
  /** SIGKILL, and wait until it has exited. */
  stop(): Promise<void>;
  /** SIGSTOP: the server hangs with its connections open. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Kill it and start a new one on the same port. */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
// Nothing a test starts outlives the test run, whatever way it ends.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

async function launch(port: number, args: string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
    {
      stdio: 'ignore',
    },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
    if (await ping(port)) return child;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer PING within 5 s`);
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
}

/** A private redis-server on a free loopback port, for isolation and fault injection. */
export async function startRedis(options: { args?: string[]; port?: number } = {}): Promise<RedisProcess> {
  const args = options.args ?? [];
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      let child = await launch(port, args);
      const handle: RedisProcess = {
        port,
        url: `redis://127.0.0.1:${port}`,
        get process() {
          return child;
        },
        stop: () => kill(child),
        pause: () => void child.kill('SIGSTOP'),
        resume: () => void child.kill('SIGCONT'),
        restart: async () => {
          await kill(child);
          child = await launch(port, args);
        },
      };
      return handle;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

export function redisCli(args: string[]): string {
  const result = spawnSync('redis-cli', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}
