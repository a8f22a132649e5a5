import type { ServerResponse } from 'http';
import { REQUEST_START as START } from '../logging/request-logger.js';

const WRITE_HEAD = Symbol('agent-security:writeHead');
type TimedResponse = ServerResponse & { [START]?: number; [WRITE_HEAD]?: ServerResponse['writeHead'] };

// Shared by every response: set X-Response-Time at the last moment headers can change.
function writeHeadWithTiming(this: TimedResponse, ...args: unknown[]) {
  const start = this[START];
  if (start !== undefined && !this.headersSent) {
    this.setHeader('X-Response-Time', `${Math.round(performance.now() - start)}ms`);
  }
  return this[WRITE_HEAD]!.apply(this, args as Parameters<ServerResponse['writeHead']>);
}

/**
 * Starts the clock behind `X-Response-Time`. False when the request was already through the front door (it is mounted
 * on the adapter and may also be applied as Nest middleware): the door then lets it pass untouched.
 */
export function startTiming(response: ServerResponse): boolean {
  const timed = response as TimedResponse;
  if (timed[START] !== undefined) return false;
  timed[START] = performance.now();
  // Whatever writeHead was there (another middleware may have wrapped it too) still runs after ours.
  timed[WRITE_HEAD] = timed.writeHead;
  timed.writeHead = writeHeadWithTiming as ServerResponse['writeHead'];
  return true;
}
