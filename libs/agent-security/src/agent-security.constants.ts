/** The validated, defaulted configuration every part of the module reads. */
export const AGENT_SECURITY_CONFIG = Symbol('AGENT_SECURITY_CONFIG');
/** The JwtService the AuthGuard verifies with (built from `options.jwt`). */
export const AGENT_SECURITY_JWT = Symbol('AGENT_SECURITY_JWT');

export const DEFAULT_TIER = 'free';
export const ANONYMOUS_TIER = 'anonymous';

export const DEFAULT_TIERS = {
  free: { limit: 20, windowMs: 3_600_000 },
  pro: { limit: 200, windowMs: 3_600_000 },
  enterprise: { limit: 2000, windowMs: 3_600_000 },
} as const;

export const DEFAULT_ANONYMOUS_LIMITS = { limit: 60, windowMs: 60_000 } as const;
