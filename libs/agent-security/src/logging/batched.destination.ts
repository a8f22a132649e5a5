import type { OnApplicationShutdown } from '@nestjs/common';
import { appendFileSync, closeSync, openSync, writeSync } from 'fs';

/** How long a full pipe is waited on before the next try, and how long shutdown and exit keep trying. */
const RETRY_MS = 10;
const GIVE_UP_MS = 1000;
/** Bytes held while a pipe stays full; past them lines are dropped and counted, so memory stays bounded. */
const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

// One exit hook for all of them: lines logged in the process's last turn are written too.
const live = new Set<BatchedDestination>();
let exitHookInstalled = false;

export interface BatchedDestinationOptions {
  /** Bytes held while the descriptor does not take them (a full pipe); past this, lines are dropped and counted. Default 16 MiB. */
  maxPendingBytes?: number;
}

/**
 * The module's pino destination for a path or a file descriptor: the lines logged in one turn of the event
 * loop leave in one write(2), from the main thread, at the end of that turn, instead of one write per line
 * (pino's `sync: true`, its default for stdout) or a hand-off to libuv's thread pool per write
 * (`sync: false`): a line costs no system call or thread hop of its own (the bench's logging row, docs/performance.md).
 * A line is never held past the turn that logged it. When a non-blocking
 * pipe is full, what is left waits for the next try, in order, without blocking the event loop, up to
 * `maxPendingBytes`. Pending lines are written at application shutdown and on process exit.
 */
export class BatchedDestination implements OnApplicationShutdown {
  /** Its descriptor: a new one after reopen(). */
  fd: number;
  /** The path of a file it opened (and closes at shutdown); undefined for a descriptor it was given. */
  private readonly path: string | undefined;
  private readonly maxPendingBytes: number;
  private lines: string[] = [];
  /** Bytes a full pipe did not take yet: written before any newer line. */
  private backlog: Buffer | undefined;
  private pendingBytes = 0;
  private dropped = 0;
  private scheduled = false;
  private closed = false;
  private warned = false;
  private readonly flushLater = () => {
    this.scheduled = false;
    this.flushSync();
  };

  /** `dest`: a file path (opened for appending) or an open file descriptor (1 for stdout). */
  constructor(dest: string | number, options: BatchedDestinationOptions = {}) {
    if (typeof dest === 'number') {
      this.fd = dest;
      this.path = undefined;
    } else {
      this.fd = openSync(dest, 'a');
      this.path = dest;
    }
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    live.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', flushAllOnExit);
    }
  }

  /** pino's call for each line. */
  write(line: string): boolean {
    if (this.closed) {
      // After shutdown the descriptor may belong to another file by now: straight to the path, by name.
      this.appendAfterClose(line);
      return true;
    }
    if (this.backlog !== undefined) {
      // Only while a pipe is full can lines pile up; bound them there and nowhere else on the hot path.
      if (this.pendingBytes + line.length > this.maxPendingBytes) {
        this.dropped++;
        return true;
      }
      this.pendingBytes += line.length;
    }
    this.lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushLater);
    }
    return true;
  }

  /** Writes what is pending now, as far as the descriptor takes it. */
  flushSync(): void {
    if (this.closed) return;
    if (this.backlog !== undefined) {
      const rest = this.backlog;
      this.backlog = undefined;
      if (!this.writeOut(rest)) {
        this.retryLater();
        return;
      }
      if (this.dropped > 0) {
        this.lines.push(
          `{"level":40,"time":${Date.now()},"msg":"${this.dropped} log lines dropped while the output was full"}\n`,
        );
        this.dropped = 0;
      }
    }
    const lines = this.lines;
    if (lines.length === 0) return;
    const data = lines.length === 1 ? lines[0] : lines.join('');
    lines.length = 0;
    this.pendingBytes = 0;
    if (!this.writeOut(Buffer.from(data))) this.retryLater();
  }

  /** pino's `logger.flush(cb)`. */
  flush(callback?: (error?: Error) => void): void {
    this.flushSync();
    callback?.();
  }

  /**
   * At shutdown: writes what is pending, retrying a full pipe without blocking the event loop for up to a
   * second, then closes a file it opened. Lines logged after that still reach the file (appended by path)
   * or the descriptor it was given.
   */
  async onApplicationShutdown(): Promise<void> {
    const deadline = Date.now() + GIVE_UP_MS;
    this.flushSync();
    while (this.backlog !== undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      this.flushSync();
    }
    this.close();
  }

  /** Synchronous shutdown: what `onApplicationShutdown` does, blocking while a pipe is full (up to a second). */
  end(): void {
    this.flushToEnd();
    this.close();
  }

  /** At exit nothing can wait for a later turn: retry a full pipe in place, for a bounded time. */
  flushToEnd(): void {
    this.flushSync();
    if (this.backlog === undefined) return;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + GIVE_UP_MS;
    while (this.backlog !== undefined && Date.now() < deadline) {
      Atomics.wait(sleeper, 0, 0, RETRY_MS);
      this.flushSync();
    }
  }

  /**
   * After a log rotation that moved the file away (logrotate without copytruncate): what is pending goes to the old
   * file, and the lines after it to a new file at the path. For a SIGHUP handler or logrotate's postrotate:
   * `app.get(AGENT_SECURITY_LOG_DESTINATION)?.reopen?.()`. A descriptor it was given stays as it is.
   */
  reopen(): void {
    if (this.path === undefined || this.closed) return;
    this.flushSync();
    const previous = this.fd;
    this.fd = openSync(this.path, 'a');
    closeSync(previous);
  }

  private close(): void {
    // A descriptor it was given stays the caller's and stays in use (pending lines go on being retried).
    if (this.path === undefined || this.closed) return;
    if (this.backlog !== undefined || this.lines.length > 0) {
      this.warn(`${this.pendingBytes + (this.backlog?.length ?? 0)} bytes of log lines given up at shutdown`);
    }
    this.closed = true;
    live.delete(this);
    closeSync(this.fd);
  }

  private appendAfterClose(line: string): void {
    try {
      appendFileSync(this.path!, line);
    } catch (error) {
      this.warn(`log line dropped: ${(error as Error).message}`);
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
        this.warn(`log lines dropped: ${(error as Error).message}`);
        return true;
      }
    }
    return true;
  }

  private warn(message: string): void {
    if (this.warned) return;
    this.warned = true;
    process.emitWarning(`agent-security: ${message}`);
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
