export { AgentSecurityModule } from './agent-security.module.js';
export { AGENT_SECURITY_OPTIONS, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } from './agent-security.module-definition.js';
export type * from './agent-security-options.interface.js';
export { AgentSecurityConfigError, resolveAgentSecurityConfig, type AgentSecurityConfig } from './agent-security.config.js';
export { AGENT_SECURITY_CONFIG, ANONYMOUS_TIER, DEFAULT_TIERS } from './agent-security.constants.js';

export { AuthGuard } from './auth/auth.guard.js';
export { Public, IS_PUBLIC_KEY } from './auth/public.decorator.js';
export { CurrentPrincipal } from './auth/current-principal.decorator.js';
export { RequireScopes } from './auth/scopes.decorator.js';
export type { AgentPrincipal, AgentClaims } from './auth/agent-principal.interface.js';
export { TokenVerifier } from './auth/token-verifier.js';
export { MISSING_TOKEN_MESSAGE, EXPIRED_TOKEN_MESSAGE, INVALID_TOKEN_MESSAGE } from './auth/auth.constants.js';

export { TierThrottlerGuard } from './throttling/tier-throttler.guard.js';
export { RedisThrottlerStorage, type RedisThrottlerStorageOptions } from './throttling/redis-throttler.storage.js';
export { InvalidWindowRuleError } from './throttling/invalid-window-rule.error.js';
export { MemoryThrottlerStorage, type MemoryThrottlerStorageOptions } from './throttling/memory-throttler.storage.js';
export type { SlidingWindowStore, WindowRule, WindowState, ConsumeResult } from './throttling/sliding-window.interface.js';
export { RateLimitExceededException, type RateLimitExceededBody } from './throttling/rate-limit.exception.js';
export { AGENT_SECURITY_STORE } from './throttling/throttling.constants.js';
export { RedisConnection } from './throttling/redis-connection.js';
export { FailoverStore, type StoreState, STORE_UNAVAILABLE_MESSAGE } from './throttling/failover.store.js';
export { RateLimitStoreHealthIndicator, type RateLimitStoreHealth } from './throttling/rate-limit-store.health.js';
// Re-exported so that an app imports its route-level controls from one place.
export { Throttle, SkipThrottle } from '@nestjs/throttler';

export { TokenBudget, AgentStream, Usage } from './usage/usage.decorators.js';
export { UsageMeter, type TokenUsage } from './usage/usage-meter.js';
export { UsageService, type TokenBudgetState } from './usage/usage.service.js';
export { TokenBudgetGuard } from './usage/token-budget.guard.js';
export { ClientClosedRequestException, TokenBudgetExceededException, TooManyStreamsException } from './usage/usage.exceptions.js';
export type { UsageStore, TokenWindow } from './usage/usage-store.interface.js';
export { RedisUsageStore } from './usage/redis-usage.store.js';
export { MemoryUsageStore } from './usage/memory-usage.store.js';
export { AGENT_SECURITY_USAGE_STORE, TOKEN_BUDGET_EXCEEDED_MESSAGE, TOO_MANY_STREAMS_MESSAGE } from './usage/usage.constants.js';

export { HttpExceptionFilter, type ErrorBody } from './errors/http-exception.filter.js';
export { RequestContextMiddleware } from './logging/request-context.middleware.js';
export { assignRequestId, isSafeRequestId, REQUEST_ID_HEADER } from './logging/request-id.js';
export { createRootLogger, loggerParams, logDestination, DEFAULT_REDACT_PATHS } from './logging/logger-options.js';
export { BatchedDestination, type BatchedDestinationOptions } from './logging/batched.destination.js';
export { AGENT_SECURITY_LOG_DESTINATION, AGENT_SECURITY_LOGGER } from './logging/logging.constants.js';
export { CorsMiddleware } from './cors/cors.middleware.js';
export { corsPolicy, DEFAULT_CORS_ALLOWED_HEADERS, DEFAULT_CORS_EXPOSED_HEADERS, DEFAULT_CORS_METHODS } from './cors/cors-policy.js';
