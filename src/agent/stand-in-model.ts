import { Injectable } from '@nestjs/common';

export interface ModelUsage {
  model: string;
  inputTokens: number;
  outputTokens: number;
}

export interface ModelReply {
  reply: string;
  usage: ModelUsage;
}

/**
 * A deterministic stand-in for an LLM: no network, no API key, the same answer for the same input.
 * Tokens are counted as whitespace-separated words, which is all the demo needs.
 */
@Injectable()
export class StandInModel {
  static readonly id = 'stand-in-echo-1';

  /** The reply, cut after `maxTokens` tokens as an LLM API's `max_tokens` cuts it. */
  complete(message: string, maxTokens = Infinity): ModelReply {
    const words = StandInModel.replyTo(message).split(' ');
    const reply = words.length > maxTokens ? words.slice(0, maxTokens).join(' ') : words.join(' ');
    return {
      reply,
      usage: { model: StandInModel.id, inputTokens: countTokens(message), outputTokens: countTokens(reply) },
    };
  }

  /** The most tokens it answers to `message`, known in advance (an echo): what a chat may spend beyond its input. */
  static maxReplyTokens(message: string): number {
    return countTokens(StandInModel.replyTo(message));
  }

  /** The same reply as `complete`, one token at a time. */
  *tokens(message: string): Generator<string> {
    for (const token of StandInModel.replyTo(message).split(' ')) yield token;
  }

  private static replyTo(message: string): string {
    const words = message.trim().split(/\s+/).length;
    return `You said ${words} word${words === 1 ? '' : 's'}. Echo: ${message.trim()}`;
  }
}

export function countTokens(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/).length;
}
