export interface TokenUsage {
  inputTokens?: number;
  outputTokens?: number;
}

/** Tokens a request has used so far; recorded against the caller's budget when the response ends. */
export class UsageMeter {
  inputTokens = 0;
  outputTokens = 0;

  add(usage: TokenUsage): void {
    this.inputTokens += validTokens(usage.inputTokens);
    this.outputTokens += validTokens(usage.outputTokens);
  }

  get total(): number {
    return this.inputTokens + this.outputTokens;
  }
}

/** Only whole, non-negative counts: a handler's bug must not credit a budget back. */
export function validTokens(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

declare module 'http' {
  interface IncomingMessage {
    /** Set on `@TokenBudget()` and `@AgentStream()` routes. */
    usage?: UsageMeter;
  }
}
