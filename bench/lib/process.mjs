// Child processes of the harness: a free port, and a variant server started and stopped by its pid.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../variants/server.mjs', import.meta.url));

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `bench/variants/server.mjs <variant> <port>` with this Node (the harness must itself run on Node 24)
 * and resolves once it prints READY. `nodeArgs` go before the script (e.g. --cpu-prof); `wrapper` (a command and
 * its arguments, e.g. valgrind's) runs Node under it.
 */
export async function startServer(variant, env, { nodeArgs = [], timeoutMs = 60_000, cpu, wrapper = [] } = {}) {
  const port = await freePort();
  const child = spawn(
    ...pinned(cpu, ...wrapped(wrapper, process.execPath, [...nodeArgs, SERVER, variant, String(port)])),
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${variant}: not READY after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${variant}: exited (${signal ?? code}) before READY\n${stderr.trim()}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    /** CPU seconds the server has used so far, `total` (user + system) and `system` (what the kernel spent for it: socket and file writes, epoll), NaN where /proc is not available. */
    cpuTimes: () => processCpuSeconds(child.pid),
    /** SIGTERM (the server closes the app and exits, writing any --cpu-prof profile), SIGKILL after a grace period. */
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** `[command, args]` run under `wrapper` (`[command, ...args]`), if it has one. */
export function wrapped(wrapper, command, args) {
  return wrapper.length === 0 ? [command, args] : [wrapper[0], [...wrapper.slice(1), command, ...args]];
}

/** `[command, args]`, prefixed with `taskset -c <cpu>` when a CPU is given (taskset execs: the pid stays the command's). */
export function pinned(cpu, command, args) {
  return cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
}

/**
 * With BENCH_PIN=1, on Linux with taskset and at least 2 CPUs: the variant server (all its threads) gets the
 * last CPU to itself; the harness (autocannon) and redis-server share the others. Undefined when not pinning.
 * Off by default: pinned, the server's helper threads (GC, the libuv pool that writes the log file) share its
 * one CPU, which favours the bare app over everything that logs.
 */
export function pinningPlan() {
  if (process.env.BENCH_PIN !== '1' || process.platform !== 'linux') return undefined;
  const available = cpusAvailable();
  if (available.length < 2) return undefined;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const server = available[available.length - 1];
  const rest = available.slice(0, -1);
  return { server, harness: rest.join(','), redis: rest.length > 1 ? rest[1] : rest[0] };
}

function cpusAvailable() {
  try {
    const text = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
    const list = text.slice(text.lastIndexOf(':') + 1).trim();
    const cpus = [];
    for (const part of list.split(',')) {
      const [from, to = from] = part.split('-').map(Number);
      for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
    }
    return cpus;
  } catch {
    return [];
  }
}

/** Pins this process (all its threads) to the given CPU list. */
export function pinSelf(cpuList) {
  execFileSync('taskset', ['-a', '-c', '-p', cpuList, String(process.pid)], { stdio: 'ignore' });
}

let ticksPerSecond;
function processCpuSeconds(pid) {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const system = Number(fields[12]) / ticksPerSecond;
    return { total: Number(fields[11]) / ticksPerSecond + system, system };
  } catch {
    return { total: NaN, system: NaN };
  }
}
