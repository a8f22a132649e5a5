// What one storage call costs, without HTTP: `node bench/redis-script.mjs` (after `npm run build`).
// Drives our RedisThrottlerStorage and the peer's (@nest-lab/throttler-storage-redis), each on its own private
// redis-server, over 1,000 callers whose windows already hold ENTRIES members: 50 callers at a time, each call
// issued from its own turn of the event loop as HTTP requests are. Prints Redis's time per script call and per
// command inside it (INFO commandstats), Redis's CPU per call (INFO cpu, sockets included) and the app's CPU per
// call (process.cpuUsage). No HTTP, so the figures hold still between runs where the full harness drifts; Redis
// shares the cores with the app there, so its CPU is the app's loss too.
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Redis } from 'ioredis';
import { RedisThrottlerStorage } from '@agent-security/core';
import { SLIDING_WINDOW_SCRIPT } from '../libs/agent-security/dist/throttling/sliding-window.script.js';
import { CALLERS, HUGE_LIMIT, WINDOW_MS } from './lib/common.mjs';
import { startRedis } from './lib/redis.mjs';
import { BATCH, drive, fillWindows } from './lib/storage-calls.mjs';

const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 300);

function commandTimes(info) {
  const times = {};
  for (const match of info.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm))
    times[match[1]] = { calls: Number(match[2]), usec: Number(match[3]) };
  return times;
}

async function cpuSeconds(client) {
  const info = await client.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)[1]);
}

async function measure(name, makeCall, keysOf) {
  const redis = await startRedis();
  // The module's own connection options: auto-pipelining, a command timeout, no offline queue.
  const client = new Redis(redis.url, { enableAutoPipelining: true, commandTimeout: 50, enableOfflineQueue: false });
  try {
    await new Promise((resolve) => client.once('ready', resolve));
    const call = makeCall(client);
    if (keysOf) await fillWindows(redis.client, keysOf, ENTRIES);
    await drive(call, 5000); // loads the script, warms both sides
    await redis.client.config('RESETSTAT');
    const cpuBefore = await cpuSeconds(redis.client);
    const appBefore = process.cpuUsage();
    await drive(call, CALLS);
    const app = process.cpuUsage(appBefore);
    const cpu = (await cpuSeconds(redis.client)) - cpuBefore;
    const times = commandTimes(await redis.client.info('commandstats'));
    const script = times.evalsha ?? times.eval;
    const inner = Object.entries(times)
      .filter(([command]) => !['evalsha', 'eval', 'info', 'config|resetstat'].includes(command))
      .sort(([a], [b]) => a.localeCompare(b));
    // Per storage call: our storage sends the calls of one event-loop turn as one script call.
    const perCall = (usec) => usec / CALLS;
    const innerTotal = inner.reduce((sum, [, { usec }]) => sum + perCall(usec), 0);
    console.log(
      `| ${name} | ${(CALLS / script.calls).toFixed(1)} | ${perCall(script.usec).toFixed(2)} | ` +
        `${inner.map(([command, { usec }]) => `${command} ${perCall(usec).toFixed(2)}`).join(', ')} | ` +
        `${(perCall(script.usec) - innerTotal).toFixed(2)} | ${((cpu * 1e6) / CALLS).toFixed(1)} | ${((app.user + app.system) / CALLS).toFixed(1)} |`,
    );
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

console.log(
  `Per storage call: ${CALLS.toLocaleString('en-US')} calls over ${CALLERS} callers, ${BATCH} in flight, the module's connection options.\n`,
);
console.log(
  '| storage | storage calls per script call | µs in the script per call (commandstats) | µs in each command it runs, per call | µs of script and call overhead (the rest) | Redis CPU µs per call (INFO cpu) | app CPU µs per call (the driver loop included) |',
);
console.log('|---|---:|---:|---|---:|---:|---:|');
await measure(
  `ours, one window, ${ENTRIES} entries per caller`,
  (client) => {
    const storage = new RedisThrottlerStorage(client);
    return (caller) => storage.consume([{ key: `rl:{user:user-${caller}}`, limit: HUGE_LIMIT, windowMs: WINDOW_MS }]);
  },
  (caller) => [`rl:{user:user-${caller}}`],
);
await measure(
  `ours, one window, sent through ioredis auto-pipelining (its defineCommand), one call per request`,
  (client) => {
    client.defineCommand('agentSecuritySlidingWindow', { lua: SLIDING_WINDOW_SCRIPT });
    let sequence = 0;
    return (caller) =>
      client.agentSecuritySlidingWindowBuffer(
        1,
        `rl:{user:user-${caller}}`,
        1,
        `x:${++sequence}`,
        HUGE_LIMIT,
        WINDOW_MS,
      );
  },
  (caller) => [`rl:{user:user-${caller}}`],
);
await measure(
  `ours, caller window + a route window, ${ENTRIES} entries each`,
  (client) => {
    const storage = new RedisThrottlerStorage(client);
    return (caller) =>
      storage.consume([
        { key: `rl:{user:user-${caller}}`, limit: HUGE_LIMIT, windowMs: WINDOW_MS },
        { key: `rl:{user:user-${caller}}:route`, limit: HUGE_LIMIT, windowMs: WINDOW_MS },
      ]);
  },
  (caller) => [`rl:{user:user-${caller}}`, `rl:{user:user-${caller}}:route`],
);
await measure('peer (fixed-window counter)', (client) => {
  const storage = new ThrottlerStorageRedisService(client);
  return (caller) => storage.increment(`user-${caller}`, WINDOW_MS, HUGE_LIMIT, WINDOW_MS, 'default');
});
