// `npm run bench`: every variant as its own process on loopback, driven by autocannon, interleaved over
// several rounds; prints one Markdown table of medians, then Redis commands per request and key sizes.
//
//   BENCH_DURATION     measured seconds per run (default 4)
//   BENCH_WARMUP       warm-up seconds before each measured run (default 1)
//   BENCH_ROUNDS       rounds; each runs every variant once, in a rotated order, between two runs of the
//                      bare app (default 3)
//   BENCH_CONNECTIONS  autocannon connections (default 50)
//   BENCH_VARIANTS     comma-separated subset of variant names (the bare app is always included);
//                      also the opt-in experiments x-* (see EXPERIMENTS)
//   BENCH_PIN          1 to pin (Linux, >= 2 CPUs, taskset): the variant server gets the last CPU to itself,
//                      autocannon + redis-server share the others. Default: the OS places everything
//
// Progress goes to stderr; the report goes to stdout.
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { RedisThrottlerStorage } from '@agent-security/core';
import { CALLERS, FILLED_LIMIT, PREFILL_ENTRIES, makeTokens, writeTokens } from './lib/common.mjs';
import { startJwks } from './lib/jwks.mjs';
import { CHAT, runLoad, sanityCheck } from './lib/load.mjs';
import { pinSelf, pinningPlan, startServer } from './lib/process.mjs';
import { SCRIPT_COMMANDS, diffSnapshots, redisSnapshot, startRedis } from './lib/redis.mjs';

const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 22) {
  console.error(
    `bench: Node ${process.version} cannot load NestJS 12; run it with node_modules/.bin/node (npm run bench does).`,
  );
  process.exit(1);
}

function envNumber(name, fallback, { min = 0, integer = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    console.error(
      `bench: ${name}=${JSON.stringify(raw)} is not a valid ${integer ? 'whole number' : 'number'} >= ${min}`,
    );
    process.exit(1);
  }
  return value;
}

const DURATION = envNumber('BENCH_DURATION', 4, { min: 1 });
const WARMUP = envNumber('BENCH_WARMUP', 1, { min: 0 });
const ROUNDS = envNumber('BENCH_ROUNDS', 3, { min: 1, integer: true });
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 50, { min: 1, integer: true });

/** What rows 6 and 7 (and their experiments) must show, and that they use Redis and write the log file. */
const FULL_STACK = { expect: { auth: true, rateLimit: true, cors: true, requestId: true }, redis: true, logs: true };
const FILL = `window pre-filled: ${PREFILL_ENTRIES} live entries per caller, limit ${FILLED_LIMIT}`;
/**
 * The rows. `expect` drives the sanity check each server must pass before it is measured;
 * `redis` marks variants whose Redis traffic is counted; `logs` those that write the log file.
 */
