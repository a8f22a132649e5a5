import { HttpException, HttpStatus } from '@nestjs/common';

export const STORE_UNAVAILABLE_MESSAGE = 'Rate limiting is unavailable; try again shortly';

/**
 * The `deny` policy's answer while Redis is down: an expected refusal, like a 429, not a crash. The outage itself is
 * logged once when it starts and once when it ends; each refused request only gets its completion line, no stack.
 */
export class StoreUnavailableException extends HttpException {
  constructor() {
    super(
      {
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: 'Service Unavailable',
        message: STORE_UNAVAILABLE_MESSAGE,
        code: 'store_unavailable',
      },
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}
