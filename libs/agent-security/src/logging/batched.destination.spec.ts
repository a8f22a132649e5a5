import { execFileSync, spawnSync } from 'child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { BatchedDestination } from './batched.destination';
import { createRootLogger, logDestination } from './logger-options';
import { resolveAgentSecurityConfig } from '../agent-security.config';

// The module object itself (not an import namespace) so that a spy on writeSync sees the library's calls.
const fs: typeof import('fs') = require('fs');

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
    const writes = jest.spyOn(fs, 'writeSync');
    for (let i = 0; i < 100; i++) destination.write(`line ${i}\n`);
    // Nothing yet: a destination writing line by line would already have all 100 in the file.
    expect(readFileSync(file, 'utf8')).toBe('');
    await nextTurn();
    expect(writes.mock.calls.filter(([fd]) => fd === destination.fd)).toHaveLength(1);
    writes.mockRestore();
    expect(readFileSync(file, 'utf8')).toBe(Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(''));
    destination.write('later\n');
    await nextTurn();
    expect(readFileSync(file, 'utf8').endsWith('line 99\nlater\n')).toBe(true);
    destination.end();
  });

  it('follows a log rotation on reopen(): pending lines to the moved file, later ones to a new file at the path', async () => {
    const file = join(dir, 'agent.log');
    const destination = new BatchedDestination(file);
    destination.write('before rotation\n');
    await nextTurn();
    renameSync(file, `${file}.1`);
    destination.write('pending at rotation\n');
    destination.reopen();
    destination.write('after rotation\n');
    await nextTurn();
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('before rotation\npending at rotation\n');
    // Without reopen() the line went on to the moved file and the path stayed empty (or missing).
    expect(readFileSync(file, 'utf8')).toBe('after rotation\n');
    destination.end();
  });

  it('writes what is pending on end(), and appends what comes after it by path', async () => {
    const file = join(dir, 'agent.log');
    const destination = new BatchedDestination(file);
    destination.write('before end\n');
    destination.end();
    expect(readFileSync(file, 'utf8')).toBe('before end\n');
    // A line logged by a shutdown hook that runs later, or after close(): not lost, and not sent to a reused descriptor.
    destination.write('after end\n');
    expect(readFileSync(file, 'utf8')).toBe('before end\nafter end\n');
  });

  it('is what the root logger writes to when logging.destination is a path', async () => {
    const file = join(dir, 'agent.log');
    const config = resolveAgentSecurityConfig({ jwt: { secret: 'x'.repeat(32) }, logging: { destination: file } });
    const destination = logDestination(config);
    expect(destination).toBeInstanceOf(BatchedDestination);
    const logger = createRootLogger(config, destination)!;
    logger.info({ n: 1 }, 'first');
    logger.warn('second');
    await nextTurn();
    (destination as BatchedDestination).end();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
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

  /** A FIFO with both ends non-blocking: the writer's end fills at the pipe's capacity (64 KB on Linux). */
  function fullablePipe() {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const chunk = Buffer.alloc(65536);
    let received = '';
    return {
      writer,
      /** Reads whatever is there, one event-loop turn at a time, until `done` says so (or 10 s pass); returns the turns taken. */
      async drain(done: (received: string) => boolean): Promise<number> {
        let turns = 0;
        const deadline = Date.now() + 10_000;
        while (!done(received) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 2));
          turns++;
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
        return turns;
      },
      get received() {
        return received;
      },
      close() {
        closeSync(writer);
        closeSync(reader);
      },
    };
  }

  const numbered = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => `${String(from + i).padStart(6, '0')} ${'x'.repeat(93)}\n`);

  it('keeps every line, in order, when a non-blocking pipe is full, and never blocks the event loop', async () => {
    const pipe = fullablePipe();
    const destination = new BatchedDestination(pipe.writer);
    try {
      // About 300 KB in one turn: several times what the pipe holds.
      const expected = numbered(0, 3000).join('');
      for (const line of numbered(0, 3000)) destination.write(line);
      const turns = await pipe.drain((received) => received.length >= expected.length);
      expect(pipe.received).toBe(expected);
      // The loop kept turning while the pipe was full: the rest waited for later tries instead of a blocking write.
      expect(turns).toBeGreaterThan(1);
    } finally {
      destination.end();
      pipe.close();
    }
  });

  it('holds at most maxPendingBytes while the pipe stays full, and says how many lines it dropped', async () => {
    const pipe = fullablePipe();
    const destination = new BatchedDestination(pipe.writer, { maxPendingBytes: 10_000 });
    try {
      const first = numbered(0, 1000).join('');
      for (const line of numbered(0, 1000)) destination.write(line);
      await nextTurn();
      // The pipe is full now and nobody reads: 1,000 more lines (100 KB) meet the 10 KB bound.
      for (const line of numbered(1000, 1000)) destination.write(line);
      await pipe.drain((received) => received.includes('dropped'));
      const lines = pipe.received.trim().split('\n');
      expect(pipe.received.startsWith(first)).toBe(true);
      const kept = lines.filter((line) => /^00(1\d{3}) x+$/.test(line));
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThanOrEqual(100);
      // Those kept are the first ones after the full pipe, in order, then one line counts the rest.
      expect(kept).toEqual(numbered(1000, kept.length).map((line) => line.trim()));
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({
        level: 40,
        msg: `${1000 - kept.length} log lines dropped while the output was full`,
      });
    } finally {
      destination.end();
      pipe.close();
    }
  });
});
