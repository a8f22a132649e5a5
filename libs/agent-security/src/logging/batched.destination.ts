import type { OnApplicationShutdown } from '@nestjs/common';
import { closeSync, openSync, writeSync } from 'fs';

/** How long a full pipe is waited on before the next try, and how many tries the exit flush makes. */
const RETRY_MS = 10;
const EXIT_TRIES = 100;

// One exit hook for all of them: lines logged in the process's last turn are written too.
const live = new Set<BatchedDestination>();
let exitHookInstalled = false;

/**
 * The module's pino destination for a path or a file descriptor: the lines logged in one turn of the event
 * loop leave in one write(2), from the main thread, at the end of that turn. pino's own file destinations
 * either hand every write to libuv's thread pool (`sync: false`: a thread wake-up and a completion
 * callback per write) or make a syscall per line (`sync: true`); both cost several µs per request under
 * load (bench/RESULTS-more.md). A line is never held past the turn that logged it. When a non-blocking pipe
 * is full, what is left waits for the next try, in order, and the event loop is never blocked. Pending lines
 * are written on process exit and at application shutdown.
 */
export class BatchedDestination implements OnApplicationShutdown {
  readonly fd: number;
  private readonly owned: boolean;
  private lines: string[] = [];
  /** Bytes a full pipe did not take yet: written before any newer line. */
  private backlog: Buffer | undefined;
  private scheduled = false;
  private ended = false;
  private warned = false;
  private readonly flushLater = () => {
    this.scheduled = false;
    this.flushSync();
  };

  /** `dest`: a file path (opened for appending) or an open file descriptor (1 for stdout). */
  constructor(dest: string | number) {
    if (typeof dest === 'number') {
      this.fd = dest;
      this.owned = false;
    } else {
      this.fd = openSync(dest, 'a');
      this.owned = true;
    }
    live.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', flushAllOnExit);
    }
  }

  /** pino's call for each line. */
  write(line: string): boolean {
    // After end() the descriptor may already belong to another file: nothing more goes to it.
    if (this.ended) return true;
    this.lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushLater);
    }
    return true;
  }

  /** Writes what is pending now, as far as the descriptor takes it. */
  flushSync(): void {
    // A try scheduled before end() finds the descriptor closed, perhaps reused: it does nothing.
    if (this.ended) return;
    if (this.backlog !== undefined) {
      const rest = this.backlog;
      this.backlog = undefined;
      if (!this.writeOut(rest)) {
        this.retryLater();
        return;
      }
    }
    const lines = this.lines;
    if (lines.length === 0) return;
    const data = lines.length === 1 ? lines[0] : lines.join('');
    lines.length = 0;
    if (!this.writeOut(Buffer.from(data))) this.retryLater();
  }

  /** pino's `logger.flush(cb)`. */
  flush(callback?: (error?: Error) => void): void {
    this.flushSync();
    callback?.();
  }

  /** Writes what is pending and closes a file it opened; lines written after this are dropped. */
  end(): void {
    if (this.ended) return;
    this.flushToEnd();
    this.ended = true;
    live.delete(this);
    if (this.owned) closeSync(this.fd);
  }

  onApplicationShutdown(): void {
    this.end();
  }

  /** At exit nothing can wait for a later turn: retry a full pipe in place, for a bounded time. */
  flushToEnd(): void {
    this.flushSync();
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (let tries = 0; this.backlog !== undefined && tries < EXIT_TRIES; tries++) {
      Atomics.wait(sleeper, 0, 0, RETRY_MS);
      this.flushSync();
    }
  }

  /** True when all of `data` was written or dropped; false when a full pipe left some of it in `backlog`. */
  private writeOut(data: Buffer): boolean {
    let offset = 0;
    while (offset < data.length) {
      try {
        offset += writeSync(this.fd, data, offset, data.length - offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.backlog = data.subarray(offset);
          return false;
        }
        // A log that cannot be written must not take the requests down with it: say so once, drop the batch.
        if (!this.warned) {
          this.warned = true;
          process.emitWarning(`agent-security: log lines dropped: ${(error as Error).message}`);
        }
        return true;
      }
    }
    return true;
  }

  private retryLater(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(this.flushLater, RETRY_MS).unref();
  }
}

function flushAllOnExit(): void {
  for (const destination of live) destination.flushToEnd();
}
