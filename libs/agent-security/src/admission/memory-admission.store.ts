import type { MemoryThrottlerStorage } from '../throttling/memory-throttler.storage.js';
import type { MemoryUsageStore } from '../usage/memory-usage.store.js';
import type { Admission, AdmissionResult, AdmissionStore } from './admission.interface.js';

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

  admitSync({ windows, tokens, reservation, stream }: Admission): AdmissionResult {
    let tokensUsed = 0;
    let tokensResetMs = 0;
    let tokensReserved = 0;
    const reserve = tokens !== undefined ? reservation : undefined;
    if (tokens !== undefined) {
      const budget = this.usage.tokensSync(tokens.key, tokens.windowMs);
      tokensUsed = budget.used;
      tokensResetMs = budget.resetMs;
      if (reserve !== undefined) tokensReserved = this.usage.reservedSync(reserve.key);
      const refused = reserve === undefined ? tokensUsed >= tokens.limit : tokensUsed + tokensReserved + reserve.tokens > tokens.limit;
      if (refused) return { refused: 'tokens', tokensUsed, tokensResetMs, tokensReserved, windows: undefined };
    }
    if (stream !== undefined && this.usage.streamsHeld(stream.key) >= stream.max) {
      return { refused: 'streams', tokensUsed, tokensResetMs, tokensReserved, windows: undefined };
    }
    const result = this.windows.consumeSync(windows);
    if (!result.allowed) return { refused: 'windows', tokensUsed, tokensResetMs, tokensReserved, windows: result };
    if (stream !== undefined) this.usage.takeStream(stream.key, stream.leaseId, stream.leaseMs);
    if (reserve !== undefined) this.usage.takeStream(reserve.key, reserve.member, reserve.leaseMs);
    return { refused: undefined, tokensUsed, tokensResetMs, tokensReserved, windows: result };
  }
}
