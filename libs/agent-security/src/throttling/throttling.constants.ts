/** The SlidingWindowStore the tier guard spends budgets in (Redis, or memory when no Redis is configured). */
export const AGENT_SECURITY_STORE = Symbol('AGENT_SECURITY_STORE');

export const RATE_LIMIT_EXCEEDED_MESSAGE = 'Rate limit exceeded';

/** Name of the policy a route's own `@Throttle({ default: ... })` adds in the RateLimit headers. */
export const ROUTE_POLICY_NAME = 'route';

// @nestjs/throttler's metadata keys (not exported by its index); a route's @Throttle() and @SkipThrottle() write them.
export const THROTTLER_LIMIT = 'THROTTLER:LIMIT';
export const THROTTLER_TTL = 'THROTTLER:TTL';
export const THROTTLER_SKIP = 'THROTTLER:SKIP';
/** Written by @Throttle() too, and not applied by the module (it warns about them). */
export const THROTTLER_BLOCK_DURATION = 'THROTTLER:BLOCK_DURATION';
export const THROTTLER_TRACKER = 'THROTTLER:TRACKER';
export const THROTTLER_KEY_GENERATOR = 'THROTTLER:KEY_GENERATOR';
/** The throttler name `@Throttle({ default: ... })` and a bare `@SkipThrottle()` refer to. */
export const DEFAULT_THROTTLER = 'default';
