import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';

export const MAX_MESSAGE_LENGTH = 4000;

export interface ChatRequest {
  message: string;
}

/** Validates `POST /agent/chat` bodies by hand: the demo needs one field, not a validation framework. */
@Injectable()
export class ChatRequestPipe implements PipeTransform<unknown, ChatRequest> {
  transform(body: unknown): ChatRequest {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BadRequestException('Body must be a JSON object: { "message": string }');
    }
    const { message } = body as { message?: unknown };
    if (message === undefined) throw new BadRequestException('"message" is required');
    if (typeof message !== 'string') throw new BadRequestException('"message" must be a string');
    if (message.trim() === '') throw new BadRequestException('"message" must not be empty');
    if (message.length > MAX_MESSAGE_LENGTH) {
      throw new BadRequestException(`"message" must be at most ${MAX_MESSAGE_LENGTH} characters`);
    }
    return { message };
  }
}
