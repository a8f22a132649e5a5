import { HttpException, HttpStatus } from '@nestjs/common';
import { RATE_LIMIT_EXCEEDED_MESSAGE } from './throttling.constants.js';

export interface RateLimitExceededBody {
  statusCode: 429;
  error: 'Too Many Requests';
  message: string;
  code: 'rate_limited';
  /** Requests allowed in the window that refused. */
  limit: number;
  /** That window's length, e.g. "3600s". */
  window: string;
  /** Seconds until the oldest counted request leaves the window; also in Retry-After. */
  retryAfter: number;
  /** The caller's tier, or "anonymous" on public routes. */
  tier: string;
}

export class RateLimitExceededException extends HttpException {
  constructor(
    limit: number,
    windowMs: number,
    retryAfter: number,
    tier: string,
    message = RATE_LIMIT_EXCEEDED_MESSAGE,
  ) {
    const body: RateLimitExceededBody = {
      statusCode: HttpStatus.TOO_MANY_REQUESTS,
      error: 'Too Many Requests',
      message,
      code: 'rate_limited',
      limit,
      window: `${windowMs / 1000}s`,
      retryAfter,
      tier,
    };
    super(body, HttpStatus.TOO_MANY_REQUESTS);
  }
}
