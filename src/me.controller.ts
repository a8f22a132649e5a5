import { Controller, Get } from '@nestjs/common';
import { CurrentPrincipal, type AgentPrincipal } from '@agent-security/core';

@Controller('me')
export class MeController {
  @Get()
  me(@CurrentPrincipal() principal: AgentPrincipal): { userId: string; tier: string } {
    return { userId: principal.userId, tier: principal.tier };
  }
}
