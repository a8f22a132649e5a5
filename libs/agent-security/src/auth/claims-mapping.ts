import type { ClaimNames, ClaimsMapper } from '../agent-security-options.interface.js';
import type { AgentClaims } from './agent-principal.interface.js';

/** The caller as a token names it, before the tier is checked against the options. */
export interface CallerClaims {
  readonly userId: unknown;
  readonly tier: unknown;
  readonly scopes: readonly string[];
}

/** Where scopes are found when no claim is named: OAuth's `scope`, Entra's and Okta's `scp`, Auth0's `permissions`. */
const DEFAULT_SCOPE_CLAIMS = ['scope', 'scp', 'permissions'] as const;

const NO_SCOPES: readonly string[] = Object.freeze([]);

/**
 * The one function the verifier calls per verified token (never per request: it caches the principal it builds).
 * Built once from the options, so that a token is read by a fixed path with no option lookups.
 */
export function claimsMapping(option: ClaimNames | ClaimsMapper | undefined): (claims: AgentClaims) => CallerClaims {
  if (typeof option === 'function') {
    return (claims) => {
      const mapped = option(claims);
      if (typeof mapped !== 'object' || mapped === null) return defaultMapping(claims);
      return {
        userId: mapped.userId !== undefined ? mapped.userId : claims.sub,
        tier: mapped.tier !== undefined ? mapped.tier : claims.tier,
        scopes: mapped.scopes !== undefined ? scopeList(mapped.scopes) : defaultScopes(claims),
      };
    };
  }
  const subject = option?.subject ?? 'sub';
  const tier = option?.tier ?? 'tier';
  const scopes = option?.scopes;
  if (subject === 'sub' && tier === 'tier' && scopes === undefined) return defaultMapping;
  return (claims) => ({
    userId: claims[subject],
    tier: claims[tier],
    scopes: scopes === undefined ? defaultScopes(claims) : scopeList(claims[scopes]),
  });
}

function defaultMapping(claims: AgentClaims): CallerClaims {
  return { userId: claims.sub, tier: claims.tier, scopes: defaultScopes(claims) };
}

function defaultScopes(claims: AgentClaims): readonly string[] {
  let found: string[] | undefined;
  for (const name of DEFAULT_SCOPE_CLAIMS) {
    const value = claims[name];
    if (value === undefined) continue;
    const list = scopeList(value);
    if (list.length === 0) continue;
    found = found === undefined ? [...list] : [...new Set([...found, ...list])];
  }
  return found === undefined ? NO_SCOPES : Object.freeze(found);
}

/**
 * A claim's scopes: a space-separated string (RFC 8693 §4.2, RFC 9068 §2.2.3) or an array of strings. Anything
 * else grants none: a malformed claim must never widen what a caller may do.
 */
function scopeList(value: unknown): readonly string[] {
  if (typeof value === 'string') {
    const list = value.split(/\s+/).filter((scope) => scope !== '');
    return list.length === 0 ? NO_SCOPES : Object.freeze([...new Set(list)]);
  }
  if (Array.isArray(value)) {
    const list = value.filter((scope): scope is string => typeof scope === 'string' && scope !== '');
    return list.length === 0 ? NO_SCOPES : Object.freeze([...new Set(list)]);
  }
  return NO_SCOPES;
}
