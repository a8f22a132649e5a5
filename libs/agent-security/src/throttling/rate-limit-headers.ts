import type { ServerResponse } from 'http';

/** A window as the caller sees it in the headers. */
export interface RateLimitPolicy {
  /** Policy name in the IETF fields: the tier, or "route". */
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  /** `"free";q=20;w=3600`, built once per policy. */
  readonly policyField: string;
}

export function rateLimitPolicy(name: string, limit: number, windowMs: number): RateLimitPolicy {
  return { name, limit, windowMs, policyField: `"${name}";q=${limit};w=${Math.ceil(windowMs / 1000)}` };
}

/**
 * The de-facto `X-RateLimit-*` trio for the window closest to refusing, plus the IETF fields of
 * draft-ietf-httpapi-ratelimit-headers-08 (the syntax express-rate-limit emits) for every window checked.
 * `resetSec` is when a slot frees: the oldest counted request leaving the window.
 */
export function setRateLimitHeaders(
  response: ServerResponse,
  policy: RateLimitPolicy,
  remaining: number,
  resetSec: number,
  second?: { policy: RateLimitPolicy; remaining: number; resetSec: number },
): void {
  let tightest = policy;
  let tightestRemaining = remaining;
  let tightestReset = resetSec;
  let policyField = policy.policyField;
  let rateLimitField = `"${policy.name}";r=${remaining};t=${resetSec}`;
  if (second !== undefined) {
    policyField += `, ${second.policy.policyField}`;
    rateLimitField += `, "${second.policy.name}";r=${second.remaining};t=${second.resetSec}`;
    if (second.remaining < remaining) {
      tightest = second.policy;
      tightestRemaining = second.remaining;
      tightestReset = second.resetSec;
    }
  }
  response.setHeader('X-RateLimit-Limit', tightest.limit);
  response.setHeader('X-RateLimit-Remaining', tightestRemaining);
  response.setHeader('X-RateLimit-Reset', tightestReset);
  response.setHeader('RateLimit-Policy', policyField);
  response.setHeader('RateLimit', rateLimitField);
}
