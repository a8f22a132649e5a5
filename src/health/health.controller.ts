import { Controller, Get } from '@nestjs/common';
import { Public } from '@agent-security/core';

@Public()
@Controller('health')
export class HealthController {
  @Get()
  check(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
