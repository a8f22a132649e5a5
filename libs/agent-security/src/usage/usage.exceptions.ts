import { HttpException, HttpStatus } from '@nestjs/common';
import { TOKEN_BUDGET_EXCEEDED_MESSAGE, TOO_MANY_STREAMS_MESSAGE } from './usage.constants.js';

export class TokenBudgetExceededException extends HttpException {
  constructor(tokenLimit: number, tokensUsed: number, windowMs: number, retryAfter: number, tier: string) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        message: TOKEN_BUDGET_EXCEEDED_MESSAGE,
        tokenLimit,
        tokensUsed,
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
        maxConcurrentStreams,
        tier,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
