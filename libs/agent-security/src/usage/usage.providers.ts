import type { Provider } from '@nestjs/common';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { RedisConnection } from '../throttling/redis-connection.js';
import { FailoverUsageStore } from './failover-usage.store.js';
import { MemoryUsageStore } from './memory-usage.store.js';
import { RedisUsageStore } from './redis-usage.store.js';
import { AGENT_SECURITY_USAGE_STORE } from './usage.constants.js';
import type { UsageStore } from './usage-store.interface.js';
import { UsageService } from './usage.service.js';

export const usageProviders: Provider[] = [
  {
    provide: AGENT_SECURITY_USAGE_STORE,
    inject: [AGENT_SECURITY_CONFIG, RedisConnection],
    useFactory: (config: AgentSecurityConfig, connection: RedisConnection): UsageStore => {
      const memory = new MemoryUsageStore();
      if (connection.client === undefined) return memory;
      return new FailoverUsageStore(new RedisUsageStore(connection.client), memory, config.throttling.onStoreError);
    },
  },
  UsageService,
];
