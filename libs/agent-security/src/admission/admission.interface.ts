import type { ConsumeResult, WindowRule } from '../throttling/sliding-window.interface.js';

/** The caller's token budget: refused once `limit` tokens are used in the last `windowMs`. */
export interface TokenBudgetCheck {
  key: string;
  limit: number;
  windowMs: number;
}

/**
 * Tokens held for the request until it records what it spent: admitted only if the budget covers the tokens used,
 * the reservations in flight and this one. `member` is "<tokens>:<id>"; the hold expires with its lease.
 */
export interface TokenReservation {
  key: string;
  member: string;
  tokens: number;
  leaseMs: number;
}

/** The caller's cost budget, in nano-dollars: refused once `limit` is spent in the last `windowMs` (nothing reserved). */
export interface CostBudgetCheck {
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
  /** With `tokens` only; without it the budget is soft (admitted while anything is left). */
  reservation?: TokenReservation;
  cost?: CostBudgetCheck;
  stream?: StreamSlotCheck;
  /** Report mode: every check is made and everything taken; `refused` is what enforcing would have refused. */
  report?: boolean;
}

/** Which check refused, in the order they are made: the token budget, the cost budget, the stream slots, the windows. */
export type AdmissionRefusal = 'tokens' | 'cost' | 'streams' | 'windows';

export interface AdmissionResult {
  /** Undefined when admitted: every window then counts the request and the stream slot (if asked for) is held. */
  refused: AdmissionRefusal | undefined;
  /** Tokens used in the budget window (0 without a budget). */
  tokensUsed: number;
  /** Milliseconds until the oldest counted usage leaves the budget window. */
  tokensResetMs: number;
  /** Tokens held by other requests' reservations in flight (0 without a reservation). */
  tokensReserved: number;
  /** Nano-dollars spent in the cost window (0 without a cost budget), and when the oldest leaves it. */
  costUsed: number;
  costResetMs: number;
  /** The windows' state; undefined when the budget or the stream slots refused before the windows were looked at. */
  windows: ConsumeResult | undefined;
}

/**
 * One atomic admission per request: nothing is taken unless everything allows it, so a request refused by any
 * check is counted by none.
 */
export interface AdmissionStore {
  admit(admission: Admission): Promise<AdmissionResult>;
}
