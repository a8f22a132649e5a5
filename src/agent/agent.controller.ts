import { Body, Controller, Get, HttpCode, Inject, Post, Query, Sse, type MessageEvent } from '@nestjs/common';
import { AgentStream, Public, Throttle, TokenBudget, Usage, UsageMeter } from '@agent-security/core';
import { concatMap, from, of, delay, type Observable } from 'rxjs';
import { DEMO_CONFIG, type DemoConfig } from '../demo-config.js';
import { ChatRequestPipe, type ChatRequest } from './chat-request.pipe.js';
import { countTokens, StandInModel, type ModelReply } from './stand-in-model.js';

@Controller('agent')
export class AgentController {
  constructor(
    private readonly model: StandInModel,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
  ) {}

  /** Public, so limited per client IP by the `anonymous` tier. */
  @Public()
  @Get('models')
  models(): { models: string[] } {
    return { models: [StandInModel.id] };
  }

  /** Each chat calls the model: at most 10 a minute on top of the tier budget; the returned usage is billed. */
  @Throttle({ default: { limit: 10, ttl: 60_000 } })
  @TokenBudget()
  @Post('chat')
  @HttpCode(200)
  chat(@Body(ChatRequestPipe) { message }: ChatRequest): ModelReply {
    return this.model.complete(message);
  }

  /**
   * The reply as server-sent events, one token each: one request against the rate limit, a stream slot
   * while it runs, and the tokens sent so far billed when it ends, even if the client leaves half-way.
   */
  @AgentStream()
  @Sse('stream')
  stream(@Query('message') message: unknown, @Usage() usage: UsageMeter): Observable<MessageEvent> {
    const { message: text } = new ChatRequestPipe().transform({ message });
    usage.add({ inputTokens: countTokens(text) });
    const pause = this.config.streamTokenDelayMs;
    return from([...this.model.tokens(text)]).pipe(
      concatMap((token) => of(token).pipe(delay(pause))),
      concatMap((token) => {
        usage.add({ outputTokens: 1 });
        return of({ data: { token } } as MessageEvent);
      }),
    );
  }
}
