import type { AgentSecurityConfig } from '../agent-security.config.js';
import { holdQueryToken } from '../auth/query-token.js';
import type { FrontStep } from './front-door.types.js';

/** Takes a token out of the URL and holds it for authentication, where the options allow query tokens; else no step. */
export function queryTokenStep(config: AgentSecurityConfig): FrontStep | undefined {
  return config.jwt.allowQueryToken ? holdQueryToken : undefined;
}
