/**
 * Exact decimal text of an amount in picos, as formatExact gives it, faster for numbers: the
 * priced detail CSV formats three amounts per (user, task). For a safe integer p, the whole
 * part floor(p / 10^12) is exact (see money/decimal.ts floorDiv), and the fraction f < 10^12
 * gives f + 10^12 < 2^53 exactly, whose digits after the leading 1 are f padded to 12 digits.
 */
import { formatExact, type Amount } from '../money/decimal.js';

const SCALE = 1e12;

export function formatPicos(p: Amount): string {
  if (typeof p !== 'number') return formatExact(p);
  if (p === 0) return '0';
  const whole = Math.floor(p / SCALE);
  const frac = p - whole * SCALE;
  if (frac === 0) return String(whole);
  const s = String(frac + SCALE);
  let end = 13;
  while (s.charCodeAt(end - 1) === 48) end--;
  return `${whole}.${s.slice(1, end)}`;
}
