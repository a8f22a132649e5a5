import { execFileSync, spawnSync } from 'child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { BatchedDestination } from './batched.destination';
import { createRootLogger } from './logger-options';
import { resolveAgentSecurityConfig } from '../agent-security.config';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('BatchedDestination', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-security-log-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the lines of one turn together at the end of that turn, in order', async () => {
    const file = join(dir, 'agent.log');
    const destination = new BatchedDestination(file);
    for (let i = 0; i < 100; i++) destination.write(`line ${i}\n`);
    // Nothing yet: a destination writing line by line would already have all 100 in the file.
    expect(readFileSync(file, 'utf8')).toBe('');
    await nextTurn();
    expect(readFileSync(file, 'utf8')).toBe(Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(''));
    destination.write('later\n');
    await nextTurn();
    expect(readFileSync(file, 'utf8').endsWith('line 99\nlater\n')).toBe(true);
    destination.end();
  });

  it('writes what is pending on end() and nothing after it', async () => {
    const file = join(dir, 'agent.log');
    const destination = new BatchedDestination(file);
    destination.write('before end\n');
    destination.end();
    expect(readFileSync(file, 'utf8')).toBe('before end\n');
    destination.write('after end\n');
    await nextTurn();
    expect(readFileSync(file, 'utf8')).toBe('before end\n');
  });

  it('is what the root logger writes to when logging.destination is a path', async () => {
    const file = join(dir, 'agent.log');
    const config = resolveAgentSecurityConfig({ jwt: { secret: 'x'.repeat(32) }, logging: { destination: file } });
    const logger = createRootLogger(config)!;
    logger.info({ n: 1 }, 'first');
    logger.warn('second');
    await nextTurn();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toMatchObject([
      { msg: 'first', n: 1, level: 30 },
      { msg: 'second', level: 40 },
    ]);
  });

  it('writes what is pending when the process exits in the same turn', () => {
    const file = join(dir, 'exit.log');
    const source = require.resolve('./batched.destination.ts');
    // Node 24 runs the TypeScript source as it is (type stripping); process.exit() leaves no later turn.
    const child = spawnSync(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        '--input-type=module',
        '-e',
        `const { BatchedDestination } = await import(${JSON.stringify(source)});
         const destination = new BatchedDestination(${JSON.stringify(file)});
         destination.write('logged just before exit\\n');
         process.exit(3);`,
      ],
      { encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    expect(child.status).toBe(3);
    expect(readFileSync(file, 'utf8')).toBe('logged just before exit\n');
  });

  it('keeps every line, in order, when a non-blocking pipe is full, and never blocks the event loop', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const destination = new BatchedDestination(writer);
    // About 300 KB in one turn: several times what a pipe holds (64 KB on Linux).
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) expected.push(`${String(i).padStart(6, '0')} ${'x'.repeat(93)}\n`);
    for (const line of expected) destination.write(line);
    let turnsWhilePending = 0;
    let received = '';
    const chunk = Buffer.alloc(65536);
    const deadline = Date.now() + 10_000;
    while (received.length < expected.length * 101 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      turnsWhilePending++;
      for (;;) {
        let read = 0;
        try {
          read = readSync(reader, chunk, 0, chunk.length, null);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        }
        if (read <= 0) break;
        received += chunk.toString('utf8', 0, read);
      }
    }
    destination.end();
    closeSync(writer);
    closeSync(reader);
    expect(received).toBe(expected.join(''));
    // The loop kept turning while the pipe was full: the rest waited for later tries instead of a blocking write.
    expect(turnsWhilePending).toBeGreaterThan(1);
  });
});
