// Redis's own cost per storage call in instructions, not seconds: `node bench/redis-instructions.mjs` (after
// `npm run build`; needs valgrind). A private redis-server runs under callgrind; the callers' windows are filled
// and the script warmed up with instrumentation off, then CALLS calls are counted. Instruction counts do not move
// with the machine's load, so a change to the script shows here even when the VM's noise swamps it in µs
// (redis-script.mjs) and in the HTTP harness. Prints, per call: instructions inside EVALSHA (the script, the
// commands it runs and Redis's script machinery around them), inside the commands themselves, and in all of
// redis-server over the counted calls (socket reads and writes, parsing, replies, its timers).
// Our storage sends the calls of one event-loop turn as one script call; the first column says how many shared one.
// BENCH_SCRIPT=<file>[,<file>...] counts other scripts of the same contract beside ours (same KEYS and ARGV, same
// reply), each called once per storage call with one request's window, instead of the two-window and peer rows; BENCH_KEEP=1 keeps the dumps for callgrind_annotate.
// Windows are an hour long and filled over the last minute: nothing expires during the count, so it comes out the same
// on every run (in steady use a call also prunes about one entry: some thousand instructions more in ZREMRANGEBYSCORE).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { RedisThrottlerStorage } from '@agent-security/core';
import { SLIDING_WINDOW_SCRIPT } from '../libs/agent-security/dist/throttling/sliding-window.script.js';
import { CALLERS, HUGE_LIMIT } from './lib/common.mjs';
import { callgrindControl, callgrindWrapper, readDumps } from './lib/callgrind.mjs';
import { redisSnapshot, startRedis } from './lib/redis.mjs';
import { BATCH, drive, fillWindows } from './lib/storage-calls.mjs';

const CALLS = Number(process.env.BENCH_CALLS ?? 5000);
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 300);
// Filled over the last minute (fillWindows), counted in windows of an hour: nothing expires while counting.
const HOUR_MS = 3_600_000;
// Functions whose inclusive cost is reported: the script call, and the commands a script runs.
const SCRIPT_ENTRY = ['evalShaCommand', 'evalCommand'];
const COMMANDS = [
  'timeCommand',
  'zremrangebyscoreCommand',
  'zcardCommand',
  'zaddCommand',
  'pexpireCommand',
  'zrangeCommand',
  'incrCommand',
  'getCommand',
  'pttlCommand',
];

async function measure(name, makeCall, keysOf) {
  const dir = mkdtempSync(join(tmpdir(), 'redis-instructions-'));
  const redis = await startRedis({ wrapper: callgrindWrapper(dir), timeoutMs: 60_000 });
  const client = new Redis(redis.url, { enableAutoPipelining: true, enableOfflineQueue: false });
  try {
    await new Promise((resolve) => client.once('ready', resolve));
    const call = await makeCall(client);
    if (keysOf) await fillWindows(redis.client, keysOf, ENTRIES);
    await drive(call, 2000);
    const before = await redisSnapshot(redis.client);
    callgrindControl(redis.pid, '--instr=on');
    callgrindControl(redis.pid, '--zero');
    await drive(call, CALLS);
    callgrindControl(redis.pid, '--dump');
    callgrindControl(redis.pid, '--instr=off');
    const after = await redisSnapshot(redis.client);
    const scriptCalls = ['evalsha', 'eval'].reduce(
      (sum, name) => sum + (after.commands[name] ?? 0) - (before.commands[name] ?? 0),
      0,
    );
    const { total, functions: inclusive } = readDumps(dir, { inclusive: true });
    const per = (count) => (count / CALLS).toLocaleString('en-US', { maximumFractionDigits: 0 });
    const script = SCRIPT_ENTRY.reduce((sum, fn) => sum + (inclusive[fn] ?? 0), 0);
    const commands = COMMANDS.filter((fn) => inclusive[fn] !== undefined);
    const inside = commands.reduce((sum, fn) => sum + inclusive[fn], 0);
    console.log(
      `| ${name} | ${(CALLS / scriptCalls).toFixed(1)} | ${per(total)} | ${per(script)} | ${per(inside)} (${commands.map((fn) => `${fn.replace('Command', '')} ${per(inclusive[fn])}`).join(', ')}) | ${per(script - inside)} |`,
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
  if (script === undefined)
    return (caller) => storage.consume([{ key: ourKeys(caller)[0], limit: HUGE_LIMIT, windowMs: HOUR_MS }]);
  const sha = await client.script('LOAD', script);
  // A member of the storage's own shape (instance id, sequence), so that only the script differs.
  const instance = randomBytes(6).toString('base64url');
  let sequence = 0;
  return (caller) => client.evalsha(sha, 1, ourKeys(caller)[0], 1, `${instance}:${++sequence}`, HUGE_LIMIT, HOUR_MS);
};

console.log(
  `Redis instructions per storage call (callgrind): ${CALLS.toLocaleString('en-US')} calls over ${CALLERS} callers, ${BATCH} in flight, ${ENTRIES} entries per caller's window.\n`,
);
console.log(
  '| storage | storage calls per script call | all of redis-server | in the script calls (EVALSHA / EVAL) | in the commands they run | script machinery (the difference) |',
);
console.log('|---|---:|---:|---:|---|---:|');
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
