// What one completion line costs outside HTTP: `node bench/log-line.mjs` (after `npm run build`).
// The module's CompletionLog with the module's options (its own line in pino's layout), the same fields through
// pino (what CompletionLog falls back to when the user's pino options can change a line), and a line built by hand
// in a template, each written to a sink that drops it and to a file (pino.destination, async), in µs of CPU per line.
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { resolveAgentSecurityConfig } from '../libs/agent-security/dist/agent-security.config.js';
import { completionLog, createRootLogger } from '../libs/agent-security/dist/logging/logger-options.js';

const LINES = Number(process.env.BENCH_LINES ?? 200_000);
const file = path.join(os.tmpdir(), `agent-security-log-line-${process.pid}.log`);
const sinks = { drop: { write() {} }, file: pino.destination({ dest: file, sync: false }) };

const line = (i) => ({
  requestId: '3f1e2a4b-1234-4abc-8def-0123456789ab',
  method: 'GET',
  path: '/me',
  route: '/me',
  status: 200,
  durationMs: 1.3,
  userId: `user-${i % 1000}`,
  tier: 'pro',
  ip: '127.0.0.1',
  aborted: undefined,
});
const byHand = (i) =>
  `{"level":30,"time":${Date.now()},"pid":${process.pid},"requestId":"3f1e2a4b-1234-4abc-8def-0123456789ab","method":"GET",` +
  `"path":${JSON.stringify('/me')},"route":"/me","status":200,"durationMs":1.3,"userId":${JSON.stringify(`user-${i % 1000}`)},` +
  `"tier":"pro","ip":"127.0.0.1","msg":"request completed"}\n`;

async function measure(write) {
  const cpu = process.cpuUsage();
  for (let i = 0; i < LINES; i++) {
    write(i);
    // Let the async destination write, as the event loop of a server would.
    if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / LINES;
}

console.log(
  '| sink | module CompletionLog µs CPU/line | the same through pino µs CPU/line | built by hand µs CPU/line |',
);
console.log('|---|---:|---:|---:|');
for (let round = 0; round < 2; round++) {
  for (const [name, sink] of Object.entries(sinks)) {
    const config = resolveAgentSecurityConfig({ jwt: { secret: 'x'.repeat(32) }, logging: { destination: sink } });
    const completion = completionLog(config, createRootLogger(config));
    const viaModule = await measure((i) => completion.write(line(i), undefined));
    const viaPino = await measure((i) => completion.logger.info(line(i), 'request completed'));
    const viaHand = await measure((i) => sink.write(byHand(i)));
    console.log(
      `| ${name} (round ${round + 1}) | ${viaModule.toFixed(2)} | ${viaPino.toFixed(2)} | ${viaHand.toFixed(2)} |`,
    );
  }
}
sinks.file.flushSync();
rmSync(file, { force: true });
