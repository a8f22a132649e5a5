import type { ModelPrice } from '../agent-security-options.interface.js';

/**
 * Money is kept in whole nano-dollars end to end (options, Redis hashes, memory, headers), never in floating point,
 * so ten thousand records add up to the cent, and beyond. Prices are held in micro-dollars per million tokens,
 * which makes a token's price a whole number of pico-dollars; one record's cost is rounded up to the next
 * nano-dollar, so no call is ever billed less than it cost.
 */
export const NANO_USD_PER_USD = 1_000_000_000;

/**
 * The largest amount held, $9 000 000: nano-dollars sum exactly as doubles (in Lua and in ioredis's replies) below
 * 2^53. A record is capped there like MAX_TOKENS caps tokens.
 */
export const MAX_NANO_USD = 9_000_000_000_000_000;

/** A model's prices, in micro-dollars per million tokens (whole numbers). */
export interface ResolvedPrice {
  readonly input: number;
  readonly output: number;
  readonly cachedInput: number;
}

/** Micro-dollars from dollars, or undefined if the amount has more than 6 decimals or is not a finite amount >= 0. */
export function microUsd(usd: unknown): number | undefined {
  if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0) return undefined;
  const micro = Math.round(usd * 1_000_000);
  return Math.abs(micro - usd * 1_000_000) < 1e-6 * Math.max(1, micro) && micro <= MAX_NANO_USD / 1000
    ? micro
    : undefined;
}

export function resolvePrice(price: ModelPrice): ResolvedPrice | undefined {
  const input = microUsd(price.inputPerMillionUsd);
  const output = microUsd(price.outputPerMillionUsd);
  const cachedInput = price.cachedInputPerMillionUsd === undefined ? input : microUsd(price.cachedInputPerMillionUsd);
  if (input === undefined || output === undefined || cachedInput === undefined) return undefined;
  return Object.freeze({ input, output, cachedInput });
}

/** The cost of one record in nano-dollars: exact in BigInt (tokens x micro-dollars per million = pico-dollars), rounded up. */
export function costNanoUsd(
  price: ResolvedPrice,
  inputTokens: number,
  outputTokens: number,
  cachedInputTokens: number,
): number {
  const pico =
    BigInt(inputTokens) * BigInt(price.input) +
    BigInt(outputTokens) * BigInt(price.output) +
    BigInt(cachedInputTokens) * BigInt(price.cachedInput);
  const nano = (pico + 999n) / 1000n;
  return nano > BigInt(MAX_NANO_USD) ? MAX_NANO_USD : Number(nano);
}

/** Dollars as a decimal string from nano-dollars, exact, without trailing zeros: 310000000 -> "0.31". */
export function formatUsd(nano: number): string {
  const whole = Math.floor(nano / NANO_USD_PER_USD);
  const fraction = String(nano % NANO_USD_PER_USD)
    .padStart(9, '0')
    .replace(/0+$/, '');
  return fraction === '' ? String(whole) : `${whole}.${fraction}`;
}

/** A record names a model that `pricing` does not: an error, never a free call. */
export class UnknownModelError extends Error {
  constructor(model: unknown, known: Iterable<string>) {
    const list = [...known];
    super(
      `Usage names model ${JSON.stringify(model)}, which has no price: add it to the module's pricing option (priced: ${list.length === 0 ? 'none' : list.join(', ')})`,
    );
    this.name = 'UnknownModelError';
  }
}
