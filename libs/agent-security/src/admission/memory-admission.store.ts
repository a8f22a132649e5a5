import type { ConsumeResult } from '../throttling/sliding-window.interface.js';
import type { MemoryThrottlerStorage } from '../throttling/memory-throttler.storage.js';
import type { MemoryUsageStore } from '../usage/memory-usage.store.js';
import type { Admission, AdmissionRefusal, AdmissionResult, AdmissionStore } from './admission.interface.js';

/**
 * The admission in process memory, over the same windows and usage the other routes use: each step synchronous, so
 * no other request runs between the checks and the writes (the memory form of the script's atomicity).
 */
export class MemoryAdmissionStore implements AdmissionStore {
  constructor(
    private readonly windows: MemoryThrottlerStorage,
    private readonly usage: MemoryUsageStore,
  ) {}

  admit(admission: Admission): Promise<AdmissionResult> {
    return Promise.resolve(this.admitSync(admission));
  }

  admitSync({ windows, tokens, reservation, cost, stream, report }: Admission): AdmissionResult {
    let refused: AdmissionRefusal | undefined;
    let tokensUsed = 0;
    let tokensResetMs = 0;
    let tokensReserved = 0;
    const reserve = tokens !== undefined ? reservation : undefined;
    if (tokens !== undefined) {
      const budget = this.usage.tokensSync(tokens.key, tokens.windowMs);
      tokensUsed = budget.used;
      tokensResetMs = budget.resetMs;
      if (reserve !== undefined) tokensReserved = this.usage.reservedSync(reserve.key);
      const spent =
        reserve === undefined
          ? tokensUsed >= tokens.limit
          : tokensUsed + tokensReserved + reserve.tokens > tokens.limit;
      if (spent) refused = 'tokens';
    }
    let costUsed = 0;
    let costResetMs = 0;
    if (cost !== undefined) {
      const spent = this.usage.tokensSync(cost.key, cost.windowMs);
      costUsed = spent.used;
      costResetMs = spent.resetMs;
      if (refused === undefined && costUsed >= cost.limit) refused = 'cost';
    }
    const state = (windows: ConsumeResult | undefined): AdmissionResult => ({
      refused,
      tokensUsed,
      tokensResetMs,
      tokensReserved,
      costUsed,
      costResetMs,
      windows,
    });
    if (refused !== undefined && report !== true) return state(undefined);
    if (refused === undefined && stream !== undefined && this.usage.streamsHeld(stream.key) >= stream.max) {
      refused = 'streams';
      if (report !== true) return state(undefined);
    }
    // A full window does not count the request even in report mode: it holds at most its limit (as in Redis).
    const result = this.windows.consumeSync(windows);
    if (refused === undefined && !result.allowed) refused = 'windows';
    if (refused !== undefined && report !== true) return state(result);
    if (stream !== undefined) this.usage.takeStream(stream.key, stream.leaseId, stream.leaseMs);
    if (reserve !== undefined) this.usage.takeStream(reserve.key, reserve.member, reserve.leaseMs);
    return state(result);
  }
}
