import type { StoreErrorPolicy } from '../agent-security-options.interface.js';
import { StoreUnavailableException } from '../errors/store-unavailable.exception.js';
import type { RedisDownState } from '../throttling/failover.store.js';
import { InvalidWindowRuleError } from '../throttling/invalid-window-rule.error.js';
import type { Admission, AdmissionResult, AdmissionStore } from './admission.interface.js';

/**
 * The store-error policy for admissions, on the connection's one down-state (the request windows' store holds it,
 * probes Redis and logs each change): while Redis is down it is not asked, and a failure here marks it down for all.
 */
export class FailoverAdmissionStore implements AdmissionStore {
  /** Reservations whose admission timed out: Redis may still run it once it answers, and would hold them a lease long. */
  private readonly unsure: Array<{ key: string; member: string }> = [];

  constructor(
    private readonly primary: AdmissionStore,
    private readonly fallback: AdmissionStore,
    private readonly policy: StoreErrorPolicy,
    private readonly redis: RedisDownState,
    /** Drops a member of a Redis sorted set (a reservation) when Redis is back. */
    private readonly drop?: (key: string, member: string) => Promise<void>,
  ) {
    redis.onRecovered(() => {
      for (const { key, member } of this.unsure.splice(0)) this.drop?.(key, member).catch(() => undefined);
    });
  }

  admit(admission: Admission): Promise<AdmissionResult> {
    if (this.redis.isDown) return this.degraded(admission);
    return this.primary.admit(admission).catch((error: unknown) => {
      if (error instanceof InvalidWindowRuleError) throw error;
      if (admission.reservation !== undefined && this.drop !== undefined && this.unsure.length < MAX_UNSURE) {
        this.unsure.push({ key: admission.reservation.key, member: admission.reservation.member });
      }
      this.redis.markDown(error instanceof Error ? error.message : String(error));
      return this.degraded(admission);
    });
  }

  private degraded(admission: Admission): Promise<AdmissionResult> {
    if (this.policy === 'fallback') return this.fallback.admit(admission);
    if (this.policy === 'deny') return Promise.reject(new StoreUnavailableException());
    const windows = admission.windows.map(() => ({ totalHits: 0, resetMs: 0 }));
    return Promise.resolve({
      refused: undefined,
      tokensUsed: 0,
      tokensResetMs: 0,
      tokensReserved: 0,
      costUsed: 0,
      costResetMs: 0,
      windows: { allowed: true, blockedBy: -1, windows },
    });
  }
}

/** Beyond this many the rest expire with their lease: an outage must not grow memory without bound. */
const MAX_UNSURE = 10_000;
