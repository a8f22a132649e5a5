import { randomUUID } from 'crypto';
import type { IncomingMessage, ServerResponse } from 'http';
import type { AgentSecurityConfig } from '../agent-security.config.js';

export const REQUEST_ID_HEADER = 'X-Request-ID';
const MAX_LENGTH = 128;

/** Printable ASCII without spaces, 1 to 128 characters: safe to echo in a header and a log line. */
export function isSafeRequestId(value: string): boolean {
  const length = value.length;
  if (length === 0 || length > MAX_LENGTH) return false;
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/** Whether a safe incoming X-Request-ID is kept (the default; `logging.trustIncomingRequestId: false` turns it off). */
export function trustsIncomingRequestId(config: AgentSecurityConfig): boolean {
  return config.logging === false || config.logging.trustIncomingRequestId !== false;
}

/**
 * Gives the request its id once, whoever asks first (the front door, http/front-door.ts, or the exception
 * filter for an error raised where the middleware is not mounted first), and echoes it.
 */
export function assignRequestId(request: IncomingMessage, response: ServerResponse, trustIncoming: boolean): string {
  const existing = request.id;
  if (typeof existing === 'string') return existing;
  const incoming = trustIncoming ? request.headers['x-request-id'] : undefined;
  const id = typeof incoming === 'string' && isSafeRequestId(incoming) ? incoming : randomUUID();
  request.id = id;
  if (!response.headersSent) response.setHeader(REQUEST_ID_HEADER, id);
  return id;
}
