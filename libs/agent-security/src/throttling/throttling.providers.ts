import type { Provider } from '@nestjs/common';
import { getOptionsToken, getStorageToken, type ThrottlerModuleOptions } from '@nestjs/throttler';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { FailoverStore } from './failover.store.js';
import { MemoryThrottlerStorage } from './memory-throttler.storage.js';
import { RedisConnection } from './redis-connection.js';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';
import type { SlidingWindowStore } from './sliding-window.interface.js';
import { AGENT_SECURITY_STORE, DEFAULT_THROTTLER } from './throttling.constants.js';

/**
 * The store behind the tier guard, and the two tokens `ThrottlerGuard` is constructed with.
 * These are the module's own (not exported), so a user's separate ThrottlerModule is left alone.
 */
export const throttlingProviders: Provider[] = [
  RedisConnection,
  {
    provide: AGENT_SECURITY_STORE,
    inject: [AGENT_SECURITY_CONFIG, RedisConnection],
    useFactory: (config: AgentSecurityConfig, connection: RedisConnection): SlidingWindowStore => {
      const memory = new MemoryThrottlerStorage();
      if (connection.client === undefined) return memory;
      const client = connection.client;
      const redis = new RedisThrottlerStorage(client, { batch: config.throttling.batchScriptCalls });
      const store = new FailoverStore(redis, memory, config.throttling.onStoreError, 1000, () => client.ping());
      connection.onStartedWithout = (reason) => store.markDown(reason);
      return store;
    },
  },
  {
    provide: getOptionsToken(),
    inject: [AGENT_SECURITY_CONFIG],
    // The tier guard resolves limits itself; ThrottlerGuard only needs a throttler named like @Throttle()'s default.
    useFactory: ({ defaultTier, tiers }: AgentSecurityConfig): ThrottlerModuleOptions => ({
      throttlers: [
        { name: DEFAULT_THROTTLER, limit: tiers.get(defaultTier)!.limit, ttl: tiers.get(defaultTier)!.windowMs },
      ],
    }),
  },
  { provide: getStorageToken(), useExisting: AGENT_SECURITY_STORE },
];
