export { AgentSecurityModule } from './agent-security.module.js';
export { AGENT_SECURITY_OPTIONS, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } from './agent-security.module-definition.js';
export type * from './agent-security-options.interface.js';
export { AgentSecurityConfigError, resolveAgentSecurityConfig, type AgentSecurityConfig } from './agent-security.config.js';
export { AGENT_SECURITY_CONFIG, ANONYMOUS_TIER, DEFAULT_TIERS } from './agent-security.constants.js';

export { AuthGuard } from './auth/auth.guard.js';
export { Public, IS_PUBLIC_KEY } from './auth/public.decorator.js';
export { CurrentPrincipal } from './auth/current-principal.decorator.js';
export type { AgentPrincipal, AgentClaims } from './auth/agent-principal.interface.js';
export { TokenVerifier } from './auth/token-verifier.js';
export { MISSING_TOKEN_MESSAGE, EXPIRED_TOKEN_MESSAGE, INVALID_TOKEN_MESSAGE } from './auth/auth.constants.js';
