import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';

export const MAX_MESSAGE_LENGTH = 4000;

/** The largest `max_tokens` a chat may ask for. */
export const MAX_MAX_TOKENS = 100_000;

export interface ChatRequest {
  message: string;
  /** Output cap, as in an LLM API's chat body; unset: the model's own length. */
  max_tokens?: number;
}

/** Validates `POST /agent/chat` bodies by hand: the demo needs one field, not a validation framework. */
@Injectable()
export class ChatRequestPipe implements PipeTransform<unknown, ChatRequest> {
  transform(body: unknown): ChatRequest {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BadRequestException('Body must be a JSON object: { "message": string }');
    }
    const { message, max_tokens } = body as { message?: unknown; max_tokens?: unknown };
    if (message === undefined) throw new BadRequestException('"message" is required');
    if (typeof message !== 'string') throw new BadRequestException('"message" must be a string');
    if (message.trim() === '') throw new BadRequestException('"message" must not be empty');
    if (message.length > MAX_MESSAGE_LENGTH) {
      throw new BadRequestException(`"message" must be at most ${MAX_MESSAGE_LENGTH} characters`);
    }
    if (
      max_tokens !== undefined &&
      !(Number.isInteger(max_tokens) && (max_tokens as number) >= 1 && (max_tokens as number) <= MAX_MAX_TOKENS)
    ) {
      throw new BadRequestException(`"max_tokens" must be a whole number from 1 to ${MAX_MAX_TOKENS}`);
    }
    return max_tokens === undefined ? { message } : { message, max_tokens: max_tokens as number };
  }
}
