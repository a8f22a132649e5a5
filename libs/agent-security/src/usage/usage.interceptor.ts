import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { tap, type Observable } from 'rxjs';
import { ClientClosedRequestException } from './usage.exceptions.js';
import { nodeRequest, nodeResponse } from '../http/platform-objects.js';

/**
 * On budgeted routes, a handler's returned `{ usage: { inputTokens, outputTokens } }` goes onto the request's meter,
 * and a handler whose client has left is not run.
 */
@Injectable()
export class UsageInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const meter = nodeRequest(context.getArgByIndex(0)).usage;
    if (meter === undefined) return next.handle();
    // The last step before the handler: a client that left during any guard's wait (the request throttle's too) is
    // past its 'close', so the tokens its handler spent would never be recorded.
    if (nodeResponse(context.getArgByIndex(1)).destroyed) throw new ClientClosedRequestException();
    return next.handle().pipe(
      tap((result) => {
        if (
          typeof result === 'object' &&
          result !== null &&
          'usage' in result &&
          typeof result.usage === 'object' &&
          result.usage !== null
        ) {
          meter.add(result.usage);
        }
      }),
    );
  }
}
