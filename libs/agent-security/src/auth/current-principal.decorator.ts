import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'http';
import type { AgentPrincipal } from './agent-principal.interface.js';

/**
 * The verified caller, or one of its fields: `@CurrentPrincipal() p: AgentPrincipal`, `@CurrentPrincipal('userId') id: string`.
 * Undefined on a `@Public()` route.
 */
export const CurrentPrincipal = createParamDecorator(
  (field: keyof AgentPrincipal | undefined, ctx: ExecutionContext) => {
    const principal = ctx.getArgByIndex<IncomingMessage>(0).principal;
    return field && principal ? principal[field] : principal;
  },
);
