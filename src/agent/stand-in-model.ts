import { Injectable } from '@nestjs/common';

export interface ModelUsage {
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

  complete(message: string): ModelReply {
    const reply = this.replyTo(message);
    return { reply, usage: { inputTokens: countTokens(message), outputTokens: countTokens(reply) } };
  }

  /** The same reply as `complete`, one token at a time. */
  *tokens(message: string): Generator<string> {
    for (const token of this.replyTo(message).split(' ')) yield token;
  }

  private replyTo(message: string): string {
    const words = message.trim().split(/\s+/).length;
    return `You said ${words} word${words === 1 ? '' : 's'}. Echo: ${message.trim()}`;
  }
}

export function countTokens(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/).length;
}
