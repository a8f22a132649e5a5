import { HttpException, HttpStatus } from '@nestjs/common';
import {
  COST_BUDGET_EXCEEDED_MESSAGE,
  TOKEN_BUDGET_EXCEEDED_MESSAGE,
  TOO_MANY_STREAMS_MESSAGE,
} from './usage.constants.js';
import { formatUsd } from './cost.js';

export class TokenBudgetExceededException extends HttpException {
  constructor(
    tokenLimit: number,
    tokensUsed: number,
    windowMs: number,
    retryAfter: number,
    tier: string,
    tokensReserved = 0,
    tokensRequested?: number,
  ) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        message: TOKEN_BUDGET_EXCEEDED_MESSAGE,
        code: 'token_budget_exceeded',
        tokenLimit,
        tokensUsed,
        // Held by the caller's requests in flight, and what this one asked to hold.
        tokensReserved,
        ...(tokensRequested === undefined ? {} : { tokensRequested }),
        window: `${windowMs / 1000}s`,
        retryAfter,
        tier,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

export class CostBudgetExceededException extends HttpException {
  /** Amounts in nano-dollars; the body gives them in dollars, as exact decimal strings. */
  constructor(limitNanoUsd: number, usedNanoUsd: number, windowMs: number, retryAfter: number, tier: string) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        message: COST_BUDGET_EXCEEDED_MESSAGE,
        code: 'cost_budget_exceeded',
        costLimitUsd: formatUsd(limitNanoUsd),
        costUsedUsd: formatUsd(usedNanoUsd),
        window: `${windowMs / 1000}s`,
        retryAfter,
        tier,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

export class TooManyStreamsException extends HttpException {
  constructor(maxConcurrentStreams: number, tier: string) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        message: TOO_MANY_STREAMS_MESSAGE,
        code: 'too_many_streams',
        maxConcurrentStreams,
        tier,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/**
 * The client left before its budgeted handler ran: the handler is not run (no one would read its answer, and its LLM
 * calls would be recorded by no one). 499 as nginx logs it, so metrics do not count a refusal; nothing reaches the client.
 */
export class ClientClosedRequestException extends HttpException {
  constructor() {
    super(
      {
        statusCode: 499,
        error: 'Client Closed Request',
        message: 'The client closed the request before it was handled',
        code: 'client_closed_request',
      },
      499,
    );
  }
}
