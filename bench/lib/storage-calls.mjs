// Storage calls without HTTP, shared by bench/redis-script.mjs and bench/redis-instructions.mjs.
import { CALLERS, WINDOW_MS } from './common.mjs';

/** In flight at once, as with the harness's 50 connections. */
export const BATCH = 50;

/** Fills every caller's sorted sets with `entries` members spread over the last minute, as a busy window would be. */
export async function fillWindows(client, keysOf, entries) {
  const now = Date.now() * 1000;
  const args = [];
  for (let i = 0; i < entries; i++) args.push(now - Math.floor((i * WINDOW_MS * 1000) / (entries + 1)), `fill:${i}`);
  if (args.length === 0) return;
  for (let caller = 0; caller < CALLERS; caller++) {
    for (const key of keysOf(caller)) await client.zadd(key, ...args);
  }
}

/** BATCH callers in parallel, each making its next call from a fresh turn of the event loop, `calls` in all. */
export async function drive(call, calls) {
  let next = 0;
  const worker = async () => {
    while (next < calls) {
      const caller = next++ % CALLERS;
      await new Promise((resolve) => setImmediate(resolve));
      await call(caller);
    }
  };
  await Promise.all(Array.from({ length: BATCH }, worker));
}
