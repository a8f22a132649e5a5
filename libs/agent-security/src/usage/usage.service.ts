import { Inject, Injectable } from '@nestjs/common';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import type { AgentPrincipal } from '../auth/agent-principal.interface.js';
import { KeySpace } from '../keys/key-space.js';
import { AGENT_SECURITY_USAGE_STORE } from './usage.constants.js';
import { costNanoUsd, formatUsd, UnknownModelError } from './cost.js';
import { totalTokens, validTokens, type TokenUsage } from './usage-meter.js';
import type { CostRecord, UsageStore } from './usage-store.interface.js';

export interface TokenBudgetState {
  limit: number;
  used: number;
  remaining: number;
  windowMs: number;
  /** Milliseconds until the oldest counted usage leaves the window. */
  resetMs: number;
}

export interface CostBudgetState {
  /** Dollars as exact decimal strings ("0.31"), from whole nano-dollars. */
  limitUsd: string;
  usedUsd: string;
  remainingUsd: string;
  windowMs: number;
  resetMs: number;
}

/**
 * Records LLM usage against the caller's tier budgets: `usage.record(principal, { model, inputTokens, outputTokens })`
 * adds the tokens to a token budget and their price to a cost budget.
 */
@Injectable()
export class UsageService {
  private readonly keys: KeySpace;

  constructor(
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
    @Inject(AGENT_SECURITY_USAGE_STORE) private readonly store: UsageStore,
  ) {
    this.keys = new KeySpace(config.throttling.keyPrefix);
  }

  /**
   * Adds tokens to the caller's token budget and their price to its cost budget; a tier without either records
   * nothing of it. A model without a price is an error (never a free call), as is no model where the tier has a
   * cost budget.
   */
  async record(principal: AgentPrincipal, usage: TokenUsage): Promise<void> {
    const budget = this.config.tiers.get(principal.tier)?.tokens;
    const cost = this.cost(principal, usage);
    const tokens = totalTokens(usage);
    await Promise.all([
      budget === undefined || tokens === 0
        ? undefined
        : this.store.recordTokens(this.tokensKey(principal), tokens, budget.windowMs),
      cost === undefined || cost.amount === 0
        ? undefined
        : this.store.recordTokens(cost.key, cost.amount, cost.windowMs),
    ]);
  }

  /** The price of `usage` for the caller's cost budget, or undefined when its tier has none (checked as record does). */
  cost(principal: AgentPrincipal, usage: TokenUsage): CostRecord | undefined {
    const price = usage.model === undefined ? undefined : this.config.pricing.get(usage.model);
    if (usage.model !== undefined && price === undefined)
      throw new UnknownModelError(usage.model, this.config.pricing.keys());
    const budget = this.config.costBudgets.get(principal.tier);
    if (budget === undefined) return undefined;
    if (price === undefined) {
      throw new Error(
        `Usage of tier "${principal.tier}" names no model: its cost budget needs one to price the tokens (usage.add({ model, ... }))`,
      );
    }
    const amount = costNanoUsd(
      price,
      validTokens(usage.inputTokens),
      validTokens(usage.outputTokens),
      validTokens(usage.cachedInputTokens),
    );
    return { key: this.keys.cost(principal.userId), amount, windowMs: budget.windowMs };
  }

  /** The caller's cost budget now, or undefined when the tier has none. */
  async costBudget(principal: AgentPrincipal): Promise<CostBudgetState | undefined> {
    const budget = this.config.costBudgets.get(principal.tier);
    if (budget === undefined) return undefined;
    const { used, resetMs } = await this.store.tokens(this.keys.cost(principal.userId), budget.windowMs);
    const remaining = Math.max(0, budget.limitNanoUsd - used);
    return {
      limitUsd: formatUsd(budget.limitNanoUsd),
      usedUsd: formatUsd(used),
      remainingUsd: formatUsd(remaining),
      windowMs: budget.windowMs,
      resetMs,
    };
  }

  /** The caller's budget now, or undefined when the tier has none. */
  async budget(principal: AgentPrincipal): Promise<TokenBudgetState | undefined> {
    const budget = this.config.tiers.get(principal.tier)?.tokens;
    if (budget === undefined) return undefined;
    const { used, resetMs } = await this.store.tokens(this.tokensKey(principal), budget.windowMs);
    return {
      limit: budget.limit,
      used,
      remaining: Math.max(0, budget.limit - used),
      windowMs: budget.windowMs,
      resetMs,
    };
  }

  private tokensKey(principal: AgentPrincipal): string {
    return this.keys.tokens(principal.userId);
  }
}
