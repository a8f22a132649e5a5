// Constants shared by the harness (bench/run.mjs, bench/profile.mjs) and the variant servers.
import { readFileSync, writeFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';

/** HS256 secret of the benchmark (>= 32 bytes, RFC 7518 §3.2). Never use it anywhere that matters. */
export const SECRET = 'agent-security-benchmark-secret-0123456789abcdef';

/** Distinct callers: one token each, sent in turn. */
export const CALLERS = 1000;

/** Every variant's limit: never reached, so every variant does the same work on every request. */
export const HUGE_LIMIT = 1e9;
export const WINDOW_MS = 60_000;

/** "Window pre-filled" rows: the limit is raised to 2000 and each caller starts with PREFILL_ENTRIES live entries. */
export const FILLED_LIMIT = 2000;
export const PREFILL_ENTRIES = 1000;

/** Every request carries this Origin, so the CORS variants have work to do (the same header goes to every variant). */
export const ORIGIN = 'http://localhost:3000';

/** The headers the module's CORS exposes by default; the hand-assembled CORS exposes the same list. */
export { DEFAULT_CORS_EXPOSED_HEADERS as EXPOSED_HEADERS } from '../../libs/agent-security/dist/cors/cors-policy.js';

/** Tiers for the module: all huge, so a token's tier never changes the work done. */
export const TIERS = {
  free: { limit: HUGE_LIMIT, windowMs: WINDOW_MS },
  pro: { limit: HUGE_LIMIT, windowMs: WINDOW_MS },
  enterprise: { limit: HUGE_LIMIT, windowMs: WINDOW_MS },
};

/** 1,000 distinct HS256 tokens: sub user-0..user-999, tier pro, exp 1 h ahead. */
export function makeTokens(count = CALLERS) {
  const tokens = new Array(count);
  for (let i = 0; i < count; i++) {
    tokens[i] = jwt.sign({ sub: `user-${i}`, tier: 'pro' }, SECRET, { algorithm: 'HS256', expiresIn: '1h' });
  }
  return tokens;
}

export function writeTokens(file, tokens) {
  writeFileSync(file, JSON.stringify(tokens));
}

export function readTokens(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}
