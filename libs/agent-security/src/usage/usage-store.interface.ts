/** An amount for a cost window: nano-dollars, kept like tokens (a hash of bucket -> amount). */
export interface CostRecord {
  key: string;
  amount: number;
  windowMs: number;
}

export interface TokenWindow {
  /** Tokens used in the window. */
  used: number;
  /** Milliseconds until the oldest usage still counted leaves the window; 0 when nothing is counted. */
  resetMs: number;
}

/**
 * Token budgets as a bucketed sliding window (TOKEN_BUCKETS buckets a window, so bounded memory per
 * caller), and concurrent-stream slots as leases that expire on their own if an instance dies.
 */
export interface UsageStore {
  tokens(key: string, windowMs: number): Promise<TokenWindow>;
  recordTokens(key: string, tokens: number, windowMs: number): Promise<void>;
  /** Takes a slot if fewer than `max` unexpired leases are held. */
  acquireStream(key: string, leaseId: string, max: number, leaseMs: number): Promise<boolean>;
  renewStream(key: string, leaseId: string, leaseMs: number): Promise<void>;
  releaseStream(key: string, leaseId: string): Promise<void>;
  /**
   * Records `tokens` (0: none) and drops the request's reservation (`member` under `reservationKey`) in one step,
   * with the request's cost (nano-dollars in a window of the same kind) when given.
   */
  settleReservation(
    tokensKey: string,
    tokens: number,
    windowMs: number,
    reservationKey: string,
    member: string,
    cost?: CostRecord,
  ): Promise<void>;
  /** Extends a reservation still held; one already settled or expired stays gone. */
  renewReservation(reservationKey: string, member: string, leaseMs: number): Promise<void>;
}

/** Adds token buckets recorded elsewhere (bucket index -> tokens, the same bucket length) to a caller's window. */
export interface TokenBucketsReplay {
  addBuckets(key: string, buckets: ReadonlyMap<number, number>, windowMs: number): Promise<void>;
}
