// The app's own work per request in instructions, not seconds: `node bench/app-instructions.mjs [variant ...]`
// (after `npm run build`; needs valgrind). Each variant server of the harness runs under callgrind, with V8 on one
// thread (`--single-threaded`: no background compile or GC thread decides when code gets faster), is warmed up with
// instrumentation off (BENCH_WARMUP_REQUESTS, 30,000: after 5,000 a fifth of the count was still TurboFan compiling),
// then BENCH_REQUESTS (3,000) requests from BENCH_CONNECTIONS (10) connections, one token of the pool each, are
// counted. Redis and the load run outside valgrind; only the server's user-space instructions are counted, so the
// kernel's share of a request (its socket writes, which on a VM can cost more than the app's code) is not in them,
// nor is Redis's own work (bench/redis-instructions.mjs counts that). The bare app runs first and again last: the two
// show how well the counts repeat (about 1 %; variants on Redis or with a log file move by 2-5 % between runs, as
// batching still follows timing). Without arguments: the issue's rows and each part.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CALLERS, makeTokens, writeTokens } from './lib/common.mjs';
import { get, runLoad } from './lib/load.mjs';
import { freePort } from './lib/process.mjs';
import { startRedis } from './lib/redis.mjs';

const SERVER = fileURLToPath(new URL('./variants/server.mjs', import.meta.url));
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
  if (result.non2xx || result.errors || result.timeouts) throw new Error(`load: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  return result.total;
}

async function measure(variant, env, tokens) {
  const dir = mkdtempSync(join(tmpdir(), 'app-instructions-'));
  const port = await freePort();
  const child = spawn(
    'valgrind',
    ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`, process.execPath, '--single-threaded', SERVER, variant, String(port)],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const control = (...args) => execFileSync('callgrind_control', [...args, String(child.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`${variant}: not READY\n${stderr}`)), 300_000);
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (stdout.includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
      exited.then(() => reject(new Error(`${variant}: exited\n${stderr}`)));
    });
    const url = `http://127.0.0.1:${port}`;
    const first = await get(url, { authorization: `Bearer ${tokens[0]}` });
    if (first.status !== 200) throw new Error(`${variant}: ${first.status} ${first.body}`);
    await load(url, tokens, WARMUP);
    control('--instr=on');
    control('--zero');
    const total = await load(url, tokens, REQUESTS);
    control('--dump');
    control('--instr=off');
    const dump = readdirSync(dir).filter((file) => /\.\d+$/.test(file) || /\.\d+-\d+$/.test(file));
    let instructions = 0;
    for (const file of dump) {
      let text;
      try {
        text = execFileSync('callgrind_annotate', ['--threshold=0', join(dir, file)], { encoding: "utf8", maxBuffer: 256 << 20, stdio: ["ignore", "pipe", "pipe"] });
      } catch { continue; }
      const match = /^([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/m.exec(text);
      if (match) instructions += Number(match[1].replaceAll(',', ''));
    }
    return { instructions, total };
  } finally {
    child.kill('SIGKILL');
    await exited;
    if (process.env.BENCH_KEEP) console.log(`(dumps kept in ${dir})`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const dir = mkdtempSync(join(tmpdir(), 'app-instructions-run-'));
const tokens = makeTokens(CALLERS);
writeTokens(join(dir, 'tokens.json'), tokens);
const redis = await startRedis();
try {
  const env = { BENCH_REDIS_URL: redis.url, BENCH_LOG_FILE: join(dir, 'requests.log'), BENCH_TOKENS_FILE: join(dir, 'tokens.json') };
  console.log(`App instructions per request (callgrind, node --single-threaded): ${WARMUP} warm-up requests, then ${REQUESTS} counted, ${CONNECTIONS} connections, ${CALLERS} callers.\n`);
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
