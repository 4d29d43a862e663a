/**
 * Exact decimal text of an amount in picos, as formatExact gives it, faster for numbers: the
 * priced detail CSV formats three amounts per (user, task). For a safe integer p, the whole
 * part floor(p / 10^12) is exact (see money/decimal.ts floorDiv), and the fraction f < 10^12
 * is split into two halves below 10^6, which V8 turns into text on its small-integer path.
 */
import { formatExact, type Amount } from '../money/decimal.js';

const SCALE = 1e12;
const HALF = 1e6;

/** Digits of n (0 <= n < 10^6) padded to 6, without trailing zeros (n > 0). Small ints: V8's fast path. */
function sixDigitsTrimmed(n: number): string {
  const s = String(HALF + n);
  let end = 7;
  while (s.charCodeAt(end - 1) === 48) end--;
  return s.slice(1, end);
}

export function formatPicos(p: Amount): string {
  if (typeof p !== 'number') return formatExact(p);
  if (p === 0) return '0';
  const whole = Math.floor(p / SCALE);
  const frac = p - whole * SCALE;
  if (frac === 0) return String(whole);
  // The fraction as two halves below 10^6 (exact: floor of a safe integer by 10^6, as above).
  const hi = Math.floor(frac / HALF);
  const lo = frac - hi * HALF;
  if (lo === 0) return `${whole}.${sixDigitsTrimmed(hi)}`;
  return `${whole}.${String(HALF + hi).slice(1)}${sixDigitsTrimmed(lo)}`;
}
