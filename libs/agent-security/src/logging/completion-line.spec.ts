import { Writable } from 'stream';
import type { AgentSecurityOptions } from '../agent-security-options.interface';
import { resolveAgentSecurityConfig } from '../agent-security.config';
import type { CompletionFields } from './completion-line';
import { completionLog, createRootLogger } from './logger-options';

type Logging = Exclude<AgentSecurityOptions['logging'], false | undefined>;

function capture(logging: Omit<Logging, 'destination'>) {
  const written: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString());
      done();
    },
  });
  const config = resolveAgentSecurityConfig({ jwt: { secret: 'x'.repeat(32) }, logging: { ...logging, destination } });
  const completion = completionLog(config, createRootLogger(config)!);
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  return { completion, written, flush };
}

const ordinary: CompletionFields = {
  requestId: '3f1e2a4b-1234-4abc-8def-0123456789ab',
  method: 'GET',
  path: '/agent/chat?q=1',
  route: '/agent/chat',
  status: 200,
  durationMs: 12.3,
  userId: 'alice',
  tier: 'pro',
  ip: '127.0.0.1',
  aborted: undefined,
};

// Values a caller controls, with everything JSON has to escape, and fields left out.
const awkward: CompletionFields = {
  requestId: 'id "quoted" \\ back\tslash',
  method: 'POST',
  path: '/caf\u00e9/\ud83d\ude80?x="1"&y=\\n\n\u0001',
  route: undefined,
  status: 404,
  durationMs: 0,
  userId: 'user\u0000with\u001fcontrols and a very long tail '.repeat(4),
  tier: undefined,
  ip: undefined,
  aborted: true,
};

describe('the completion line', () => {
  // A fixed time: the two lines compared must differ in nothing.
  const fixedTime = () => ',"time":1700000000000';

  it.each([
    ['an ordinary request', ordinary],
    ['fields a caller controls, with characters JSON escapes, and fields left out', awkward],
  ])('is written exactly as pino writes the same fields: %s', async (_name, fields) => {
    const { completion, written, flush } = capture({
      pino: { timestamp: fixedTime, name: 'agents', base: { service: 'x' } },
    });
    completion.write(fields, undefined);
    completion.logger.info(fields, 'request completed');
    await flush();
    expect(written).toHaveLength(2);
    expect(written[0]).toBe(written[1]);
    expect(JSON.parse(written[0])).toMatchObject({
      level: 30,
      time: 1700000000000,
      name: 'agents',
      service: 'x',
      msg: 'request completed',
    });
  });

  it('follows the message key and line end the pino options set', async () => {
    const { completion, written, flush } = capture({ pino: { messageKey: 'message', crlf: true } });
    completion.write(ordinary, undefined);
    await flush();
    expect(written[0].endsWith('"message":"request completed"}\r\n')).toBe(true);
  });

  it("goes through pino where the user's options change lines: formatters, serializers, redact paths", async () => {
    const formatted = capture({ pino: { formatters: { log: (line) => ({ ...line, formatted: true }) } } });
    formatted.completion.write(ordinary, undefined);
    const serialized = capture({ pino: { serializers: { userId: (id: string) => id.toUpperCase() } } });
    serialized.completion.write(ordinary, undefined);
    const redacted = capture({ redact: ['ip'] });
    redacted.completion.write(ordinary, undefined);
    await formatted.flush();
    expect(JSON.parse(formatted.written[0])).toMatchObject({ formatted: true, userId: 'alice' });
    expect(JSON.parse(serialized.written[0])).toMatchObject({ userId: 'ALICE' });
    expect(JSON.parse(redacted.written[0])).toMatchObject({ ip: '[REDACTED]', userId: 'alice' });
  });

  it('follows the logger level as it changes at runtime', async () => {
    const { completion, written, flush } = capture({ level: 'info' });
    completion.logger.level = 'warn';
    completion.write(ordinary, undefined);
    completion.logger.level = 'info';
    completion.write({ ...ordinary, requestId: 'second' }, undefined);
    await flush();
    expect(written.map((line) => JSON.parse(line).requestId)).toEqual(['second']);
  });

  it('logs a 5xx or an error at error level, with the error, through pino', async () => {
    const { completion, written, flush } = capture({});
    completion.write({ ...ordinary, status: 500 }, undefined);
    completion.write(ordinary, new Error('handler blew up'));
    completion.write({ ...ordinary, status: 503 }, undefined);
    await flush();
    const [failed, errored, refused] = written.map((line) => JSON.parse(line));
    expect(failed).toMatchObject({ level: 50, status: 500, msg: 'request failed' });
    // A 503 with no error attached is a refusal the app chose (a store outage under deny): an ordinary line.
    expect(refused).toMatchObject({ level: 30, status: 503, msg: 'request completed' });
    expect(errored).toMatchObject({
      level: 50,
      status: 200,
      msg: 'request failed',
      err: { message: 'handler blew up' },
    });
    expect(errored.err.stack).toContain('handler blew up');
  });
});