const VARIANTS = [
  { name: 'bare', label: '1. bare NestJS app (no guards)', expect: {} },
  {
    name: 'nest-throttler-memory',
    label: '2. @nestjs/throttler + its stock in-memory storage',
    expect: { rateLimit: true },
  },
  { name: 'nest-throttler-memory-filled', label: `2b. same, ${FILL}`, expect: { rateLimit: true } },
  {
    name: 'nest-throttler-peer-redis',
    label: '3. @nestjs/throttler + @nest-lab/throttler-storage-redis',
    expect: { rateLimit: true },
    redis: true,
  },
  {
    name: 'nest-throttler-our-redis',
    label: '4. @nestjs/throttler + our RedisThrottlerStorage',
    expect: { rateLimit: true },
    redis: true,
  },
  {
    name: 'nest-throttler-our-memory',
    label: '5. @nestjs/throttler + our MemoryThrottlerStorage',
    expect: { rateLimit: true },
  },
  { name: 'nest-throttler-our-memory-filled', label: `5b. same, ${FILL}`, expect: { rateLimit: true } },
  {
    name: 'ours-full',
    label: '6. ours, whole stack: AgentSecurityModule (JWT, limits on Redis, pino to file, request id, CORS)',
    ...FULL_STACK,
  },
  {
    name: 'ours-module-min',
    label:
      '6a. ours: AgentSecurityModule with logging: false, cors: false, no redis (JWT, in-memory limits, request id)',
    expect: { auth: true, rateLimit: true, requestId: true },
  },
  { name: 'ours-jwt', label: '6b. ours, JWT only: AuthGuard + TokenVerifier', expect: { auth: true } },
  {
    name: 'ours-jwt-jwks',
    label:
      '6h. ours, JWT only, RS256 from a JWKS: AuthGuard + TokenVerifier in issuer mode (key by OpenID Connect discovery)',
    expect: { auth: true },
    jwks: true,
  },
  {
    name: 'ours-logging',
    label:
      "6c. ours, logging only: FrontDoor + loggerParams() (request id, pino to a file path: the module's BatchedDestination)",
    expect: { requestId: true },
    logs: true,
  },
  { name: 'ours-cors', label: '6d. ours, CORS only: CorsMiddleware', expect: { cors: true } },
  {
    name: 'ours-throttle-redis',
    label:
      '6e. ours, throttling only: TierThrottlerGuard on RedisThrottlerStorage (caller from a token map by a getter on the request, no JWT)',
    expect: { rateLimit: true },
    redis: true,
  },
  {
    name: 'ours-throttle-memory',
    label: '6f. ours, throttling only: TierThrottlerGuard on MemoryThrottlerStorage (same)',
    expect: { rateLimit: true },
  },
  { name: 'ours-throttle-memory-filled', label: `6g. same, ${FILL}`, expect: { rateLimit: true } },
  {
    name: 'hand-full',
    label:
      '7. by hand: @nestjs/jwt guard + @nestjs/throttler on @nest-lab Redis + nestjs-pino to file + request id + enableCors',
    ...FULL_STACK,
  },
  {
    name: 'ours-chat',
    label:
      '6i. ours, whole stack on a budgeted chat (POST /agent/chat, @TokenBudget({ reserve: 100 }): one admission call with the reservation, one record call)',
    ...FULL_STACK,
    request: CHAT,
  },
  {
    name: 'hand-chat',
    label: '7e. by hand, row 7 on the same chat, token budget by hand (GET the counter before, INCRBY + PEXPIRE after)',
    ...FULL_STACK,
    request: CHAT,
  },
  { name: 'hand-jwt', label: '7a. by hand, JWT only: guard on JwtService.verifyAsync', expect: { auth: true } },
  {
    name: 'hand-jwt-jwks',
    label:
      '7d. by hand, JWT only, RS256 from a JWKS: @nestjs/passport AuthGuard + passport-jwt + jwks-rsa passportJwtSecret',
    expect: { auth: true },
    jwks: true,
  },
  {
    name: 'hand-pino',
    label: '7b. by hand, logging only: nestjs-pino to file + randomUUID request id',
    expect: { requestId: true },
    logs: true,
  },
  { name: 'hand-cors', label: '7c. by hand, CORS only: app.enableCors', expect: { cors: true } },
  // On Fastify: compare 8a with 8 (the ratio columns compare every row with row 1, the bare app on Express).
  { name: 'bare-fastify', label: '8. bare NestJS app on Fastify (no guards)', expect: {} },
  {
    name: 'ours-full-fastify',
    label: '8a. ours, whole stack on Fastify (row 6 on @nestjs/platform-fastify)',
    ...FULL_STACK,
  },
];

