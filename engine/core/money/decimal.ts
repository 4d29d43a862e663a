/**
 * Exact money. Rates have at most 12 fractional digits, so every amount is held as an
 * integer count of 10^-12 currency units ("picos"): a bigint, or, as a fast path for the
 * millions of small amounts of a big bill, a number that is a safe integer (at most
 * 2^53 - 1, where every integer is exact). Whoever makes a number amount checks that it is
 * safe (see `plus`, and the rate limits in finalize); these functions give the same text
 * for a safe-integer number as for the equal bigint. No fraction ever lives in a float.
 */

export const RATE_SCALE_DIGITS = 12;
const SCALE = 10n ** BigInt(RATE_SCALE_DIGITS);

/** 10^12: one currency unit in picos, the scale of amounts (and of a pricing plan's discounts, fractions of one). */
export const ONE = SCALE;

const DECIMAL = /^(\d+)(?:\.(\d{1,12}))?$/;

/** Parses a non-negative decimal with at most 12 fractional digits into picos; null when malformed. */
export function parseDecimal(text: string): bigint | null {
  const m = DECIMAL.exec(text);
  if (m === null) return null;
  const frac = (m[2] ?? '').padEnd(RATE_SCALE_DIGITS, '0');
  return BigInt(m[1]!) * SCALE + BigInt(frac);
}

/** An integer amount: a bigint, or a number that is a safe integer. */
export type Amount = bigint | number;

const SCALE_N = 1e12;

/**
 * floor(a / d) for a safe integer a >= 0 and an integer d >= 1, exactly: when a/d is not
 * an integer it is at least 1/d below the next one, and the float quotient (correctly
 * rounded, below 2^53 / d) is off by at most half an ulp, under 2^-53 · 2^53 / d = 1/d,
 * so it never rounds up onto that integer. The property tests check it at the edges.
 */
function floorDiv(a: number, d: number): number {
  return Math.floor(a / d);
}

/** a + b, exact: a number while the sum stays a safe integer, else a bigint. */
export function plus(a: Amount, b: Amount): Amount {
  if (typeof a === 'number' && typeof b === 'number') {
    const s = a + b;
    if (s <= Number.MAX_SAFE_INTEGER) return s;
  }
  return BigInt(a) + BigInt(b);
}

/**
 * An exact running sum of amounts (a bill's totals): a number part while it stays a safe
 * integer, carried into a bigint part when the next amount would take it past. A bill's total
 * cost passes 2^53 picos after about a hundred users; with `plus` every later user's add made
 * a bigint, and rendering 500,000 users' bill alone took about a sixth longer.
 */
export class ExactSum {
  private small = 0;
  private big = 0n;

  add(a: Amount): void {
    if (typeof a === 'number') {
      // Both safe integers: the sum is above MAX_SAFE_INTEGER exactly when the double is (see plus).
      const s = this.small + a;
      if (s <= Number.MAX_SAFE_INTEGER) {
        this.small = s;
        return;
      }
      this.big += BigInt(this.small);
      this.small = a;
      return;
    }
    this.big += a;
  }

  /** The sum so far. */
  value(): bigint {
    return this.big + BigInt(this.small);
  }
}

/** Exact decimal text of an amount in picos: no trailing fractional zeros, no exponent (`7.84`, `0`, `12.000000000001`). */
export function formatExact(picos: Amount): string {
  if (typeof picos === 'number') {
    const whole = floorDiv(picos, SCALE_N);
    const fracN = picos - whole * SCALE_N;
    if (fracN === 0) return String(whole);
    // Drop the fraction's trailing zeros arithmetically (exact: integer division by 10 of an integer below 10^12).
    let frac = fracN;
    let digits = RATE_SCALE_DIGITS;
    while (frac % 10 === 0) {
      frac /= 10;
      digits--;
    }
    return `${whole}.${String(frac).padStart(digits, '0')}`;
  }
  const whole = picos / SCALE;
  const frac = (picos % SCALE).toString().padStart(RATE_SCALE_DIGITS, '0').replace(/0+$/, '');
  return frac.length === 0 ? whole.toString() : `${whole}.${frac}`;
}

/** 10^(12 - decimals) for every allowed number of decimals (0..12). */
const ROUNDING_DIVISORS = Array.from({ length: RATE_SCALE_DIGITS + 1 }, (_, d) => 10n ** BigInt(RATE_SCALE_DIGITS - d));

const ROUNDING_DIVISORS_N = ROUNDING_DIVISORS.map(Number);

/** Rounds picos half-up to `decimals` places (0..12); the result is in units of 10^-decimals. */
export function roundHalfUp(picos: bigint, decimals: number): bigint;
export function roundHalfUp(picos: Amount, decimals: number): Amount;
export function roundHalfUp(picos: Amount, decimals: number): Amount {
  if (picos < 0) throw new RangeError('money amounts are never negative');
  if (typeof picos === 'number') {
    const divisor = ROUNDING_DIVISORS_N[decimals]!;
    const q = floorDiv(picos, divisor);
    return (picos - q * divisor) * 2 >= divisor ? q + 1 : q;
  }
  const divisor = ROUNDING_DIVISORS[decimals]!;
  const q = picos / divisor;
  return picos % divisor * 2n >= divisor ? q + 1n : q;
}

/** Formats an amount in units of 10^-decimals with exactly `decimals` fractional digits (`42.50`). */
export function formatFixed(units: Amount, decimals: number): string {
  if (decimals === 0) return units.toString();
  const s = units.toString().padStart(decimals + 1, '0');
  return `${s.slice(0, -decimals)}.${s.slice(-decimals)}`;
}

/** Exact cost of `durationMs` milliseconds at `ratePicos` per millisecond, in picos. */
export function cost(durationMs: bigint, ratePicos: bigint): bigint {
  return durationMs * ratePicos;
}
