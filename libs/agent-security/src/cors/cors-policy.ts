import type { CorsOptions, CorsOrigin } from '../agent-security-options.interface.js';

export const DEFAULT_CORS_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
export const DEFAULT_CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'X-Request-ID'];
export const DEFAULT_CORS_EXPOSED_HEADERS = [
  'X-Request-ID',
  'X-Response-Time',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'RateLimit',
  'RateLimit-Policy',
  'Retry-After',
  'X-TokenBudget-Limit',
  'X-TokenBudget-Remaining',
  'X-CostBudget-Limit-Usd',
  'X-CostBudget-Remaining-Usd',
];

/** The CORS options turned, once, into header values and an origin check. */
export interface CorsPolicy {
  isAllowed(origin: string): boolean;
  /** `*` only when any origin is allowed without credentials; otherwise the request's origin is echoed. */
  readonly wildcard: boolean;
  readonly credentials: boolean;
  readonly methods: string;
  readonly allowedHeaders: string;
  readonly exposedHeaders: string;
  readonly maxAge: string | undefined;
}

function originMatcher(origins: CorsOrigin): (origin: string) => boolean {
  if (typeof origins === 'function') return (origin) => origins(origin) === true;
  const list = Array.isArray(origins) ? origins : [origins];
  if (list.includes('*')) return () => true;
  const exact = new Set(list.filter((o): o is string => typeof o === 'string'));
  // Without g and y: with them test() starts where the last match ended, and one origin would pass every other time.
  const patterns = list
    .filter((o): o is RegExp => o instanceof RegExp)
    .map((o) => (o.global || o.sticky ? new RegExp(o.source, o.flags.replace(/[gy]/g, '')) : o));
  return (origin) => exact.has(origin) || patterns.some((pattern) => pattern.test(origin));
}

export function corsPolicy(options: CorsOptions): CorsPolicy {
  const list = Array.isArray(options.origins) ? options.origins : [options.origins];
  const matches = originMatcher(options.origins);
  return {
    // "Origin: null" is sent by every sandboxed iframe, file: page and cross-origin redirect of any site: with
    // credentials no pattern or predicate may let it in, whatever it answers (the start-up check cannot see into a predicate).
    isAllowed: options.credentials === true ? (origin) => origin !== 'null' && matches(origin) : matches,
    wildcard: !options.credentials && list.includes('*'),
    credentials: options.credentials === true,
    methods: (options.methods ?? DEFAULT_CORS_METHODS).join(', '),
    allowedHeaders: (options.allowedHeaders ?? DEFAULT_CORS_ALLOWED_HEADERS).join(', '),
    exposedHeaders: (options.exposedHeaders ?? DEFAULT_CORS_EXPOSED_HEADERS).join(', '),
    maxAge: options.maxAge === undefined ? undefined : String(options.maxAge),
  };
}
