import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '../auth/auth.guard.js';
import { TierThrottlerGuard } from '../throttling/tier-throttler.guard.js';

/**
 * The module's one global guard: the checks of a request, in an order decided here and nowhere else.
 *
 * 1. Authenticate, with the route's `@RequireScopes()`: the limits need the verified caller (its id keys the windows,
 *    its tier sets them), and a request that is not verified must spend nobody's budget, its own IP's included
 *    beyond the anonymous window of a `@Public()` route.
 * 2. Limits and admission: the request windows, and on `@TokenBudget()`/`@AgentStream()` routes the token budget and
 *    the stream slot with them, in one store call (see TierThrottlerGuard), so that a refusal by any counts in none.
 *
 * One guard rather than two in a provider array: Nest runs global guards in registration order, an order no code
 * states; here it is a line of code, and the second check cannot run without the first.
 */
@Injectable()
export class AdmissionGuard implements CanActivate {
  constructor(
    private readonly authenticate: AuthGuard,
    private readonly limits: TierThrottlerGuard,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const verified = this.authenticate.canActivate(context);
    if (verified === true) return this.limits.canActivate(context);
    if (verified === false) return false;
    return verified.then((ok) => ok && this.limits.canActivate(context));
  }
}
