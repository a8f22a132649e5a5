// The app's own work per request in instructions, not seconds: `node bench/app-instructions.mjs [variant ...]`
// (after `npm run build`; needs valgrind). Each variant server of the harness runs under callgrind, with V8 on one
// thread (`--single-threaded`: no background compile or GC thread decides when code gets faster), is warmed up with
// instrumentation off (BENCH_WARMUP_REQUESTS, 30,000: after 5,000 a fifth of the count was still TurboFan compiling),
// then BENCH_REQUESTS (3,000) requests from BENCH_CONNECTIONS (10) connections, one token of the pool each, are
// counted. Redis and the load run outside valgrind; only the server's user-space instructions are counted, so the
// kernel's share of a request (its socket writes, which on a VM can cost more than the app's code) is not in them,
// nor is Redis's own work (bench/redis-instructions.mjs counts that). The bare app runs first and again last: the two
// show how well the counts repeat (about 1 %; variants on Redis or with a log file move by 2-5 % between runs, as
// batching still follows timing). Without arguments: the headline rows and each part.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callgrindControl, callgrindWrapper, readDumps } from './lib/callgrind.mjs';
import { CALLERS, makeTokens, writeTokens } from './lib/common.mjs';
import { get, runLoad } from './lib/load.mjs';
import { startServer } from './lib/process.mjs';
import { startRedis } from './lib/redis.mjs';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const WARMUP = Number(process.env.BENCH_WARMUP_REQUESTS ?? 30000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const DEFAULT_VARIANTS = [
  'nest-throttler-memory',
  'nest-throttler-memory-filled',
  'nest-throttler-peer-redis',
  'nest-throttler-our-redis',
  'nest-throttler-our-memory',
  'nest-throttler-our-memory-filled',
  'ours-full',
  'ours-jwt',
  'ours-logging',
  'ours-cors',
  'ours-throttle-redis',
  'ours-throttle-memory',
  'hand-full',
  'hand-jwt',
  'hand-pino',
  'hand-cors',
  'x-nest-throttler-noop-storage',
  'x-ours-throttle-noop',
  'x-storage-alone-redis',
  'x-storage-alone-memory',
  'x-storage-alone-memory-filled',
  'x-storage-alone-noop',
];
const variants = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_VARIANTS;

async function load(url, tokens, amount) {
  const result = await runLoad(url, tokens, { connections: CONNECTIONS, amount });
  if (result.non2xx || result.errors || result.timeouts)
    throw new Error(`load: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  return result.total;
}

async function measure(variant, env, tokens) {
  const dir = mkdtempSync(join(tmpdir(), 'app-instructions-'));
  // --smc-check: V8 writes the code it runs; --single-threaded: no background thread decides when it does.
  const server = await startServer(variant, env, {
    wrapper: callgrindWrapper(dir, '--smc-check=all-non-file'),
    nodeArgs: ['--single-threaded', ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    timeoutMs: 300_000,
  });
  try {
    const first = await get(server.url, { authorization: `Bearer ${tokens[0]}` });
    if (first.status !== 200) throw new Error(`${variant}: ${first.status} ${first.body}`);
    await load(server.url, tokens, WARMUP);
    callgrindControl(server.pid, '--instr=on');
    callgrindControl(server.pid, '--zero');
    const total = await load(server.url, tokens, REQUESTS);
    callgrindControl(server.pid, '--dump');
    callgrindControl(server.pid, '--instr=off');
    return { instructions: readDumps(dir).total, total };
  } finally {
    await server.stop(0);
    if (process.env.BENCH_KEEP) console.log(`(dumps kept in ${dir})`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const dir = mkdtempSync(join(tmpdir(), 'app-instructions-run-'));
const tokens = makeTokens(CALLERS);
writeTokens(join(dir, 'tokens.json'), tokens);
const redis = await startRedis();
try {
  const env = {
    BENCH_REDIS_URL: redis.url,
    BENCH_LOG_FILE: join(dir, 'requests.log'),
    BENCH_TOKENS_FILE: join(dir, 'tokens.json'),
  };
  console.log(
    `App instructions per request (callgrind, node --single-threaded): ${WARMUP} warm-up requests, then ${REQUESTS} counted, ${CONNECTIONS} connections, ${CALLERS} callers.\n`,
  );
  console.log('| variant | instructions / request | over the first bare run | bare / variant |');
  console.log('|---|---:|---:|---:|');
  let bare;
  for (const variant of ['bare', ...variants, 'bare']) {
    await redis.client.flushall();
    const { instructions, total } = await measure(variant, env, tokens);
    const per = instructions / total;
    bare ??= per;
    const over = per - bare;
    console.log(
      `| ${variant} | ${Math.round(per).toLocaleString('en-US')} | ${over === 0 ? '' : `${over > 0 ? '+' : ''}${Math.round(over).toLocaleString('en-US')}`} | ${(bare / per).toFixed(2)} |`,
    );
  }
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
