/** One window to check: `limit` requests allowed in the last `windowMs` under `key`. */
export interface WindowRule {
  key: string;
  limit: number;
  windowMs: number;
}

export interface WindowState {
  /** Allowed requests in the window, counting this one if it was allowed. */
  totalHits: number;
  /** Milliseconds until the oldest counted request leaves the window (a slot frees); 0 for an empty window. */
  resetMs: number;
}

export interface ConsumeResult {
  allowed: boolean;
  /** Index into the rules of the first window that refused; -1 when allowed. */
  blockedBy: number;
  /** One per rule, in order. */
  windows: WindowState[];
}

/**
 * An exact sliding-window log where only allowed requests are recorded.
 * `consume` checks every rule at once: the request is allowed only if each window has room,
 * and it is then recorded in all of them; a refused request is recorded in none.
 */
export interface SlidingWindowStore {
  consume(rules: readonly WindowRule[]): Promise<ConsumeResult>;
}
