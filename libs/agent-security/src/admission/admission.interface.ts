import type { ConsumeResult, WindowRule } from '../throttling/sliding-window.interface.js';

/** The caller's token budget: refused once `limit` tokens are used in the last `windowMs`. */
export interface TokenBudgetCheck {
  key: string;
  limit: number;
  windowMs: number;
}

/** A concurrent-stream slot: taken under `leaseId` if fewer than `max` unexpired leases are held. */
export interface StreamSlotCheck {
  key: string;
  leaseId: string;
  max: number;
  leaseMs: number;
}

/** Everything one request on a budgeted or streamed route asks for, checked and taken together. */
export interface Admission {
  /** The request windows (tier, then the route's own); may be empty (@SkipThrottle()). */
  windows: readonly WindowRule[];
  tokens?: TokenBudgetCheck;
  stream?: StreamSlotCheck;
}

/** Which check refused, in the order they are made: the token budget, the stream slots, the request windows. */
export type AdmissionRefusal = 'tokens' | 'streams' | 'windows';

export interface AdmissionResult {
  /** Undefined when admitted: every window then counts the request and the stream slot (if asked for) is held. */
  refused: AdmissionRefusal | undefined;
  /** Tokens used in the budget window (0 without a budget). */
  tokensUsed: number;
  /** Milliseconds until the oldest counted usage leaves the budget window. */
  tokensResetMs: number;
  /** The windows' state; undefined when the budget or the stream slots refused before the windows were looked at. */
  windows: ConsumeResult | undefined;
}

/**
 * One atomic admission per request: nothing is taken unless everything allows it, so a request refused by any
 * check is counted by none. A reservation (tokens held until the record) would be one more check here.
 */
export interface AdmissionStore {
  admit(admission: Admission): Promise<AdmissionResult>;
}
