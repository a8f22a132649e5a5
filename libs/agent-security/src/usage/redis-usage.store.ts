import type { Cluster, Redis } from 'ioredis';
import { TOKEN_BUCKETS } from './usage.constants.js';
import {
  RESERVATION_RENEW_SCRIPT,
  TOKENS_SETTLE_SCRIPT,
  STREAM_ACQUIRE_SCRIPT,
  STREAM_RENEW_SCRIPT,
  TOKENS_RECORD_SCRIPT,
  TOKENS_REPLAY_SCRIPT,
  TOKENS_USED_SCRIPT,
} from './usage.scripts.js';
import type { CostRecord, TokenBucketsReplay, TokenWindow, UsageStore } from './usage-store.interface.js';

interface UsageCommands {
  agentSecurityTokensUsed(key: string, bucketMs: number, buckets: number): Promise<[number, number]>;
  agentSecurityTokensRecord(key: string, tokens: number, bucketMs: number, windowMs: number): Promise<number>;
  agentSecurityStreamAcquire(key: string, leaseId: string, max: number, leaseMs: number): Promise<number>;
  agentSecurityStreamRenew(key: string, leaseId: string, leaseMs: number): Promise<number>;
  agentSecurityTokensReplay(key: string, bucketMs: number, windowMs: number, ...buckets: number[]): Promise<number>;
  agentSecurityTokensSettle(numKeys: number, ...args: Array<string | number>): Promise<number>;
  agentSecurityReservationRenew(key: string, member: string, leaseMs: number): Promise<number>;
}

export const bucketMsFor = (windowMs: number) => Math.max(1, Math.ceil(windowMs / TOKEN_BUCKETS));

/** Token budgets and stream leases in Redis, one script call each. */
export class RedisUsageStore implements UsageStore, TokenBucketsReplay {
  private readonly redis: Redis & UsageCommands;

  constructor(client: Redis | Cluster) {
    const commands = client as (Redis | Cluster) & Partial<UsageCommands>;
    if (typeof commands.agentSecurityTokensReplay !== 'function') {
      client.defineCommand('agentSecurityTokensReplay', { numberOfKeys: 1, lua: TOKENS_REPLAY_SCRIPT });
    }
    if (typeof commands.agentSecurityTokensSettle !== 'function') {
      client.defineCommand('agentSecurityTokensSettle', { lua: TOKENS_SETTLE_SCRIPT });
      client.defineCommand('agentSecurityReservationRenew', { numberOfKeys: 1, lua: RESERVATION_RENEW_SCRIPT });
    }
    if (typeof commands.agentSecurityTokensUsed !== 'function') {
      client.defineCommand('agentSecurityTokensUsed', { numberOfKeys: 1, lua: TOKENS_USED_SCRIPT });
      client.defineCommand('agentSecurityTokensRecord', { numberOfKeys: 1, lua: TOKENS_RECORD_SCRIPT });
      client.defineCommand('agentSecurityStreamAcquire', { numberOfKeys: 1, lua: STREAM_ACQUIRE_SCRIPT });
      client.defineCommand('agentSecurityStreamRenew', { numberOfKeys: 1, lua: STREAM_RENEW_SCRIPT });
    }
    this.redis = client as Redis & UsageCommands;
  }

  async tokens(key: string, windowMs: number): Promise<TokenWindow> {
    const [used, resetMs] = await this.redis.agentSecurityTokensUsed(key, bucketMsFor(windowMs), TOKEN_BUCKETS);
    return { used, resetMs };
  }

  async recordTokens(key: string, tokens: number, windowMs: number): Promise<void> {
    await this.redis.agentSecurityTokensRecord(key, tokens, bucketMsFor(windowMs), windowMs);
  }

  async addBuckets(key: string, buckets: ReadonlyMap<number, number>, windowMs: number): Promise<void> {
    const args: number[] = [];
    for (const [bucket, tokens] of buckets) args.push(bucket, tokens);
    await this.redis.agentSecurityTokensReplay(key, bucketMsFor(windowMs), windowMs, ...args);
  }

  async acquireStream(key: string, leaseId: string, max: number, leaseMs: number): Promise<boolean> {
    return (await this.redis.agentSecurityStreamAcquire(key, leaseId, max, leaseMs)) === 1;
  }

  async renewStream(key: string, leaseId: string, leaseMs: number): Promise<void> {
    await this.redis.agentSecurityStreamRenew(key, leaseId, leaseMs);
  }

  async releaseStream(key: string, leaseId: string): Promise<void> {
    await this.redis.zrem(key, leaseId);
  }

  async settleReservation(
    tokensKey: string,
    tokens: number,
    windowMs: number,
    reservationKey: string,
    member: string,
    cost?: CostRecord,
  ): Promise<void> {
    if (cost === undefined) {
      await this.redis.agentSecurityTokensSettle(
        2,
        tokensKey,
        reservationKey,
        tokens,
        bucketMsFor(windowMs),
        windowMs,
        member,
      );
    } else {
      await this.redis.agentSecurityTokensSettle(
        3,
        tokensKey,
        reservationKey,
        cost.key,
        tokens,
        bucketMsFor(windowMs),
        windowMs,
        member,
        cost.amount,
        bucketMsFor(cost.windowMs),
        cost.windowMs,
      );
    }
  }

  async renewReservation(reservationKey: string, member: string, leaseMs: number): Promise<void> {
    await this.redis.agentSecurityReservationRenew(reservationKey, member, leaseMs);
  }
}
