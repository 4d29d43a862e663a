/**
 * Field rules of the contract on decoded strings (naive engine, CSV and JSON paths).
 * The parallel engine's byte scanner implements the same rules on bytes; property
 * tests keep the two equal.
 */
import { MAX_REQUEST_ID_BYTES, MAX_USER_BYTES } from './reasons.js';
import { RULES } from './rules.js';

const SUFFIX = RULES.duration.suffix;

/** Unicode White_Space code points above ASCII. */
export function isUnicodeSpace(cp: number): boolean {
  return (
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/** A user id: 1 to 128 UTF-8 bytes, no whitespace, no control characters, well-formed Unicode. */
export function isValidUser(user: string): boolean {
  return isIdText(user, MAX_USER_BYTES);
}

/** A request id (SPEC "Duplicate deliveries"): the user rule's characters, 1 to 128 UTF-8 bytes. */
export function isValidRequestId(id: string): boolean {
  return isIdText(id, MAX_REQUEST_ID_BYTES);
}

/** 1 to maxBytes UTF-8 bytes, no whitespace, no control characters, well-formed Unicode. */
function isIdText(user: string, maxBytes: number): boolean {
  if (user.length === 0) return false;
  let bytes = 0;
  for (let i = 0; i < user.length; i++) {
    const c = user.charCodeAt(i);
    if (c < 0x80) {
      if (c <= 0x20 || c === 0x7f) return false; // C0 controls, space, DEL
      bytes += 1;
    } else if (c < 0x800) {
      if (c <= 0xa0 || c === 0x85) return false; // C1 controls, NEL, NBSP
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < user.length ? user.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) return false; // lone surrogate: not UTF-8
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    } else {
      if (isUnicodeSpace(c)) return false;
      bytes += 3;
    }
    if (bytes > maxBytes) return false;
  }
  return true;
}

/** Parses a run of ASCII digits; -1 when the text is empty or holds anything else. Large values saturate. */
export function parseDigits(text: string, start = 0, end = text.length): number {
  if (end <= start) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : v;
}

/** Status: ASCII digits (leading zeros allowed), 100 to 599. */
export function parseStatus(text: string): number | null {
  const v = parseDigits(text);
  return v >= RULES.status.min && v <= RULES.status.max ? v : null;
}

/**
 * Duration text: digits followed by `ms` (space format: suffix required; CSV: optional).
 * Returns milliseconds, or null when malformed or above maxMs.
 */
export function parseDurationText(text: string, suffix: 'required' | 'optional', maxMs: number): number | null {
  let end = text.length;
  if (text.endsWith(SUFFIX)) {
    end -= SUFFIX.length;
  } else if (suffix === 'required') {
    return null;
  }
  const v = parseDigits(text, 0, end);
  return v >= 0 && v <= maxMs ? v : null;
}

const JSON_NUMBER = new RegExp(`^${RULES.jsonl.number}$`);

/**
 * Whether a JSON number's text has an integral decimal value, exactly (README decision 47):
 * `2e2`, `100.0`, `1.5e1` are; `4.9999999999999999999` and `1e-400` are not, though
 * JSON.parse reads them as the doubles 5 and 0.
 */
export function isIntegralJsonNumber(text: string): boolean {
  const m = JSON_NUMBER.exec(text);
  if (m === null) return false;
  const digits = m[1]! + (m[2] ?? '');
  let exponent = (m[3] === undefined ? 0 : Number(m[3])) - (m[2]?.length ?? 0);
  let k = digits.length;
  while (k > 0 && digits.charCodeAt(k - 1) === 0x30) {
    k--;
    exponent++;
  }
  return k === 0 || exponent >= 0;
}

/**
 * Duration as a JSON value: an integer number of milliseconds, 0 to maxMs. `text`: the
 * number as written, when it may hold a fraction or an exponent (its value must be integral).
 */
export function parseDurationJson(value: unknown, maxMs: number, text?: unknown): number | null {
  if (typeof text === 'string' && !isIntegralJsonNumber(text)) return null;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= maxMs ? value : null;
}

/** Status as a JSON value: an integer number from 100 to 599. `text` as for parseDurationJson. */
export function parseStatusJson(value: unknown, text?: unknown): number | null {
  if (typeof text === 'string' && !isIntegralJsonNumber(text)) return null;
  return typeof value === 'number' && Number.isInteger(value) && value >= RULES.status.min && value <= RULES.status.max ? value : null;
}
