import { applyDecorators, createParamDecorator, SetMetadata, UseInterceptors, type ExecutionContext } from '@nestjs/common';
import { AGENT_STREAM_METADATA, TOKEN_BUDGET_METADATA } from './usage.constants.js';
import type { UsageMeter } from './usage-meter.js';
import { UsageInterceptor } from './usage.interceptor.js';
import { nodeRequest } from '../http/platform-objects.js';

/**
 * The route spends the caller's LLM token budget: the remaining budget is checked before the handler
 * runs (429 "Token budget exceeded" when it is spent), and the tokens are recorded when the response
 * ends: a returned `{ usage: { inputTokens, outputTokens } }` is recorded by itself, and anything
 * added to the request's `@Usage()` meter too.
 */
export const TokenBudget = () =>
  // The interceptor only where it is needed: a global one costs every request an RxJS pipe.
  applyDecorators(SetMetadata(TOKEN_BUDGET_METADATA, true), UseInterceptors(UsageInterceptor));

/**
 * A streamed agent response: one request against the rate limit however long it streams, a slot
 * among the tier's `maxConcurrentStreams` held until it ends (or the client goes away), and a token
 * budget route whose `@Usage()` meter is recorded when the stream ends, also half-way.
 */
export const AgentStream = () => applyDecorators(TokenBudget(), SetMetadata(AGENT_STREAM_METADATA, true));

/** The request's usage meter on a `@TokenBudget()` or `@AgentStream()` route. */
export const Usage = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): UsageMeter | undefined => nodeRequest(ctx.getArgByIndex(0)).usage,
);
