import {
  applyDecorators,
  createParamDecorator,
  SetMetadata,
  UseInterceptors,
  type ExecutionContext,
} from '@nestjs/common';
import type { TokenBudgetOptions } from './token-reserve.js';
import { AGENT_STREAM_METADATA, TOKEN_BUDGET_METADATA } from './usage.constants.js';
import type { UsageMeter } from './usage-meter.js';
import { UsageInterceptor } from './usage.interceptor.js';
import { nodeRequest } from '../http/platform-objects.js';

/**
 * The route spends the caller's LLM token budget. At admission the request reserves what it may spend (`reserve`:
 * a number, or a function of the request; 1 token when not given), and is refused (429 "Token budget exceeded")
 * unless the budget covers the tokens used, the reservations in flight and its own. When the response ends, what
 * it spent replaces its reservation: a returned `{ usage: { inputTokens, outputTokens } }` is recorded by itself,
 * and anything added to the request's `@Usage()` meter too. `reserve: 'none'` keeps the soft check (admitted while
 * anything is left) for routes that cannot estimate.
 */
export const TokenBudget = (options: TokenBudgetOptions = {}) =>
  // The interceptor only where it is needed: a global one costs every request an RxJS pipe.
  applyDecorators(SetMetadata(TOKEN_BUDGET_METADATA, options), UseInterceptors(UsageInterceptor));

/**
 * A streamed agent response: one request against the rate limit however long it streams, a slot
 * among the tier's `maxConcurrentStreams` held until it ends (or the client goes away), and a token
 * budget route whose `@Usage()` meter is recorded when the stream ends, also half-way.
 */
export const AgentStream = (options: TokenBudgetOptions = {}) =>
  applyDecorators(TokenBudget(options), SetMetadata(AGENT_STREAM_METADATA, true));

/** The request's usage meter on a `@TokenBudget()` or `@AgentStream()` route. */
export const Usage = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): UsageMeter | undefined => nodeRequest(ctx.getArgByIndex(0)).usage,
);
