/**
 * Exact money. Rates have at most 12 fractional digits, so every amount is held as a
 * bigint count of 10^-12 currency units ("picos"). No binary floating point touches money.
 */

export const RATE_SCALE_DIGITS = 12;
const SCALE = 10n ** BigInt(RATE_SCALE_DIGITS);

const DECIMAL = /^(\d+)(?:\.(\d{1,12}))?$/;

/** Parses a non-negative decimal with at most 12 fractional digits into picos; null when malformed. */
export function parseDecimal(text: string): bigint | null {
  const m = DECIMAL.exec(text);
  if (m === null) return null;
  const frac = (m[2] ?? '').padEnd(RATE_SCALE_DIGITS, '0');
  return BigInt(m[1]!) * SCALE + BigInt(frac);
}

/** Exact decimal text of an amount in picos: no trailing fractional zeros, no exponent (`7.84`, `0`, `12.000000000001`). */
export function formatExact(picos: bigint): string {
  const whole = picos / SCALE;
  const frac = (picos % SCALE).toString().padStart(RATE_SCALE_DIGITS, '0').replace(/0+$/, '');
  return frac.length === 0 ? whole.toString() : `${whole}.${frac}`;
}

/** 10^(12 - decimals) for every allowed number of decimals (0..12). */
const ROUNDING_DIVISORS = Array.from({ length: RATE_SCALE_DIGITS + 1 }, (_, d) => 10n ** BigInt(RATE_SCALE_DIGITS - d));

/** Rounds picos half-up to `decimals` places (0..12); the result is in units of 10^-decimals. */
export function roundHalfUp(picos: bigint, decimals: number): bigint {
  if (picos < 0n) throw new RangeError('money amounts are never negative');
  const divisor = ROUNDING_DIVISORS[decimals]!;
  const q = picos / divisor;
  return picos % divisor * 2n >= divisor ? q + 1n : q;
}

/** Formats an amount in units of 10^-decimals with exactly `decimals` fractional digits (`42.50`). */
export function formatFixed(units: bigint, decimals: number): string {
  if (decimals === 0) return units.toString();
  const s = units.toString().padStart(decimals + 1, '0');
  return `${s.slice(0, -decimals)}.${s.slice(-decimals)}`;
}

/** Exact cost of `durationMs` milliseconds at `ratePicos` per millisecond, in picos. */
export function cost(durationMs: bigint, ratePicos: bigint): bigint {
  return durationMs * ratePicos;
}
