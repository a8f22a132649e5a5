import { Controller, Get } from '@nestjs/common';
import { Public, SkipThrottle } from '@agent-security/core';

/** Public and unthrottled: load balancers poll it. */
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  @Get()
  check(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
