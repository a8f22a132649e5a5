import { Inject, Injectable } from '@nestjs/common';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { FailoverStore } from './failover.store.js';
import type { SlidingWindowStore } from './sliding-window.interface.js';
import { AGENT_SECURITY_STORE } from './throttling.constants.js';

export interface RateLimitStoreHealth {
  /** `down` while Redis cannot be reached, whatever the policy does meanwhile. */
  status: 'up' | 'down';
  store: 'redis' | 'memory';
  policy: AgentSecurityConfig['throttling']['onStoreError'];
  /** What limits requests right now. */
  enforcedBy: 'redis' | 'memory' | 'nothing' | 'refusing';
  error?: string;
}

const DEGRADED = { fallback: 'memory', allow: 'nothing', deny: 'refusing' } as const;

/**
 * The rate-limit store's state in the shape of a `@nestjs/terminus` HealthIndicatorResult, without depending on it:
 * `health.check([() => store.check('rateLimitStore')])`.
 */
@Injectable()
export class RateLimitStoreHealthIndicator {
  constructor(
    @Inject(AGENT_SECURITY_STORE) private readonly store: SlidingWindowStore,
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
  ) {}

  state(): RateLimitStoreHealth {
    const policy = this.config.throttling.onStoreError;
    if (!(this.store instanceof FailoverStore)) return { status: 'up', store: 'memory', policy, enforcedBy: 'memory' };
    const { state, lastError } = this.store.status;
    return state === 'up'
      ? { status: 'up', store: 'redis', policy, enforcedBy: 'redis' }
      : { status: 'down', store: 'redis', policy, enforcedBy: DEGRADED[policy], error: lastError };
  }

  check<Key extends string>(key: Key): Record<Key, RateLimitStoreHealth> {
    return { [key]: this.state() } as Record<Key, RateLimitStoreHealth>;
  }
}
