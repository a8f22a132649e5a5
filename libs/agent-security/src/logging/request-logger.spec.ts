import { Writable } from 'stream';
import { createRootLogger } from './logger-options';
import type { IncomingMessage } from 'http';
import { requestLogger } from './request-logger';
import { resolveAgentSecurityConfig } from '../agent-security.config';

describe('the root logger', () => {
  function capture() {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const config = resolveAgentSecurityConfig({ jwt: { secret: 'x'.repeat(32) }, logging: { destination } });
    return { logger: createRootLogger(config)!, lines };
  }

  it("tags the request logger's lines with the request id, and logs outside a request, again and again", async () => {
    const { logger, lines } = capture();
    logger.info('outside');
    logger.info({ extra: 1 }, 'outside again');
    const request = { id: 'req-1' } as unknown as IncomingMessage;
    const log = requestLogger(logger, request);
    log.info({ extra: 2 }, 'inside');
    Object.assign(request, { route: { path: '/agent/chat' }, principal: { userId: 'alice', tier: 'pro' } });
    // A child made inside the request (PinoLogger.assign() makes one) still knows it.
    log.child({ agentRun: 'run-1' }).info('inside, caller known');
    logger.info({ requestId: 'explicit' }, 'explicit id');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines[3]).toMatchObject({ route: '/agent/chat', userId: 'alice', tier: 'pro', agentRun: 'run-1' });
    expect(lines.map(({ msg, requestId }) => ({ msg, requestId }))).toEqual([
      { msg: 'outside', requestId: undefined },
      { msg: 'outside again', requestId: undefined },
      { msg: 'inside', requestId: 'req-1' },
      { msg: 'inside, caller known', requestId: 'req-1' },
      { msg: 'explicit id', requestId: 'explicit' },
    ]);
  });
});