/** Opt-in rows (BENCH_VARIANTS=x-...): what a change in the library would buy, measured with today's code. */
const EXPERIMENTS = [
  // x1 and x2 (rows 4 and 6 on clients without auto-pipelining) went when the storage began to batch its own writes.
  {
    name: 'x-ours-full-no-redact',
    label: 'x3. row 6 with pino redaction switched off (logging.pino.redact: undefined)',
    ...FULL_STACK,
  },
  {
    name: 'x-bare-noop-interceptor',
    label: 'x4. row 1 plus one global APP_INTERCEPTOR that only returns next.handle()',
    expect: {},
  },
  {
    name: 'x-bare-noop-async-guard',
    label: 'x5. row 1 plus one global guard whose canActivate is async and returns true',
    expect: {},
  },
  {
    name: 'x-ours-full-redact-no-wildcards',
    label: 'x6. row 6 with the default redact paths minus the wildcard ones (*.token, *.password, ...)',
    ...FULL_STACK,
  },
  {
    name: 'x-peer-redis-autopipelining',
    label: 'x7. row 3 with an ioredis client created with enableAutoPipelining: true',
    expect: { rateLimit: true },
    redis: true,
  },
  {
    name: 'x-bare-noop-sync-guard',
    label: 'x8. row 1 plus one global guard whose canActivate returns true synchronously',
    expect: {},
  },
  {
    name: 'x-ours-logging-buffered',
    label: 'x9. row 6c with the file written by pino.destination({ sync: false, minLength: 4096 }) (4 KB batches)',
    expect: { requestId: true },
    logs: true,
  },
  {
    name: 'x-ours-logging-no-lines',
    label: 'x10. row 6c at level warn: request id, logger binding and timing, but no completion line built or written',
    expect: { requestId: true },
  },
  {
    name: 'x-ours-request-id-only',
    label: 'x11. the front handler with no logger, as with logging: false: request id and X-Response-Time only',
    expect: { requestId: true },
  },
  {
    name: 'x-bare-rate-limit-headers-guard',
    label:
      'x12. x8 with the guard setting the five rate-limit headers (X-RateLimit-Limit/-Remaining/-Reset, RateLimit-Policy, RateLimit)',
    expect: {},
  },
  {
    name: 'x-nest-throttler-noop-storage',
    label:
      "x13. @nestjs/throttler's stock ThrottlerGuard over a storage that does no work (one shared record): the ceiling of rows 2 to 5",
    expect: { rateLimit: true },
  },
  {
    name: 'x-bare-principal-middleware',
    label:
      'x14. row 1 plus an Express middleware that finds the caller in a Map by Authorization (rows 6e to 6g did so before; now a getter does)',
    expect: {},
  },
  {
    name: 'x-ours-throttle-redis-autopipelined',
    label:
      'x15. row 6e with the script sent through ioredis auto-pipelining (its defineCommand): one call per request instead of one per event-loop turn',
    expect: { rateLimit: true },
    redis: true,
  },
  {
    name: 'x-ours-logging-pino-async',
    label: "x19. row 6c with pino.destination({ sync: false }) for the file instead of the module's BatchedDestination",
    expect: { requestId: true },
    logs: true,
  },
  {
    name: 'x-storage-alone-memory',
    label:
      "x16. our MemoryThrottlerStorage alone: the handler spends the caller's window itself (no guard, no headers; caller as in 6e)",
    expect: {},
  },
  { name: 'x-storage-alone-memory-filled', label: `x17. same, ${FILL}`, expect: {} },
  {
    name: 'x-storage-alone-redis',
    label:
      "x18. our RedisThrottlerStorage alone: the handler spends the caller's window itself (no guard, no headers; caller as in 6e)",
    expect: {},
    redis: true,
  },
  {
    name: 'x-storage-alone-noop',
    label:
      'x20. x16 over a store that does no work (one shared answer): the handler, its await and the caller lookup, the ceiling of x16 to x18',
    expect: {},
  },
  {
    name: 'x-ours-throttle-noop',
    label:
      'x21. TierThrottlerGuard over a store that does no work (one shared answer): the guard and its headers, the ceiling of 6e to 6g',
    expect: { rateLimit: true },
  },
];

