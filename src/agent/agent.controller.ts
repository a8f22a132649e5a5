import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { Public, Throttle } from '@agent-security/core';
import { ChatRequestPipe, type ChatRequest } from './chat-request.pipe.js';
import { StandInModel, type ModelReply } from './stand-in-model.js';

@Controller('agent')
export class AgentController {
  constructor(private readonly model: StandInModel) {}

  /** Public, so limited per client IP by the `anonymous` tier. */
  @Public()
  @Get('models')
  models(): { models: string[] } {
    return { models: [StandInModel.id] };
  }

  /** Each chat calls the model: at most 10 a minute, on top of the tier budget. */
  @Throttle({ default: { limit: 10, ttl: 60_000 } })
  @Post('chat')
  @HttpCode(200)
  chat(@Body(ChatRequestPipe) { message }: ChatRequest): ModelReply {
    return this.model.complete(message);
  }
}
