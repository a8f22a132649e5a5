import type { WindowRule } from './sliding-window.interface.js';

/**
 * A window the Redis storage cannot count: a limit or a length that is not a finite number (a route's
 * `@Throttle()` resolver that returned NaN, say). Refused before anything is sent, so it fails its own request
 * only, not the others sharing its script call; `FailoverStore` passes it on instead of taking Redis for down.
 */
export class InvalidWindowRuleError extends TypeError {
  constructor(rule: WindowRule) {
    super(
      `agent-security: cannot count window ${JSON.stringify(rule.key)}: limit must be a number >= 0 (a whole one from @Throttle()) and windowMs a finite number >= 1, ` +
        `got limit ${rule.limit} and windowMs ${rule.windowMs}`,
    );
    this.name = 'InvalidWindowRuleError';
  }
}