function selectedVariants() {
  const filter = process.env.BENCH_VARIANTS;
  if (!filter) return VARIANTS;
  const all = [...VARIANTS, ...EXPERIMENTS];
  const wanted = new Set(
    filter
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
  for (const name of wanted) {
    if (!all.some((variant) => variant.name === name)) {
      console.error(`bench: unknown variant ${name}; known: ${all.map((variant) => variant.name).join(', ')}`);
      process.exit(1);
    }
  }
  return all.filter((variant) => variant.name === 'bare' || wanted.has(variant.name));
}

const median = (values) => {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const log = (line) => process.stderr.write(`${line}\n`);

function countLines(file) {
  return new Promise((resolve) => {
    let lines = 0;
    createReadStream(file)
      .on('data', (chunk) => {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      })
      .on('end', () => resolve(lines))
      .on('error', () => resolve(0));
  });
}

/** Rounds interleave the variants; each round starts at a different place in the list, so no variant is always first or last. */
function roundOrder(variants, round) {
  const shift = Math.floor((round * variants.length) / ROUNDS);
  return [...variants.slice(shift), ...variants.slice(0, shift)];
}

/** One server: start, check, warm up, measure (with Redis counters around the measured run), stop. */
async function measure(variant, ctx, round) {
  const logFile = path.join(ctx.tmp, `${variant.name}-${round}.log`);
  if (variant.redis) await ctx.redis.client.flushall();
  // The JWKS rows send RS256 tokens signed with the key the harness's JWKS server publishes; the others HS256 ones.
  const tokens = variant.jwks ? ctx.jwks.tokens : ctx.tokens;
  const server = await startServer(
    variant.name,
    {
      BENCH_REDIS_URL: ctx.redis.url,
      BENCH_LOG_FILE: logFile,
      BENCH_TOKENS_FILE: ctx.tokensFile,
      BENCH_ISSUER: ctx.jwks.issuer,
      BENCH_JWKS_URI: ctx.jwks.jwksUri,
    },
    { cpu: ctx.pin?.server },
  );
  const out = {};
  try {
    const problems = await sanityCheck(server.url, tokens[0], variant.expect, variant.request);
    if (variant.redis && (await ctx.redis.client.dbsize()) === 0) problems.push('no key in Redis after a request');
    if (problems.length) throw new Error(`sanity check failed: ${problems.join('; ')}`);
    if (WARMUP > 0)
      out.warmup = await runLoad(server.url, tokens, {
        connections: CONNECTIONS,
        duration: WARMUP,
        request: variant.request,
      });
    const before = variant.redis ? await redisSnapshot(ctx.redis.client) : undefined;
    const cpuBefore = server.cpuTimes();
    // autocannon runs in this process: its CPU over the measured run is the load generator's share of the machine.
    const loadBefore = process.cpuUsage();
    out.result = await runLoad(server.url, tokens, {
      connections: CONNECTIONS,
      duration: DURATION,
      request: variant.request,
    });
    const load = process.cpuUsage(loadBefore);
    const cpuAfter = server.cpuTimes();
    out.cpuUsPerRequest = ((cpuAfter.total - cpuBefore.total) * 1e6) / out.result.total;
    out.systemCpuUsPerRequest = ((cpuAfter.system - cpuBefore.system) * 1e6) / out.result.total;
    out.loadCpuUsPerRequest = (load.user + load.system) / out.result.total;
    if (variant.redis) {
      out.redis = diffSnapshots(before, await redisSnapshot(ctx.redis.client));
      out.keys = await ctx.redis.client.dbsize();
    }
    out.redisCpuUsPerRequest = variant.redis ? (out.redis.cpuSec * 1e6) / out.result.total : 0;
    out.machineCpuUsPerRequest = out.cpuUsPerRequest + out.redisCpuUsPerRequest + out.loadCpuUsPerRequest;
  } finally {
    await server.stop();
  }
  if (variant.logs) {
    out.logLines = await countLines(logFile);
    out.logRequests = (out.warmup?.total ?? 0) + out.result.total;
    rmSync(logFile, { force: true });
  }
  return out;
}

function fmt(value, digits = 0) {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function machineLine(redisVersion, pin) {
  const cpus = os.cpus();
  const model = cpus[0]?.model?.trim() ?? 'unknown CPU';
  return (
    `Machine: ${model}, ${cpus.length} cores (os.cpus()), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
    `${os.type()} ${os.release()} ${os.arch()}; Node ${process.version}; Redis ${redisVersion}; ` +
    (pin
      ? `variant server pinned to CPU ${pin.server}, autocannon on CPU ${pin.harness}, redis-server on CPU ${pin.redis}`
      : 'no CPU pinning')
  );
}

/** MEMORY USAGE of one caller's key after N calls of each storage's increment(). */
async function keySizes(redis) {
  const client = redis.client;
  await client.flushall();
  // The same `key` argument for both: the one ThrottlerGuard's stock generateKey forms for caller user-0 on GET /me.
  const key = createHash('sha256').update('MeController-me-default-user-0').digest('hex');
  const ours = new RedisThrottlerStorage(client);
  const peer = new ThrottlerStorageRedisService(client);
  const peerKey = `{${key}:default}:hits`;
  // Ours keeps one window per key and throttler name.
  const oursKey = `${key}:default`;
  const rows = [];
  let done = 0;
  for (const entries of [20, 200, 2000]) {
    for (; done < entries; done++) {
      await ours.increment(key, 3_600_000, 1e9, 0, 'default');
      await peer.increment(key, 3_600_000, 1e9, 3_600_000, 'default');
    }
    rows.push({
      entries,
      ours: await client.memory('USAGE', oursKey, 'SAMPLES', 0),
      oursEncoding: await client.object('ENCODING', oursKey),
      oursCount: await client.zcard(oursKey),
      peer: await client.memory('USAGE', peerKey, 'SAMPLES', 0),
      peerEncoding: await client.object('ENCODING', peerKey),
      peerCount: Number(await client.get(peerKey)),
    });
  }
  await client.flushall();
  return { key: oursKey, peerKey, rows };
}

async function main() {
  const variants = selectedVariants();
  const pin = pinningPlan();
  if (pin) pinSelf(pin.harness);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'agent-security-bench-'));
  const tokens = makeTokens(CALLERS);
  const tokensFile = path.join(tmp, 'tokens.json');
  writeTokens(tokensFile, tokens);
  const redis = await startRedis({ cpu: pin?.redis });
  const jwks = await startJwks(CALLERS);
  const cleanup = async () => {
    await redis.stop();
    await jwks.stop();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130));
  });
  const started = Date.now();
  const machine = machineLine(redis.version, pin);
  log(machine);
  log(
    `bench: ${variants.length} variants x ${ROUNDS} rounds, ${WARMUP} s warm-up + ${DURATION} s measured, ` +
      `${CONNECTIONS} connections, ${CALLERS} callers (one token per request in turn); private redis-server on ${redis.port}`,
  );

  const ctx = { redis, tokens, tokensFile, tmp, pin, jwks };
  const runs = new Map(variants.map((variant) => [variant.name, []]));
  const failures = new Map();
  const [bareVariant, ...others] = variants;
  const progress = (round, name, out) => {
    const r = out.result;
    log(
      `[round ${round + 1}/${ROUNDS}] ${name.padEnd(34)} ${fmt(r.rps).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms` +
        `  server CPU ${fmt(out.cpuUsPerRequest, 1)} µs/req` +
        `  non-2xx ${r.non2xx}${r.errors ? `  errors ${r.errors}` : ''}${r.timeouts ? `  timeouts ${r.timeouts}` : ''}` +
        (out.keys !== undefined ? `  redis keys ${out.keys}` : '') +
        (out.logLines !== undefined ? `  log lines ${out.logLines}/${out.logRequests} requests` : '') +
        (out.pair ? `  ratio ${fmt(out.pair.ratio, 2)}  CPU ratio ${fmt(out.pair.cpuRatio, 2)}` : ''),
    );
  };
  // The machine drifts within a round: each variant runs between two bare runs and is compared with their
  // mean, so a ratio only sees the drift of its own ~15 s. The bare runs' ratio to the one before shows the noise left.
  const measureBare = async (round, previous) => {
    const out = await measure(bareVariant, ctx, round);
    if (previous) {
      out.pair = {
        ratio: out.result.rps / previous.result.rps,
        cpuRatio: previous.cpuUsPerRequest / out.cpuUsPerRequest,
        machineRatio: previous.machineCpuUsPerRequest / out.machineCpuUsPerRequest,
      };
    }
    runs.get(bareVariant.name).push(out);
    progress(round, bareVariant.name, out);
    return out;
  };
  const failure = (error) => error.message.split('\n').slice(0, 6).join(' | ');
  try {
    try {
      for (let round = 0; round < ROUNDS; round++) {
        let before;
        for (const variant of roundOrder(others, round)) {
          if (failures.has(variant.name)) continue;
          // A fresh bare run wherever none is right before: at the start of a round, and after a failed variant.
          before ??= await measureBare(round);
          let out;
          try {
            out = await measure(variant, ctx, round);
          } catch (error) {
            failures.set(variant.name, failure(error));
            log(`[round ${round + 1}/${ROUNDS}] ${variant.name}: FAILED: ${failures.get(variant.name)}`);
            before = undefined;
            continue;
          }
          const after = await measureBare(round, before);
          const bareRps = (before.result.rps + after.result.rps) / 2;
          const bareCpu = (before.cpuUsPerRequest + after.cpuUsPerRequest) / 2;
          const bareMachine = (before.machineCpuUsPerRequest + after.machineCpuUsPerRequest) / 2;
          out.pair = {
            ratio: out.result.rps / bareRps,
            cpuRatio: bareCpu / out.cpuUsPerRequest,
            machineRatio: bareMachine / out.machineCpuUsPerRequest,
            // Had the app side cost no more than the bare app's, Redis's own CPU alone would leave this much.
            redisCeiling: bareMachine / (bareMachine + out.redisCpuUsPerRequest),
          };
          runs.get(variant.name).push(out);
          progress(round, variant.name, out);
          before = after;
        }
      }
    } catch (error) {
      // Only a bare run gets here (a variant's failure is caught above): without it no ratio means anything.
      failures.set(bareVariant.name, failure(error));
      log(`bench: the bare app failed, stopping: ${failures.get(bareVariant.name)}`);
    }
    log('bench: measuring MEMORY USAGE of one caller key');
    const sizes = await keySizes(redis);
    report({ variants, runs, failures, sizes, machine, seconds: (Date.now() - started) / 1000 });
  } finally {
    await cleanup();
  }
}

function report({ variants, runs, failures, sizes, machine, seconds }) {
  const lines = [];
  lines.push('');
  lines.push(
    `### Benchmark: GET /me, ${CONNECTIONS} connections, ${CALLERS} distinct callers, ${WARMUP} s warm-up + ${DURATION} s measured, ` +
      `medians of ${ROUNDS} interleaved rounds, every variant run between two runs of the bare app`,
  );
  lines.push('');
  lines.push(
    '| variant | req/s (median) | p50 ms | p99 ms | non-2xx | ratio to bare, paired (min-max) | server CPU µs/req (median) | CPU ratio: bare µs/req over variant µs/req, paired (min-max) |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const variant of variants) {
    if (failures.has(variant.name) && runs.get(variant.name).length === 0) {
      lines.push(`| ${variant.label} | failed: ${failures.get(variant.name).replace(/\|/g, '/')} | | | | | | |`);
      continue;
    }
    const done = runs.get(variant.name);
    const results = done.map((run) => run.result);
    const paired = done.filter((run) => run.pair);
    const non2xx = results.reduce((sum, r) => sum + r.non2xx, 0);
    const errors = results.reduce((sum, r) => sum + r.errors + r.timeouts, 0);
    const spread = (values) =>
      `${fmt(median(values), 2)} (${fmt(Math.min(...values), 2)}-${fmt(Math.max(...values), 2)})`;
    const ratios = paired.map((run) => run.pair.ratio);
    const cpuRatios = paired.map((run) => run.pair.cpuRatio);
    lines.push(
      `| ${variant.label} | ${fmt(median(results.map((r) => r.rps)))} | ${fmt(median(results.map((r) => r.p50)))} | ` +
        `${fmt(median(results.map((r) => r.p99)))} | ${non2xx}${errors ? ` (+${errors} errors)` : ''} | ` +
        `${variant.name === 'bare' ? `1.00; next/previous ${spread(ratios)}` : spread(ratios)} | ` +
        `${fmt(median(done.map((run) => run.cpuUsPerRequest)), 1)} | ` +
        `${variant.name === 'bare' ? `1.00; previous/next ${spread(cpuRatios)}` : spread(cpuRatios)} |`,
    );
  }
  lines.push('');
  lines.push(machine);
  lines.push('');
  lines.push(
    "Ratio, paired: each run's req/s over the mean req/s of the two bare-app runs just before and after it, median (and range) " +
      'over rounds; on the bare row, each bare run over the one before it, which is the noise the pairing leaves. ' +
      'CPU ratio, paired: the same with server CPU per request, bare over variant (1.00 = costs what the bare app costs). ' +
      'non-2xx: total over all measured runs. Every request carries `Origin: http://localhost:3000`. ' +
      'The @nestjs/throttler rows key callers by the Authorization header (row 7 by the verified `sub`); ' +
      "ThrottlerGuard's stock generateKey hashes it. Server CPU µs/req: user + system CPU of the variant's process " +
      'over the measured run (from /proc) divided by the requests it answered; unlike req/s it does not depend on how fast ' +
      'autocannon can go, so it is the cleaner cost measure where a variant is close to the bare app.',
  );

  lines.push('');
  lines.push("### Where the machine's CPU goes, per request (medians over rounds)");
  lines.push('');
  lines.push(
    "| variant | app server µs | of which kernel µs | Redis µs | load generator µs | all three µs | cores busy | CPU-budget ratio: bare's all three over the variant's, paired (min-max) | ratio to bare (from above) | Redis ceiling: the ratio left by Redis's CPU alone, paired |",
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const variant of variants) {
    const done = runs.get(variant.name);
    if (done.length === 0) continue;
    const paired = done.filter((run) => run.pair);
    const of = (pick, digits = 1) => fmt(median(done.map(pick)), digits);
    const spread = (values) =>
      `${fmt(median(values), 2)} (${fmt(Math.min(...values), 2)}-${fmt(Math.max(...values), 2)})`;
    lines.push(
      `| ${variant.label} | ${of((run) => run.cpuUsPerRequest)} | ${of((run) => run.systemCpuUsPerRequest)} | ${of((run) => run.redisCpuUsPerRequest)} | ` +
        `${of((run) => run.loadCpuUsPerRequest)} | ${of((run) => run.machineCpuUsPerRequest)} | ` +
        `${of((run) => (run.machineCpuUsPerRequest * run.result.rps) / 1e6, 2)} | ` +
        `${variant.name === 'bare' ? `1.00; previous/next ${spread(paired.map((run) => run.pair.machineRatio))}` : spread(paired.map((run) => run.pair.machineRatio))} | ` +
        `${variant.name === 'bare' ? '1.00' : fmt(median(paired.map((run) => run.pair.ratio)), 2)} | ` +
        `${variant.redis ? spread(paired.map((run) => run.pair.redisCeiling)) : ''} |`,
    );
  }
  lines.push('');
  lines.push(
    `Every process of the run shares this machine's ${os.cpus().length} cores: the variant's server, redis-server and autocannon ` +
      "(which runs in the harness process; its CPU over the measured run, from process.cpuUsage()). Of the server's, the part " +
      'the kernel spent for it (/proc stime: socket and file writes, epoll); the rest is its own code, which the instruction ' +
      'counts of bench/app-instructions.mjs measure. Cores busy: all three µs/req ' +
      'times req/s; where it is close to the number of cores, the machine is full and req/s is about cores / all three µs, ' +
      "so the CPU-budget ratio predicts the ratio to bare (loosely: autocannon's own µs per request are not fixed, they rise as the server slows, so part of each budget follows the throughput it is meant to explain). Redis ceiling: bare's all three over (bare's all three + the " +
      "variant's Redis µs), the ratio this variant would reach on this machine if its app side cost no more than the bare app.",
  );

  const redisRows = variants.filter((variant) => variant.redis && runs.get(variant.name).length > 0);
  if (redisRows.length) {
    lines.push('');
    lines.push('### Redis per request (INFO commandstats before and after each measured run, summed over rounds)');
    lines.push('');
    lines.push(
      '| variant | script calls / req | commands run by scripts / req | Redis socket reads / req | Redis socket writes / req | bytes to Redis / req | bytes from Redis / req | Redis CPU µs / req | keys after run |',
    );
    lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|');
    for (const variant of redisRows) {
      const done = runs.get(variant.name);
      const requests = done.reduce((sum, run) => sum + run.result.total, 0);
      const commands = {};
      let netIn = 0;
      let netOut = 0;
      let reads = 0;
      let writes = 0;
      let cpu = 0;
      for (const run of done) {
        for (const [name, calls] of Object.entries(run.redis.commands)) commands[name] = (commands[name] ?? 0) + calls;
        netIn += run.redis.netIn;
        netOut += run.redis.netOut;
        reads += run.redis.reads;
        writes += run.redis.writes;
        cpu += run.redis.cpuSec;
      }
      const per = (calls) => fmt(calls / requests, 2);
      const scripts = Object.entries(commands).filter(([name]) => SCRIPT_COMMANDS.has(name));
      const others = Object.entries(commands)
        .filter(([name]) => !SCRIPT_COMMANDS.has(name))
        .sort((a, b) => b[1] - a[1]);
      const scriptTotal = scripts.reduce((sum, [, calls]) => sum + calls, 0);
      const otherTotal = others.reduce((sum, [, calls]) => sum + calls, 0);
      lines.push(
        `| ${variant.label.split('.')[0]}. ${variant.name} | ${per(scriptTotal)} (${scripts.map(([name, calls]) => `${name} ${per(calls)}`).join(', ') || 'none'}) | ` +
          `${per(otherTotal)} (${others.map(([name, calls]) => `${name} ${per(calls)}`).join(', ') || 'none'}) | ` +
          `${fmt(reads / requests, 2)} | ${fmt(writes / requests, 2)} | ${fmt(netIn / requests)} | ${fmt(netOut / requests)} | ${fmt((cpu * 1e6) / requests, 1)} | ${done.map((run) => run.keys).join(', ')} |`,
      );
    }
    lines.push('');
    lines.push(
      'Commands a script runs are counted by Redis under their own names; neither storage sends anything but its script. ' +
        "Socket reads / writes (INFO stats total_reads_processed / total_writes_processed, the harness's own INFO calls included, " +
        'a few per run) count round trips: at most one each per request without pipelining (Redis reads whatever has arrived, so fewer under load), one per batch with it. Requests = completed responses of the measured run (in-flight requests ' +
        "at its edges make the ratios uncertain by about ±0.5%). Keys after run: one per caller (plus the sanity check's).",
    );
  }

  if (sizes) {
    lines.push('');
    lines.push("### MEMORY USAGE of one caller's key (SAMPLES 0), after N increment() calls on a 1 h window");
    lines.push('');
    lines.push(
      `| entries | ours: \`${sizes.key.slice(0, 8)}…\` (sorted set) | peer: \`{${sizes.key.slice(0, 8)}…:default}:hits\` (counter) |`,
    );
    lines.push('|---:|---:|---:|');
    for (const row of sizes.rows) {
      lines.push(
        `| ${fmt(row.entries)} | ${fmt(row.ours)} B (${row.oursEncoding}, ${row.oursCount} members) | ${fmt(row.peer)} B (${row.peerEncoding}, value ${row.peerCount}) |`,
      );
    }
    lines.push('');
    lines.push(
      'Same `key` argument to both: the 64-hex key ThrottlerGuard forms for one caller. Ours is an exact sliding-window log ' +
        '(one member per allowed request in the window); the peer is a fixed-window counter (plus a `:blocked` key once blocked).',
    );
  }

  const checks = variants
    .filter((variant) => variant.logs && runs.get(variant.name).length > 0)
    .map((variant) => {
      const done = runs.get(variant.name);
      return `${variant.name}: ${done.map((run) => `${run.logLines} log lines / ${run.logRequests} requests`).join('; ')}`;
    });
  if (checks.length) {
    lines.push('');
    lines.push(`Log files written (lines per run, warm-up included): ${checks.join(' — ')}`);
  }
  if (failures.size) {
    lines.push('');
    for (const [name, message] of failures) lines.push(`FAILED ${name}: ${message}`);
  }
  lines.push('');
  lines.push(
    `Total harness time ${fmt(seconds)} s. Reproduce: \`npm run bench\` (BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_WARMUP, BENCH_VARIANTS).`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
