import { Controller, Get, HttpCode, HttpStatus, Res } from '@nestjs/common';
import { Public, RateLimitStoreHealthIndicator, SkipThrottle, type RateLimitStoreHealth } from '@agent-security/core';

/** Public and unthrottled: load balancers poll it. */
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(private readonly store: RateLimitStoreHealthIndicator) {}

  @Get()
  check(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness (`status()` is Express's response's and Fastify's reply's alike): 503 while Redis is unreachable, with what enforces the limits meanwhile. */
  @Get('ready')
  @HttpCode(HttpStatus.OK)
  ready(@Res({ passthrough: true }) response: { status(code: number): unknown }): {
    status: 'ok' | 'degraded';
    rateLimitStore: RateLimitStoreHealth;
  } {
    const { rateLimitStore } = this.store.check('rateLimitStore');
    if (rateLimitStore.status === 'down') response.status(HttpStatus.SERVICE_UNAVAILABLE);
    return { status: rateLimitStore.status === 'up' ? 'ok' : 'degraded', rateLimitStore };
  }
}
