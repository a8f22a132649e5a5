import { Body, Controller, Get, HttpCode, Inject, Post, Query, Sse, type MessageEvent } from '@nestjs/common';
import { AgentStream, Public, Throttle, TokenBudget, Usage, UsageMeter } from '@agent-security/core';
import { concatMap, from, of, delay, type Observable } from 'rxjs';
import { DEMO_CONFIG, type DemoConfig } from '../demo-config.js';
import { ChatRequestPipe, MAX_MAX_TOKENS, MAX_MESSAGE_LENGTH, type ChatRequest } from './chat-request.pipe.js';
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

  /**
   * Each chat calls the model: at most 10 a minute on top of the tier budget. It reserves what it may spend (its
   * input and `max_tokens`, or without it the most the model answers), and the returned usage replaces the
   * reservation: concurrent chats cannot spend past the budget.
   */
  @Throttle({ default: { limit: 10, ttl: 60_000 } })
  @TokenBudget({ reserve: (req) => chatReservation(req.body) })
  @Post('chat')
  @HttpCode(200)
  chat(@Body(ChatRequestPipe) { message, max_tokens }: ChatRequest): ModelReply {
    return this.model.complete(message, max_tokens);
  }

  /**
   * The reply as server-sent events, one token each: one request against the rate limit, a stream slot
   * while it runs, and the tokens sent so far billed when it ends, even if the client leaves half-way.
   */
  @AgentStream()
  @Sse('stream')
  stream(@Query('message') message: unknown, @Usage() usage: UsageMeter): Observable<MessageEvent> {
    const { message: text } = new ChatRequestPipe().transform({ message });
    usage.add({ model: StandInModel.id, inputTokens: countTokens(text) });
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

/**
 * Input + max_tokens, read from the body before its pipe validates it (the guards run first): a body the pipe will
 * refuse reserves 1 token, and its 400 spends none.
 */
function chatReservation(body: unknown): number {
  const { message, max_tokens } = (typeof body === 'object' && body !== null ? body : {}) as {
    message?: unknown;
    max_tokens?: unknown;
  };
  if (typeof message !== 'string' || message.length > MAX_MESSAGE_LENGTH) return 1;
  const reply = StandInModel.maxReplyTokens(message);
  if (max_tokens === undefined) return countTokens(message) + reply;
  if (!(Number.isInteger(max_tokens) && (max_tokens as number) >= 1 && (max_tokens as number) <= MAX_MAX_TOKENS))
    return 1;
  return countTokens(message) + Math.min(max_tokens as number, reply);
}
