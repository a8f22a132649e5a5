import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AgentPrincipal } from './agent-principal.interface.js';
import { nodeRequest } from '../http/platform-objects.js';

/**
 * The verified caller, or one of its fields: `@CurrentPrincipal() p: AgentPrincipal`, `@CurrentPrincipal('userId') id: string`.
 * Undefined on a `@Public()` route.
 */
export const CurrentPrincipal = createParamDecorator(
  (field: keyof AgentPrincipal | undefined, ctx: ExecutionContext) => {
    const principal = nodeRequest(ctx.getArgByIndex(0)).principal;
    return field && principal ? principal[field] : principal;
  },
);
