import { createHmac } from 'crypto';

export interface TestTokenOptions {
  /** The HS256 secret the module under test verifies with (`jwt.secret`). */
  secret: string | Buffer;
  /** The caller's id: `principal.userId`. */
  sub: string;
  /** The `tier` claim. Without it the module gives the caller its default tier. */
  tier?: string;
  /** The `scope` claim; a list is joined with spaces (RFC 8693). */
  scope?: string | string[];
  /** Lifetime in seconds, or `'30s'`, `'15m'`, `'1h'`, `'7d'`. Default `'1h'`. A negative number gives an expired token. */
  expiresIn?: number | string;
  issuer?: string;
  audience?: string | string[];
  /** Further claims, applied last: they can replace any of the above (`exp`, `iat`, `nbf` included). */
  claims?: Record<string, unknown>;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds from a number of seconds or a `'1h'`-style string. */
function lifetimeSeconds(expiresIn: number | string): number {
  if (typeof expiresIn === 'number') {
    if (!Number.isFinite(expiresIn))
      throw new TypeError(`createTestToken: expiresIn ${expiresIn} is not a finite number`);
    return Math.trunc(expiresIn);
  }
  const match = /^(-?\d+)\s*([smhd])?$/.exec(expiresIn.trim());
  if (match === null) throw new TypeError(`createTestToken: expiresIn '${expiresIn}' is not seconds or '<n>s|m|h|d'`);
  return Number(match[1]) * UNIT_SECONDS[match[2] ?? 's'];
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/**
 * An HS256 JWT for a test: `Authorization: Bearer ${createTestToken({ secret, sub: 'alice', tier: 'pro' })}`.
 * Signed with node's crypto, so it needs nothing the app does not have; for tests only (no key handling).
 */
export function createTestToken(options: TestTokenOptions): string {
  const { secret, sub, tier, scope, expiresIn = '1h', issuer, audience, claims } = options;
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { sub, iat: now, exp: now + lifetimeSeconds(expiresIn) };
  if (tier !== undefined) payload.tier = tier;
  if (scope !== undefined) payload.scope = Array.isArray(scope) ? scope.join(' ') : scope;
  if (issuer !== undefined) payload.iss = issuer;
  if (audience !== undefined) payload.aud = audience;
  Object.assign(payload, claims);
  const unsigned = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(payload))}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}
