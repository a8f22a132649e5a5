import { Command } from 'ioredis';

const TIMED_OUT = 'Command timed out';

/**
 * The command timeouts of one storage's script calls, kept in one queue with one timer. ioredis gives each
 * command a timer of its own when the client has `commandTimeout`: a `setTimeout` and a `clearTimeout` per
 * call, and a `delete` on the command that turns it into a dictionary-mode object. A connection answers in
 * order and every call has the same timeout, so the oldest call still waiting is always the next to expire:
 * one timer, armed for it, is enough.
 *
 * Timers run before the event loop reads its sockets. When the timer fires late because the process was busy (a
 * long synchronous task, a GC pause, a stalled VM), a reply that arrived meanwhile is still unread, and failing
 * its call would report a Redis outage for the app's own stall (and, with the `fallback` policy, spend budgets in
 * memory for a while). So calls found overdue by a late timer get one more timeout from then, once: a Redis that
 * is really gone still fails them, one timeout after the loop frees.
 */
export class ScriptCallDeadlines {
  private readonly calls: Array<Command | undefined> = [];
  private readonly deadlines: number[] = [];
  private head = 0;
  /** Calls before this index have had their one extension. */
  private extendedUpTo = 0;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer should fire (performance.now()). */
  private due = 0;
  private readonly expire = () => {
    this.timer = undefined;
    const now = performance.now();
    const calls = this.calls;
    const deadlines = this.deadlines;
    let head = this.head;
    if (now - this.due > this.timeoutMs / 4) {
      let i = Math.max(head, this.extendedUpTo);
      for (const until = now + this.timeoutMs; i < calls.length && deadlines[i] <= now; i++) deadlines[i] = until;
      this.extendedUpTo = i;
    }
    while (head < calls.length) {
      const call = calls[head]!;
      if (!call.isSettled) {
        if (deadlines[head] > now) break;
        call.reject(new Error(TIMED_OUT));
      }
      calls[head++] = undefined;
    }
    if (head === calls.length) {
      calls.length = 0;
      deadlines.length = 0;
      head = 0;
      this.extendedUpTo = 0;
    } else if (head >= 1024) {
      calls.splice(0, head);
      deadlines.splice(0, head);
      this.extendedUpTo = Math.max(0, this.extendedUpTo - head);
      head = 0;
    }
    this.head = head;
    if (head < calls.length) this.arm(Math.max(0, deadlines[head] - now), now);
  };

  add(call: Command, ms: number): void {
    const now = performance.now();
    this.calls.push(call);
    this.deadlines.push(now + ms);
    this.timeoutMs = ms;
    if (this.timer === undefined) this.arm(ms, now);
  }

  private arm(ms: number, now: number): void {
    this.due = now + ms;
    this.timer = setTimeout(this.expire, ms);
  }
}

/**
 * One call of the sliding-window script, written as the storage built it. ioredis would take the arguments one by
 * one, turn each number into a string, measure each one's UTF-8 length and join them with their length prefixes: for
 * a batch, 5 or more arguments per request (most of the app's work for the call in bench/app-instructions.mjs). The
 * storage writes the RESP text itself, per request as it comes, with the parts that repeat (a window's limit and
 * length) built once. ioredis asks the command to time itself (`setTimeout(commandTimeout)`) when the client has a
 * `commandTimeout`; this one hands that to its storage's deadline queue, with the same error when it expires.
 * Without `commandTimeout` nothing is timed, as with any ioredis command.
 */
export class ScriptCall extends Command {
  constructor(
    name: 'evalsha' | 'eval',
    /** The whole command in RESP, name and arguments. */
    private readonly resp: string,
    private readonly deadlines: ScriptCallDeadlines,
  ) {
    super(name, []);
  }

  override toWritable(): string {
    return this.resp;
  }

  override setTimeout(ms: number): void {
    this.deadlines.add(this, ms);
  }
}

/** A string as a RESP bulk string. */
export function bulkString(value: string): string {
  return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
}

/** An ASCII string (a number, an id) as a RESP bulk string: its length is its byte count. */
export function bulkAscii(value: string): string {
  return `$${value.length}\r\n${value}\r\n`;
}
