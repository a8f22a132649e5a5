import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';

/** A tool's arguments: any JSON object, as an MCP `tools/call` passes them. */
export type ToolArguments = Record<string, unknown>;

/** `POST /agent/tools/:name` takes a JSON object; anything else is refused with what was expected. */
@Injectable()
export class ToolArgumentsPipe implements PipeTransform<unknown, ToolArguments> {
  transform(body: unknown): ToolArguments {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      const got =
        body === undefined ? 'no body' : body === null ? 'null' : Array.isArray(body) ? 'an array' : `a ${typeof body}`;
      throw new BadRequestException(`Tool arguments must be a JSON object, got ${got}`);
    }
    return body as ToolArguments;
  }
}
