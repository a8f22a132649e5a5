// valgrind's callgrind, for the instruction counters (redis-instructions.mjs, app-instructions.mjs): a process runs
// under it with instrumentation off, is switched on for what is counted, and dumps its counts on demand.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The wrapper a process runs under: counts nothing until `callgrindControl(pid, '--instr=on')`; dumps go to `dir`. */
export function callgrindWrapper(dir, ...options) {
  return [
    'valgrind',
    '--tool=callgrind',
    '--instr-atstart=no',
    ...options,
    `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
  ];
}

/** Runs `callgrind_control <args> <pid>`: `--instr=on`, `--zero`, `--dump`, `--instr=off`. */
export function callgrindControl(pid, ...args) {
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore' });
}

/** Counts from the `--dump` dumps in `dir` (the file written at start-up, before any dump, is empty and skipped). */
export function readDumps(dir, { inclusive = false } = {}) {
  let total = 0;
  const functions = {};
  for (const file of readdirSync(dir).filter((name) => /\.\d+\.\d+$/.test(name))) {
    const text = execFileSync(
      'callgrind_annotate',
      [`--inclusive=${inclusive ? 'yes' : 'no'}`, '--threshold=100', join(dir, file)],
      {
        encoding: 'utf8',
        maxBuffer: 256 << 20,
      },
    );
    total += Number(/^([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/m.exec(text)[1].replaceAll(',', ''));
    // The first line per name: a recursive call's own line (`call'2`) would match the same name again.
    const seen = new Set();
    for (const match of text.matchAll(/^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*?:(\w+)\s/gm)) {
      if (seen.has(match[2])) continue;
      seen.add(match[2]);
      functions[match[2]] = (functions[match[2]] ?? 0) + Number(match[1].replaceAll(',', ''));
    }
  }
  return { total, functions };
}
