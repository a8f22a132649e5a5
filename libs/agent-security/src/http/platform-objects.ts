import type { IncomingMessage, ServerResponse } from 'http';

/**
 * Node's request and response under the objects a platform hands its handlers, guards and filters. Express's request
 * and response are Node's own; Fastify wraps them (FastifyRequest, FastifyReply) and keeps Node's as `raw`. The module
 * keeps all its per-request state (principal, meter, request id, timing) on Node's objects, which the front door,
 * the guards and the filter then share on either platform. One property read, no allocation.
 */
export function nodeRequest<T extends IncomingMessage = IncomingMessage>(platform: unknown): T {
  return ((platform as { raw?: T }).raw ?? platform) as T;
}

export function nodeResponse<T extends ServerResponse = ServerResponse>(platform: unknown): T {
  return ((platform as { raw?: T }).raw ?? platform) as T;
}
