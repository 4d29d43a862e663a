/**
 * RFC 3339 date-time validation and the instants used by the time window.
 *
 * Accepted: `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`, `T` and `Z` in either case
 * (RFC 3339 §5.6 note), a real proleptic-Gregorian date, hour 00-23, minute 00-59,
 * second 00-59 (leap second 60 is rejected: see README), offset up to ±23:59.
 */
import { RULES } from './rules.js';

/** An instant: whole seconds since the epoch (UTC) and the fraction's digits, trailing zeros removed. */
export interface Instant {
  readonly seconds: number;
  readonly fraction: string;
}

const T = RULES.timestamp;
const RFC3339 = new RegExp(`^${T.pattern}$`);

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const DAYS_IN_MONTH = T.daysInMonth;

export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/** Days from 1970-01-01 to the given civil date (proleptic Gregorian). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Checks the numeric parts of a date-time; returns epoch seconds (UTC) or null when not a real time. */
export function civilToEpochSeconds(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  offsetSign: number,
  offsetHour: number,
  offsetMinute: number,
): number | null {
  if (month < T.month[0] || month > T.month[1]) return null;
  if (day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > T.hour[1] || minute > T.minute[1] || second > T.second[1]) return null;
  if (offsetHour > T.offsetHour[1] || offsetMinute > T.offsetMinute[1]) return null;
  const local = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return local - offsetSign * (offsetHour * 3600 + offsetMinute * 60);
}

/** Parses an RFC 3339 date-time; null when it is not one. */
export function parseTimestamp(text: string): Instant | null {
  const m = RFC3339.exec(text);
  if (m === null) return null;
  const sign = m[8] !== undefined ? 0 : m[9] === '-' ? -1 : 1;
  const seconds = civilToEpochSeconds(
    +m[1]!,
    +m[2]!,
    +m[3]!,
    +m[4]!,
    +m[5]!,
    +m[6]!,
    sign,
    sign === 0 ? 0 : +m[10]!,
    sign === 0 ? 0 : +m[11]!,
  );
  if (seconds === null) return null;
  return { seconds, fraction: trimZeros(m[7] ?? '') };
}

export function trimZeros(digits: string): string {
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--;
  return digits.slice(0, end);
}

/** Orders two instants: negative, zero or positive. */
export function compareInstants(a: Instant, b: Instant): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  const n = Math.max(a.fraction.length, b.fraction.length);
  const fa = a.fraction.padEnd(n, '0');
  const fb = b.fraction.padEnd(n, '0');
  return fa < fb ? -1 : fa > fb ? 1 : 0;
}

/** The billing time window: from inclusive, to exclusive; either end may be open. */
export interface TimeWindow {
  readonly from?: Instant;
  readonly to?: Instant;
}

export function inWindow(t: Instant, w: TimeWindow): boolean {
  if (w.from !== undefined && compareInstants(t, w.from) < 0) return false;
  if (w.to !== undefined && compareInstants(t, w.to) >= 0) return false;
  return true;
}

export function windowIsOpen(w: TimeWindow): boolean {
  return w.from === undefined && w.to === undefined;
}
