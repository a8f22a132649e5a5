import type { Provider } from '@nestjs/common';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { FailoverStore } from '../throttling/failover.store.js';
import { MemoryThrottlerStorage } from '../throttling/memory-throttler.storage.js';
import { RedisConnection } from '../throttling/redis-connection.js';
import type { SlidingWindowStore } from '../throttling/sliding-window.interface.js';
import { AGENT_SECURITY_STORE } from '../throttling/throttling.constants.js';
import { FailoverUsageStore } from '../usage/failover-usage.store.js';
import { MemoryUsageStore } from '../usage/memory-usage.store.js';
import { AGENT_SECURITY_USAGE_STORE } from '../usage/usage.constants.js';
import type { UsageStore } from '../usage/usage-store.interface.js';
import { AGENT_SECURITY_ADMISSION_STORE } from './admission.constants.js';
import type { AdmissionStore } from './admission.interface.js';
import { FailoverAdmissionStore } from './failover-admission.store.js';
import { MemoryAdmissionStore } from './memory-admission.store.js';
import { RedisAdmissionStore } from './redis-admission.store.js';

/** The admission over the same memory windows and usage as the other stores: one caller has one state per instance. */
export const admissionProviders: Provider[] = [
  {
    provide: AGENT_SECURITY_ADMISSION_STORE,
    inject: [AGENT_SECURITY_CONFIG, RedisConnection, AGENT_SECURITY_STORE, AGENT_SECURITY_USAGE_STORE],
    useFactory: (
      config: AgentSecurityConfig,
      connection: RedisConnection,
      windows: SlidingWindowStore,
      usage: UsageStore,
    ): AdmissionStore => {
      const memoryWindows = windows instanceof FailoverStore ? windows.fallback : windows;
      const memoryUsage = usage instanceof FailoverUsageStore ? usage.fallback : usage;
      if (!(memoryWindows instanceof MemoryThrottlerStorage) || !(memoryUsage instanceof MemoryUsageStore)) {
        throw new Error("AgentSecurityModule: the admission expects the module's own memory stores");
      }
      const memory = new MemoryAdmissionStore(memoryWindows, memoryUsage);
      if (connection.client === undefined || !(windows instanceof FailoverStore)) return memory;
      const client = connection.client;
      const drop = async (key: string, member: string) => void (await client.zrem(key, member));
      return new FailoverAdmissionStore(
        new RedisAdmissionStore(client),
        memory,
        config.throttling.onStoreError,
        windows,
        drop,
      );
    },
  },
];
