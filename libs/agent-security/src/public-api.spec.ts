// The root entry is a promise to users: this list changes only on purpose. The type imports are checked by
// `npm run typecheck` (tsconfig.spec.json).
import * as api from '@agent-security/core';
import type {
  AgentClaims,
  AgentPrincipal,
  AgentSecurityAsyncOptions,
  AgentSecurityOptions,
  CorsOptions,
  CostBudgetLimits,
  CostBudgetState,
  EnforcementMode,
  ErrorBody,
  ErrorCode,
  JwtOptions,
  LoggingOptions,
  MemoryThrottlerStorageOptions,
  ModelPrice,
  RateLimitExceededBody,
  RateLimitStoreHealth,
  RedisThrottlerStorageOptions,
  StoreErrorPolicy,
  StreamOptions,
  ThrottlingOptions,
  TierLimits,
  TokenBudgetLimits,
  TokenBudgetOptions,
  TokenBudgetState,
  TokenReserve,
  TokenUsage,
} from '@agent-security/core';

describe('the public API', () => {
  it('exports the module, decorators, services, exceptions, health indicator and storages, nothing else', () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        'AgentSecurityModule',
        'AgentSecurityConfigError',
        'Public',
        'CurrentPrincipal',
        'RequireScopes',
        'Throttle',
        'SkipThrottle',
        'TokenBudget',
        'AgentStream',
        'Usage',
        'UsageMeter',
        'UsageService',
        'RateLimitStoreHealthIndicator',
        'RateLimitExceededException',
        'TokenBudgetExceededException',
        'CostBudgetExceededException',
        'TooManyStreamsException',
        'ClientClosedRequestException',
        'RedisThrottlerStorage',
        'MemoryThrottlerStorage',
      ].sort(),
    );
  });

  it('names the option types, the budget limits apart from the @TokenBudget() decorator', () => {
    const budget: TokenBudgetLimits = { limit: 10_000, windowMs: 60_000 };
    const tier: TierLimits = { limit: 20, windowMs: 60_000, tokens: budget };
    const options: AgentSecurityOptions = { jwt: { secret: 'x'.repeat(32) }, tiers: { free: tier } };
    const async: AgentSecurityAsyncOptions = { useFactory: () => options };
    const code: ErrorCode = 'rate_limited';
    expect([typeof api.TokenBudget, async.useFactory?.(), code]).toEqual(['function', options, 'rate_limited']);
  });
});

// Every public type resolves (a missing one fails the type check).
export type PublicTypes = [
  AgentClaims,
  AgentPrincipal,
  CorsOptions,
  ErrorBody,
  JwtOptions,
  LoggingOptions,
  MemoryThrottlerStorageOptions,
  RateLimitExceededBody,
  RateLimitStoreHealth,
  RedisThrottlerStorageOptions,
  StoreErrorPolicy,
  StreamOptions,
  ThrottlingOptions,
  TokenBudgetState,
  TokenUsage,
  CostBudgetLimits,
  CostBudgetState,
  EnforcementMode,
  ModelPrice,
  TokenBudgetOptions,
  TokenReserve,
];
