import type { IncomingMessage } from 'http';
import { MAX_TOKENS } from './usage-meter.js';

/**
 * What a budgeted request reserves at admission: tokens, a function of the request, or none. The function gets the
 * platform's request (Express's or Fastify's), whose `body` is parsed by then on either.
 */
export type TokenReserve = number | ((request: IncomingMessage & { body?: any }) => number) | 'none';

export interface TokenBudgetOptions {
  /** Default 1 token: sequential requests see the plain "anything left" check, concurrent ones cannot all pass. */
  reserve?: TokenReserve;
}

export const DEFAULT_RESERVE = 1;

/** Thrown for a reservation that is not a number of tokens: a developer's mistake, answered 500 with the route named. */
export class InvalidTokenReserveError extends Error {
  constructor(route: string, value: unknown) {
    super(`${route}: @TokenBudget({ reserve }) must give a number of tokens >= 0, got ${String(value)}`);
    this.name = 'InvalidTokenReserveError';
  }
}

/**
 * The tokens to reserve for one request, or undefined for none. At least 1, so that a spent budget refuses as it
 * does without a reservation; whole tokens (rounded up), at most MAX_TOKENS.
 */
export function tokensToReserve(reserve: TokenReserve, request: IncomingMessage, route: string): number | undefined {
  if (reserve === 'none') return undefined;
  const value = typeof reserve === 'function' ? reserve(request) : reserve;
  if (typeof value !== 'number' || !(value >= 0) || value === Infinity)
    throw new InvalidTokenReserveError(route, value);
  return Math.max(1, Math.min(Math.ceil(value), MAX_TOKENS));
}
