import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ChatRequestPipe, type ChatRequest } from './chat-request.pipe.js';
import { StandInModel, type ModelReply } from './stand-in-model.js';

@Controller('agent')
export class AgentController {
  constructor(private readonly model: StandInModel) {}

  @Post('chat')
  @HttpCode(200)
  chat(@Body(ChatRequestPipe) { message }: ChatRequest): ModelReply {
    return this.model.complete(message);
  }
}
