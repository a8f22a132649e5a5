import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import { isRedisClient } from './redis-client.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';

/**
 * Under load many requests reach Redis in one turn of the event loop; auto-pipelining sends the commands that
 * go through ioredis's command methods (token budgets, health checks) in one socket write. The rate-limit
 * storage batches its own script calls on a single Redis (RedisThrottlerStorage.run). A user's option wins.
 */
const PIPELINED_CONNECTION = { enableAutoPipelining: true } as const;

/** How long start-up waits for Redis before it goes on (with the store-error policy in force). */
export const CONNECT_WAIT_MS = 2000;

/** `throttling.commandTimeoutMs`'s default, and a storage's that opens its own connection. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 50;

/** Resolves when `client` is ready, or after `ms` (whichever is first); true when it is ready. */
export function whenReady(client: Redis | Cluster, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => done(false), ms);
    timer.unref();
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    client.on('ready', onReady);
  });
}

/**
 * A connection the library opens itself, from a URL or ioredis options: it fails fast instead of queueing (a
 * per-command timeout, no offline queue, no retries of a command), so a Redis that hangs or is gone never holds a
 * request for longer than `commandTimeoutMs`. Options the user gives override these defaults: they chose them for
 * this connection. A key present but undefined (an unset environment variable) keeps the default, not ioredis's own.
 */
export function openRedisConnection(redis: string | RedisOptions, commandTimeoutMs: number): Redis {
  // The library's own connections, the module's and a storage's, are made here only: one set of defaults.
  const failFast: RedisOptions = {
    ...PIPELINED_CONNECTION,
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Reconnect quickly but not in a tight loop while Redis is away.
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
  };
  const client =
    typeof redis === 'string'
      ? new Redis(redis, failFast)
      : new Redis({
          ...failFast,
          ...Object.fromEntries(Object.entries(redis).filter(([, value]) => value !== undefined)),
        });
  // Without a listener ioredis reports every failed reconnect as an unhandled 'error' event.
  client.on('error', () => undefined);
  return client;
}

/**
 * The module's Redis connection: the user's client as given, or one it opens from a URL or options.
 * A connection it opens fails fast instead of queueing: a per-command timeout and no offline queue,
 * so a Redis that hangs or is gone never holds a request for longer than `commandTimeoutMs`; ioredis options the
 * user gives (`redis: { ... }`) override these defaults.
 * It closes only a connection it opened.
 */
@Injectable()
export class RedisConnection implements OnModuleInit, OnApplicationShutdown {
  readonly client: Redis | Cluster | undefined;
  private readonly owned: boolean;
  private readonly logger = new Logger('AgentSecurity');

  constructor(@Inject(AGENT_SECURITY_CONFIG) config: AgentSecurityConfig) {
    const { redis } = config;
    if (redis === undefined) {
      this.client = undefined;
      this.owned = false;
    } else if (isRedisClient(redis)) {
      this.client = redis;
      this.owned = false;
      const options = redis.isCluster ? (redis as Cluster).options.redisOptions : (redis as Redis).options;
      if (!options?.commandTimeout) {
        this.logger.warn(
          'The Redis client given to AgentSecurityModule has no commandTimeout: a Redis that hangs will hang requests. ' +
            `Create it with { commandTimeout: ${config.throttling.commandTimeoutMs}, enableOfflineQueue: false }, or pass a URL.`,
        );
      }
      // A Cluster with no node to reach keeps commands in its own queue, where no commandTimeout runs: for ever.
      if (redis.isCluster && (redis as Cluster).options.enableOfflineQueue !== false) {
        this.logger.warn(
          'The Redis Cluster given to AgentSecurityModule queues commands while no node answers, untimed: a cluster that is ' +
            'wholly down will hang requests. Create it with { enableOfflineQueue: false } (and redisOptions.commandTimeout).',
        );
      }
    } else {
      this.client = openRedisConnection(redis, config.throttling.commandTimeoutMs);
      this.owned = true;
    }
  }

  /** Called when Redis is not ready at start-up: the rate-limit store starts in its down state (and says so). */
  onStartedWithout: ((reason: string) => void) | undefined;

  async onModuleInit(): Promise<void> {
    const client = this.client;
    if (client === undefined || client.status === 'ready') return;
    const ready = await whenReady(client, CONNECT_WAIT_MS);
    if (ready) return;
    this.logger.warn(`Redis not ready after ${CONNECT_WAIT_MS} ms; starting with the store-error policy in force`);
    this.onStartedWithout?.(`not connected at start-up (${client.status})`);
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.owned || this.client === undefined) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
