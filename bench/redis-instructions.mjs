// Redis's own cost per storage call in instructions, not seconds: `node bench/redis-instructions.mjs` (after
// `npm run build`; needs valgrind). A private redis-server runs under callgrind; the callers' windows are filled
// and the script warmed up with instrumentation off, then CALLS calls are counted. Instruction counts do not move
// with the machine's load, so a change to the script shows here even when the VM's noise swamps it in µs
// (redis-script.mjs) and in the HTTP harness. Prints, per call: instructions inside EVALSHA (the script, the
// commands it runs and Redis's script machinery around them), inside the commands themselves, and in all of
// redis-server over the counted calls (socket reads and writes, parsing, replies, its timers).
// BENCH_SCRIPT=<file>[,<file>...] counts other one-window scripts of the same contract beside ours (same KEYS and
// ARGV, same reply) instead of the two-window and peer rows; BENCH_KEEP=1 keeps the dumps for callgrind_annotate.
// Windows are an hour long and filled over the last minute: nothing expires during the count, so it comes out the same
// on every run (in steady use a call also prunes about one entry: some thousand instructions more in ZREMRANGEBYSCORE).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { RedisThrottlerStorage } from '@agent-security/core';
import { SLIDING_WINDOW_SCRIPT } from '../libs/agent-security/dist/throttling/sliding-window.script.js';
import { CALLERS, HUGE_LIMIT } from './lib/common.mjs';
import { freePort } from './lib/process.mjs';
import { BATCH, drive, fillWindows } from './lib/storage-calls.mjs';

const CALLS = Number(process.env.BENCH_CALLS ?? 5000);
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 300);
// Filled over the last minute (fillWindows), counted in windows of an hour: nothing expires while counting.
const HOUR_MS = 3_600_000;
// Functions whose inclusive cost is reported: the script call, and the commands a script runs.
const SCRIPT_ENTRY = ['evalShaCommand', 'evalCommand'];
const COMMANDS = ['timeCommand', 'zremrangebyscoreCommand', 'zcardCommand', 'zaddCommand', 'pexpireCommand', 'zrangeCommand', 'incrCommand', 'getCommand', 'pttlCommand'];

async function startRedisUnderCallgrind(dir) {
  const port = await freePort();
  const child = spawn(
    'valgrind',
    ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`, 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  client.on('error', () => undefined);
  for (const deadline = Date.now() + 60_000; ; ) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server under valgrind did not start: ${error.message}\n${stderr}`);
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const control = (...args) => execFileSync('callgrind_control', [...args, String(child.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    url: `redis://127.0.0.1:${port}`,
    client,
    control,
    async stop() {
      client.disconnect();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}



/** Inclusive instruction counts of the named functions, and the total, from one callgrind dump. */
function readDump(file) {
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const total = Number(/^([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/m.exec(annotated)[1].replaceAll(',', ''));
  const inclusive = {};
  for (const match of annotated.matchAll(/^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*?:(\w+)\s/gm)) {
    const name = match[2];
    if (!(name in inclusive)) inclusive[name] = Number(match[1].replaceAll(',', ''));
  }
  return { total, inclusive };
}

async function measure(name, makeCall, keysOf) {
  const dir = mkdtempSync(join(tmpdir(), 'redis-instructions-'));
  const redis = await startRedisUnderCallgrind(dir);
  const client = new Redis(redis.url, { enableAutoPipelining: true, enableOfflineQueue: false });
  try {
    await new Promise((resolve) => client.once('ready', resolve));
    const call = await makeCall(client);
    if (keysOf) await fillWindows(redis.client, keysOf, ENTRIES);
    await drive(call, 2000);
    redis.control('--instr=on');
    redis.control('--zero');
    await drive(call, CALLS);
    redis.control('--dump');
    redis.control('--instr=off');
    const dump = readdirSync(dir).filter((file) => /\.\d+$/.test(file)).sort().at(-1);
    const { total, inclusive } = readDump(join(dir, dump));
    const per = (count) => (count / CALLS).toLocaleString('en-US', { maximumFractionDigits: 0 });
    const script = SCRIPT_ENTRY.reduce((sum, fn) => sum + (inclusive[fn] ?? 0), 0);
    const commands = COMMANDS.filter((fn) => inclusive[fn] !== undefined);
    const inside = commands.reduce((sum, fn) => sum + inclusive[fn], 0);
    console.log(
      `| ${name} | ${per(total)} | ${per(script)} | ${per(inside)} (${commands.map((fn) => `${fn.replace('Command', '')} ${per(inclusive[fn])}`).join(', ')}) | ${per(script - inside)} |`,
    );
  } finally {
    client.disconnect();
    await redis.stop();
    if (process.env.BENCH_KEEP) console.log(`(callgrind dump kept in ${dir})\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const ourKeys = (caller) => [`rl:{user:user-${caller}}`];
const twoKeys = (caller) => [`rl:{user:user-${caller}}`, `rl:{user:user-${caller}}:route`];
const ourCall = (script) => async (client) => {
  const storage = new RedisThrottlerStorage(client);
  if (script === undefined) return (caller) => storage.consume([{ key: ourKeys(caller)[0], limit: HUGE_LIMIT, windowMs: HOUR_MS }]);
  const sha = await client.script('LOAD', script);
  // A member of the storage's own shape (instance id, sequence), so that only the script differs.
  const instance = randomBytes(6).toString('base64url');
  let sequence = 0;
  return (caller) => client.evalsha(sha, 1, ourKeys(caller)[0], `${instance}:${++sequence}`, HUGE_LIMIT, HOUR_MS);
};

console.log(`Redis instructions per storage call (callgrind): ${CALLS.toLocaleString('en-US')} calls over ${CALLERS} callers, ${BATCH} in flight, ${ENTRIES} entries per caller's window.\n`);
console.log('| storage | all of redis-server | in the script call (EVALSHA / EVAL) | in the commands it runs | script machinery (the difference) |');
console.log('|---|---:|---:|---|---:|');
await measure('ours, one window', ourCall(undefined), ourKeys);
for (const file of (process.env.BENCH_SCRIPT ?? '').split(',').filter(Boolean)) {
  const script = readFileSync(file, 'utf8');
  if (script === SLIDING_WINDOW_SCRIPT) throw new Error(`${file} is our script`);
  await measure(`BENCH_SCRIPT ${file}`, ourCall(script), ourKeys);
}
if (!process.env.BENCH_SCRIPT) {
  await measure(
    'ours, caller window + a route window',
    (client) => {
      const storage = new RedisThrottlerStorage(client);
      return (caller) => storage.consume(twoKeys(caller).map((key) => ({ key, limit: HUGE_LIMIT, windowMs: HOUR_MS })));
    },
    twoKeys,
  );
  await measure('peer (fixed-window counter, EVAL)', (client) => {
    const storage = new ThrottlerStorageRedisService(client);
    return (caller) => storage.increment(`user-${caller}`, HOUR_MS, HUGE_LIMIT, HOUR_MS, 'default');
  });
}
