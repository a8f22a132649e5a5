import { Inject, Injectable } from '@nestjs/common';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import type { AgentPrincipal } from '../auth/agent-principal.interface.js';
import { KeySpace } from '../keys/key-space.js';
import { AGENT_SECURITY_USAGE_STORE } from './usage.constants.js';
import { totalTokens, type TokenUsage } from './usage-meter.js';
import type { UsageStore } from './usage-store.interface.js';

export interface TokenBudgetState {
  limit: number;
  used: number;
  remaining: number;
  windowMs: number;
  /** Milliseconds until the oldest counted usage leaves the window. */
  resetMs: number;
}

/** Records LLM token usage against the caller's tier budget: `usage.record(principal, { inputTokens, outputTokens })`. */
@Injectable()
export class UsageService {
  private readonly keys: KeySpace;

  constructor(
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
    @Inject(AGENT_SECURITY_USAGE_STORE) private readonly store: UsageStore,
  ) {
    this.keys = new KeySpace(config.throttling.keyPrefix);
  }

  /** Adds tokens to the caller's budget window. A tier without a token budget records nothing. */
  async record(principal: AgentPrincipal, usage: TokenUsage): Promise<void> {
    const budget = this.config.tiers.get(principal.tier)?.tokens;
    const tokens = totalTokens(usage);
    if (budget === undefined || tokens === 0) return;
    await this.store.recordTokens(this.tokensKey(principal), tokens, budget.windowMs);
  }

  /** The caller's budget now, or undefined when the tier has none. */
  async budget(principal: AgentPrincipal): Promise<TokenBudgetState | undefined> {
    const budget = this.config.tiers.get(principal.tier)?.tokens;
    if (budget === undefined) return undefined;
    const { used, resetMs } = await this.store.tokens(this.tokensKey(principal), budget.windowMs);
    return { limit: budget.limit, used, remaining: Math.max(0, budget.limit - used), windowMs: budget.windowMs, resetMs };
  }

  private tokensKey(principal: AgentPrincipal): string {
    return this.keys.tokens(principal.userId);
  }
}
