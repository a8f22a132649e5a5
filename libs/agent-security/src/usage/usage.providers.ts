import type { Provider } from '@nestjs/common';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { FailoverStore } from '../throttling/failover.store.js';
import { RedisConnection } from '../throttling/redis-connection.js';
import { AGENT_SECURITY_STORE } from '../throttling/throttling.constants.js';
import type { SlidingWindowStore } from '../throttling/sliding-window.interface.js';
import { FailoverUsageStore } from './failover-usage.store.js';
import { MemoryUsageStore } from './memory-usage.store.js';
import { RedisUsageStore } from './redis-usage.store.js';
import { AGENT_SECURITY_USAGE_STORE } from './usage.constants.js';
import type { UsageStore } from './usage-store.interface.js';
import { UsageService } from './usage.service.js';

export const usageProviders: Provider[] = [
  {
    provide: AGENT_SECURITY_USAGE_STORE,
    inject: [AGENT_SECURITY_CONFIG, RedisConnection, AGENT_SECURITY_STORE],
    useFactory: (config: AgentSecurityConfig, connection: RedisConnection, windows: SlidingWindowStore): UsageStore => {
      const memory = new MemoryUsageStore();
      if (connection.client === undefined || !(windows instanceof FailoverStore)) return memory;
      // One down-state for the connection: the request windows' store holds it, probes Redis and logs its changes.
      return new FailoverUsageStore(
        new RedisUsageStore(connection.client),
        memory,
        config.throttling.onStoreError,
        windows,
      );
    },
  },
  UsageService,
];
