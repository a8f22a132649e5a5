import { HttpStatus, ServiceUnavailableException } from '@nestjs/common';

/** The rate-limit or usage store cannot be reached and the policy is `deny`. */
export class StoreUnavailableException extends ServiceUnavailableException {
  constructor(message: string) {
    super({ statusCode: HttpStatus.SERVICE_UNAVAILABLE, error: 'Service Unavailable', message, code: 'store_unavailable' });
  }
}
