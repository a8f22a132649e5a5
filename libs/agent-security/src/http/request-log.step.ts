import type { Logger } from 'pino';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { completionLog, loggerParams, requestLoggerBinding } from '../logging/logger-options.js';
import { startRequestLog } from '../logging/request-logger.js';
import type { FrontHandler, FrontStep } from './front-door.types.js';

/** The request's logger and its completion line; no step when the module writes no logs. */
export function requestLogStep(config: AgentSecurityConfig, root: Logger | undefined): FrontStep | undefined {
  if (root === undefined) return undefined;
  const completion = completionLog(config, root);
  return (request, response) => startRequestLog(root, completion, request, response);
}

/** nestjs-pino's request logger bound around the rest of the request (its async context); none without logs. */
export function loggerBindingStep(root: Logger | undefined): FrontHandler | undefined {
  // Bound here, not through Nest's middleware router (see requestLoggerBinding).
  return root === undefined ? undefined : requestLoggerBinding(loggerParams(root));
}
