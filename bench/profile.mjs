// CPU profile of one variant under load: `node bench/profile.mjs [variant]` (default ours-full).
// The server runs with --cpu-prof; the profile goes to a directory under the OS temp dir (never the repo),
// and the top self-time functions are printed, overall, by package, and for @agent-security/core's dist.
//
//   BENCH_PROFILE_DURATION  seconds of load while profiling (default 10)
//   BENCH_CONNECTIONS       autocannon connections (default 50)
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CALLERS, makeTokens, writeTokens } from './lib/common.mjs';
import { get, runLoad } from './lib/load.mjs';
import { startServer } from './lib/process.mjs';
import { startRedis } from './lib/redis.mjs';

const variant = process.argv[2] ?? 'ours-full';
const DURATION = Number(process.env.BENCH_PROFILE_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const LIB_DIST = path.join(REPO, 'libs/agent-security/dist/');

const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-security-bench-prof-'));
const tokens = makeTokens(CALLERS);
writeTokens(path.join(dir, 'tokens.json'), tokens);
const redis = await startRedis();
let result;
let warmup;
try {
  const server = await startServer(
    variant,
    {
      BENCH_REDIS_URL: redis.url,
      BENCH_LOG_FILE: path.join(dir, 'requests.log'),
      BENCH_TOKENS_FILE: path.join(dir, 'tokens.json'),
    },
    { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=100'] },
  );
  try {
    const first = await get(server.url, { authorization: `Bearer ${tokens[0]}` });
    if (first.status !== 200) throw new Error(`${variant}: GET /me answered ${first.status} ${first.body}`);
    warmup = await runLoad(server.url, tokens, { connections: CONNECTIONS, duration: 1 });
    result = await runLoad(server.url, tokens, { connections: CONNECTIONS, duration: DURATION });
  } finally {
    await server.stop(15_000);
  }
} finally {
  await redis.stop();
}

const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));

// Self time per node from samples and timeDeltas.
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const total = [...self.values()].reduce((sum, us) => sum + us, 0);

function place(url) {
  if (!url) return '(native)';
  const plain = url.startsWith('file://') ? fileURLToPath(url) : url;
  return plain.startsWith(REPO) ? path.relative(REPO, plain) : plain;
}
function packageOf(url) {
  if (!url) return '(native / GC / idle)';
  if (url.startsWith('node:')) return 'node: internals';
  const plain = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (plain.startsWith(LIB_DIST)) return '@agent-security/core (dist)';
  const nm = plain.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = plain.slice(nm + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  return path.relative(REPO, plain);
}

// Inclusive time per node (self + descendants), then both aggregated per function.
const inclusive = new Map();
function inclusiveOf(id) {
  if (inclusive.has(id)) return inclusive.get(id);
  const node = byId.get(id);
  let sum = self.get(id) ?? 0;
  for (const child of node.children ?? []) sum += inclusiveOf(child);
  inclusive.set(id, sum);
  return sum;
}
const functions = new Map();
const packages = new Map();
for (const node of profile.nodes) {
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'} ${place(url)}:${lineNumber + 1}`;
  const entry = functions.get(key) ?? { key, url, self: 0, inclusive: 0, onStack: false };
  entry.self += self.get(node.id) ?? 0;
  functions.set(key, entry);
  const pkg = packageOf(url);
  packages.set(pkg, (packages.get(pkg) ?? 0) + (self.get(node.id) ?? 0));
}
// Inclusive per function without double counting recursion: walk the tree, count a node only if the function is not already on the stack.
(function walk(id, stack) {
  const node = byId.get(id);
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'} ${place(url)}:${lineNumber + 1}`;
  const fresh = !stack.has(key);
  if (fresh) {
    functions.get(key).inclusive += inclusiveOf(id);
    stack.add(key);
  }
  for (const child of node.children ?? []) walk(child, stack);
  if (fresh) stack.delete(key);
})(profile.nodes[0].id, new Set());

// Per request: the profile spans start-up, warm-up and the measured run; start-up is small next to the load.
const requests = warmup.total + result.total;
const pct = (us) => `${((100 * us) / total).toFixed(1)}% ${(us / requests).toFixed(2).padStart(6)} µs/req`;
const ms = (us) => `${(us / 1000).toFixed(0)} ms`;
const out = [];
out.push(
  `Profile of ${variant}: ${requests} requests (1 s warm-up + ${DURATION} s at ${Math.round(result.rps)} req/s under --cpu-prof), ` +
    `${ms(total)} sampled, ${(total / requests).toFixed(1)} µs per request (idle included)`,
);
out.push(`File: ${path.join(dir, file)}`);
out.push('');
out.push('Self time by package:');
for (const [pkg, us] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, 15))
  out.push(`  ${pct(us).padStart(20)}  ${pkg}`);
out.push('');
out.push('Top self time, all functions:');
for (const entry of [...functions.values()].sort((a, b) => b.self - a.self).slice(0, 30)) {
  out.push(`  ${pct(entry.self).padStart(20)}  ${entry.key}`);
}
out.push('');
out.push('@agent-security/core (dist), by self time (inclusive time, i.e. with callees, in brackets):');
for (const entry of [...functions.values()]
  .filter((entry) => entry.url && entry.url.includes('/libs/agent-security/dist/'))
  .sort((a, b) => b.self - a.self)
  .slice(0, 25)) {
  out.push(`  ${pct(entry.self).padStart(20)} [${pct(entry.inclusive).padStart(20)}]  ${entry.key}`);
}

// Who calls the heaviest native functions (socket and file writes show up as natives).
const parentOf = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const frameKey = (node) =>
  `${node.callFrame.functionName || '(anonymous)'} ${place(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
const natives = [...functions.values()]
  .filter((entry) => !entry.url && !/^\((idle|program|garbage collector|root)\)/.test(entry.key))
  .sort((a, b) => b.self - a.self)
  .slice(0, 4);
out.push('');
out.push('Heaviest native functions, by the JavaScript that called them (self time of the native):');
for (const entry of natives) {
  const callers = new Map();
  for (const node of profile.nodes) {
    if (frameKey(node) !== entry.key || !self.get(node.id)) continue;
    // Up the stack to the first frame with a URL outside node: internals, which names the library responsible.
    let id = parentOf.get(node.id);
    let chain = [];
    while (id !== undefined) {
      const parent = byId.get(id);
      const url = parent.callFrame.url;
      if (url && !url.startsWith('node:')) break;
      if (parent.callFrame.functionName) chain.push(parent.callFrame.functionName);
      id = parentOf.get(id);
    }
    const who =
      id === undefined
        ? '(root)'
        : `${frameKey(byId.get(id))}${chain.length ? ` via ${chain.slice(0, 2).join(' < ')}` : ''}`;
    callers.set(who, (callers.get(who) ?? 0) + self.get(node.id));
  }
  out.push(`  ${pct(entry.self).padStart(20)}  ${entry.key}`);
  for (const [who, us] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 4))
    out.push(`      ${pct(us).padStart(20)}  ${who}`);
}
process.stdout.write(`${out.join('\n')}\n`);
