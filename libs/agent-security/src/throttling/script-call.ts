import { Command } from 'ioredis';

const TIMED_OUT = 'Command timed out';

/**
 * The command timeouts of one storage's script calls, kept in one queue with one timer. ioredis gives each
 * command a timer of its own when the client has `commandTimeout`: a `setTimeout` and a `clearTimeout` per
 * call, and a `delete` on the command that turns it into a dictionary-mode object. A connection answers in
 * order and every call has the same timeout, so the oldest call still waiting is always the next to expire:
 * one timer, armed for it, is enough.
 */
export class ScriptCallDeadlines {
  private readonly calls: Array<Command | undefined> = [];
  private readonly deadlines: number[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly expire = () => {
    this.timer = undefined;
    const now = performance.now();
    const calls = this.calls;
    let head = this.head;
    while (head < calls.length) {
      const call = calls[head]!;
      if (!call.isSettled) {
        if (this.deadlines[head] > now) break;
        call.reject(new Error(TIMED_OUT));
      }
      calls[head++] = undefined;
    }
    if (head === calls.length) {
      calls.length = 0;
      this.deadlines.length = 0;
      head = 0;
    } else if (head >= 1024) {
      calls.splice(0, head);
      this.deadlines.splice(0, head);
      head = 0;
    }
    this.head = head;
    if (head < calls.length) this.timer = setTimeout(this.expire, Math.max(0, this.deadlines[head] - now));
  };

  add(call: Command, ms: number): void {
    this.calls.push(call);
    this.deadlines.push(performance.now() + ms);
    if (this.timer === undefined) this.timer = setTimeout(this.expire, ms);
  }
}

/**
 * One call of the sliding-window script. ioredis asks the command to time itself (`setTimeout(commandTimeout)`)
 * when the client has a `commandTimeout`; this one hands that to its storage's deadline queue, with the same
 * error when it expires. Without `commandTimeout` nothing is timed, as with any ioredis command.
 */
export class ScriptCall extends Command {
  constructor(
    name: 'evalsha' | 'eval',
    args: Array<string | number>,
    options: { keyPrefix?: string },
    private readonly deadlines: ScriptCallDeadlines,
  ) {
    super(name, args, options);
  }

  override setTimeout(ms: number): void {
    this.deadlines.add(this, ms);
  }
}
