// The public API. Everything not exported here is internal and may change in any release.
export { AgentSecurityModule } from './agent-security.module.js';
export type { AgentSecurityAsyncOptions } from './agent-security.module-definition.js';
export type {
  AgentSecurityOptions,
  ClaimNames,
  ClaimsMapper,
  CorsOptions,
  CostBudgetLimits,
  EnforcementMode,
  JwksOptions,
  JwtAlgorithm,
  JwtOptions,
  MappedClaims,
  LoggingOptions,
  ModelPrice,
  StoreErrorPolicy,
  StreamOptions,
  ThrottlingOptions,
  TierLimits,
  TokenBudgetLimits,
} from './agent-security-options.interface.js';
export { AgentSecurityConfigError } from './agent-security.config.js';

export { Public } from './auth/public.decorator.js';
export { CurrentPrincipal } from './auth/current-principal.decorator.js';
export { RequireScopes } from './auth/scopes.decorator.js';
export type { AgentPrincipal, AgentClaims } from './auth/agent-principal.interface.js';

// Re-exported so that an app imports its route-level controls from one place.
export { Throttle, SkipThrottle } from '@nestjs/throttler';
export { RateLimitExceededException, type RateLimitExceededBody } from './throttling/rate-limit.exception.js';
export { RateLimitStoreHealthIndicator, type RateLimitStoreHealth } from './throttling/rate-limit-store.health.js';
// For apps that use @nestjs/throttler's own ThrottlerModule with this module's sliding window.
export { RedisThrottlerStorage, type RedisThrottlerStorageOptions } from './throttling/redis-throttler.storage.js';
export { MemoryThrottlerStorage, type MemoryThrottlerStorageOptions } from './throttling/memory-throttler.storage.js';

export { TokenBudget, AgentStream, Usage } from './usage/usage.decorators.js';
export type { TokenBudgetOptions, TokenReserve } from './usage/token-reserve.js';
export { UsageMeter, type TokenUsage } from './usage/usage-meter.js';
export { UsageService, type CostBudgetState, type TokenBudgetState } from './usage/usage.service.js';
export {
  ClientClosedRequestException,
  CostBudgetExceededException,
  TokenBudgetExceededException,
  TooManyStreamsException,
} from './usage/usage.exceptions.js';

export type { ErrorBody } from './errors/http-exception.filter.js';
export type { ErrorCode } from './errors/error-code.js';
