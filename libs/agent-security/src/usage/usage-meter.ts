import { UnknownModelError } from './cost.js';

export interface TokenUsage {
  /** The model called, one of the module's `pricing`: required where the caller's tier has a cost budget. */
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  /** Input tokens read from the provider's prompt cache, reported apart from `inputTokens`; they count as tokens too. */
  cachedInputTokens?: number;
}

/**
 * Tokens a request has used so far, and the model they were used with; recorded against the caller's budgets when
 * the response ends. One meter is priced at one model, the last one named: a request that calls several models
 * records each call with `UsageService.record` instead.
 */
export class UsageMeter {
  inputTokens = 0;
  outputTokens = 0;
  cachedInputTokens = 0;
  model: string | undefined;

  /** `priced`: the models with a price (the module's meters get it), so that an unknown one fails at once. */
  constructor(private readonly priced?: { has(model: string): boolean; keys(): Iterable<string> }) {}

  add(usage: TokenUsage): void {
    if (usage.model !== undefined) {
      if (typeof usage.model !== 'string' || (this.priced !== undefined && !this.priced.has(usage.model))) {
        throw new UnknownModelError(usage.model, this.priced?.keys() ?? []);
      }
      this.model = usage.model;
    }
    this.inputTokens = Math.min(this.inputTokens + validTokens(usage.inputTokens), MAX_TOKENS);
    this.outputTokens = Math.min(this.outputTokens + validTokens(usage.outputTokens), MAX_TOKENS);
    this.cachedInputTokens = Math.min(this.cachedInputTokens + validTokens(usage.cachedInputTokens), MAX_TOKENS);
  }

  get total(): number {
    return Math.min(this.inputTokens + this.outputTokens + this.cachedInputTokens, MAX_TOKENS);
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
  return Math.min(
    validTokens(usage.inputTokens) + validTokens(usage.outputTokens) + validTokens(usage.cachedInputTokens),
    MAX_TOKENS,
  );
}

/** Only whole, non-negative counts: a handler's bug must not credit a budget back. */
export function validTokens(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.min(Math.floor(value), MAX_TOKENS) : 0;
}

declare module 'http' {
  interface IncomingMessage {
    /** Set on `@TokenBudget()` and `@AgentStream()` routes. */
    usage?: UsageMeter;
    /** Report mode: the code the request's refusal would have had, for its completion line. */
    wouldRefuse?: string;
  }
}
