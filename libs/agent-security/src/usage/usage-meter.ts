export interface TokenUsage {
  inputTokens?: number;
  outputTokens?: number;
}

/** Tokens a request has used so far; recorded against the caller's budget when the response ends. */
export class UsageMeter {
  inputTokens = 0;
  outputTokens = 0;

  add(usage: TokenUsage): void {
    this.inputTokens = Math.min(this.inputTokens + validTokens(usage.inputTokens), MAX_TOKENS);
    this.outputTokens = Math.min(this.outputTokens + validTokens(usage.outputTokens), MAX_TOKENS);
  }

  get total(): number {
    return Math.min(this.inputTokens + this.outputTokens, MAX_TOKENS);
  }
}

/**
 * The most tokens one request records, far beyond any budget: a larger count is sent to Redis as "1e+21" or
 * overflows HINCRBY, the record fails, and the caller would be charged nothing. Below 2^53, so sums stay exact in
 * Lua and in ioredis's reply parser (which reads 2^53 - 1 itself as 2^53).
 */
export const MAX_TOKENS = 1e15;

/** The tokens of one usage report, as a request records them. */
export function totalTokens(usage: TokenUsage): number {
  return Math.min(validTokens(usage.inputTokens) + validTokens(usage.outputTokens), MAX_TOKENS);
}

/** Only whole, non-negative counts: a handler's bug must not credit a budget back. */
export function validTokens(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.min(Math.floor(value), MAX_TOKENS) : 0;
}

declare module 'http' {
  interface IncomingMessage {
    /** Set on `@TokenBudget()` and `@AgentStream()` routes. */
    usage?: UsageMeter;
  }
}
