// A private redis-server for one benchmark run, and what the harness reads from it.
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, pinned, wrapped } from './process.mjs';

/**
 * Starts `redis-server` on a free loopback port, without persistence, under `wrapper` if given (e.g. valgrind).
 * Resolves once it answers PING.
 */
export async function startRedis({ cpu, wrapper = [], timeoutMs = 10_000 } = {}) {
  const port = await freePort();
  const child = spawn(
    ...pinned(
      cpu,
      ...wrapped(wrapper, 'redis-server', [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'yes',
      ]),
    ),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  client.on('error', () => undefined);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (error) {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${stderr.trim() || child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port}: ${error.message}`);
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const server = parseInfo(await client.info('server'));
  return {
    port,
    pid: child.pid,
    url: `redis://127.0.0.1:${port}`,
    client,
    version: server.redis_version,
    async stop() {
      client.disconnect();
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** `INFO` text as a flat object of field -> string. */
function parseInfo(text) {
  const out = {};
  for (const line of text.split('\r\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}

/**
 * What the harness compares before and after a run: calls per command (INFO commandstats; commands run
 * inside a script are counted too, under their own names), bytes in and out, socket reads and writes, and Redis's CPU seconds.
 */
export async function redisSnapshot(client) {
  const stats = parseInfo(await client.info('commandstats'));
  const commands = {};
  for (const [field, value] of Object.entries(stats)) {
    if (!field.startsWith('cmdstat_')) continue;
    commands[field.slice('cmdstat_'.length)] = Number(/calls=(\d+)/.exec(value)[1]);
  }
  const general = parseInfo(await client.info('stats'));
  const cpu = parseInfo(await client.info('cpu'));
  return {
    commands,
    netIn: Number(general.total_net_input_bytes),
    netOut: Number(general.total_net_output_bytes),
    // Socket reads and writes Redis performed: with pipelining, several script calls share one of each.
    reads: Number(general.total_reads_processed),
    writes: Number(general.total_writes_processed),
    cpuSec: Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys),
  };
}

/** The harness's own INFO calls are not the server's doing. */
const HARNESS_COMMANDS = new Set([
  'info',
  'flushall',
  'dbsize',
  'ping',
  'scan',
  'memory|usage',
  'object|encoding',
  'type',
  'command|docs',
  'client|setinfo',
  'select',
]);

export function diffSnapshots(before, after) {
  const commands = {};
  for (const [name, calls] of Object.entries(after.commands)) {
    if (HARNESS_COMMANDS.has(name)) continue;
    const delta = calls - (before.commands[name] ?? 0);
    if (delta > 0) commands[name] = delta;
  }
  return {
    commands,
    netIn: after.netIn - before.netIn,
    netOut: after.netOut - before.netOut,
    reads: after.reads - before.reads,
    writes: after.writes - before.writes,
    cpuSec: after.cpuSec - before.cpuSec,
  };
}

export const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);
