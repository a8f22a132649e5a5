import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { IncomingMessage } from 'http';
import { tap, type Observable } from 'rxjs';

/** On budgeted routes, a handler's returned `{ usage: { inputTokens, outputTokens } }` goes onto the request's meter. */
@Injectable()
export class UsageInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const meter = context.getArgByIndex<IncomingMessage>(0).usage;
    if (meter === undefined) return next.handle();
    return next.handle().pipe(
      tap((result) => {
        if (typeof result === 'object' && result !== null && 'usage' in result && typeof result.usage === 'object' && result.usage !== null) {
          meter.add(result.usage);
        }
      }),
    );
  }
}
