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
  constructor(
    private readonly primary: AdmissionStore,
    private readonly fallback: AdmissionStore,
    private readonly policy: StoreErrorPolicy,
    private readonly redis: RedisDownState,
  ) {}

  admit(admission: Admission): Promise<AdmissionResult> {
    if (this.redis.isDown) return this.degraded(admission);
    return this.primary.admit(admission).catch((error: unknown) => {
      if (error instanceof InvalidWindowRuleError) throw error;
      this.redis.markDown(error instanceof Error ? error.message : String(error));
      return this.degraded(admission);
    });
  }

  private degraded(admission: Admission): Promise<AdmissionResult> {
    if (this.policy === 'fallback') return this.fallback.admit(admission);
    if (this.policy === 'deny') return Promise.reject(new StoreUnavailableException());
    const windows = admission.windows.map(() => ({ totalHits: 0, resetMs: 0 }));
    return Promise.resolve({ refused: undefined, tokensUsed: 0, tokensResetMs: 0, windows: { allowed: true, blockedBy: -1, windows } });
  }
}
