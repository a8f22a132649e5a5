import type { AgentSecurityConfig } from '../agent-security.config.js';
import { assignRequestId, trustsIncomingRequestId } from '../logging/request-id.js';
import type { FrontStep } from './front-door.types.js';

/** Gives the request its `X-Request-ID` (the incoming one only where the options trust it). */
export function requestIdStep(config: AgentSecurityConfig): FrontStep {
  const trustIncoming = trustsIncomingRequestId(config);
  return (request, response) => {
    assignRequestId(request, response, trustIncoming);
  };
}
