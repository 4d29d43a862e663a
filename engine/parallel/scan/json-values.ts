/**
 * JSON text judged on bytes, for the fast paths that read JSON (jsonl-scanner.ts, and the
 * wrappers of wrapped lines: wrapped-scanner.ts): blanks, plain strings, and the values a fast
 * path passes over without making them. Each accepts only what JSON.parse reads the same way
 * (printable ASCII; escapes only in what is passed over); anything else is -1, left to the
 * exact path.
 */
import { QUOTE, COMMA, byteClass, sameBytes, BACKSLASH } from './fast-lines.js';

const SP = 32;
const TAB = 9;
/** JSON's member separator and an object's braces, for every reader of JSON on bytes. */
export const COLON = 58;
export const OPEN = 123;
export const CLOSE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
/** The bytes of a JSON string's body without escapes. */
export const STRING_BYTE = byteClass((c) => c >= 0x20 && c < 0x7f && c !== QUOTE && c !== BACKSLASH);

/** The index of the first byte at or after b[i] that is not a space or a tab. */
export function skipBlanks(b: Uint8Array, i: number): number {
  let c = b[i];
  while (c === SP || c === TAB) c = b[++i];
  return i;
}

const [MINUS, PLUS, DOT, ZERO] = [45, 43, 46, 48];
const LITERALS = ['true', 'false', 'null'].map((x) => Buffer.from(x, 'latin1'));

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

/** Objects and arrays nested deeper than this inside another key's value go to the exact path. */
const MAX_NESTING = 32;

/**
 * The index past a value at b[i] that the fast path passes over: a string of printable ASCII
 * and JSON's escapes (escapedStringEnd), a JSON number (-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?), true,
 * false, null, or an object or array of such values (nestedEnd); else -1 (an escape, a
 * malformed value, deep nesting: the exact path's). What follows the value is the caller's to
 * check.
 */
export function otherValueEnd(b: Uint8Array, i: number, depth = 0): number {
  const c = b[i];
  if (c === QUOTE) {
    const e = escapedStringEnd(b, i + 1);
    return e < 0 ? -1 : e + 1;
  }
  if (c === OPEN || c === OPEN_BRACKET) return depth < MAX_NESTING ? nestedEnd(b, i, depth + 1) : -1;
  for (const word of LITERALS) if (c === word[0]) return sameBytes(word, b, i, i + word.length) ? i + word.length : -1;
  if (b[i] === MINUS) i++;
  if (b[i] === ZERO) i++;
  else if (isDigit(b[i])) while (isDigit(b[i])) i++;
  else return -1;
  if (b[i] === DOT) {
    if (!isDigit(b[++i])) return -1;
    while (isDigit(b[i])) i++;
  }
  if ((b[i]! | 0x20) === 101) {
    if (b[++i] === PLUS || b[i] === MINUS) i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  return i;
}

/**
 * The index past the object or array at b[i] (an API log's `client` or `headers`), in JSON's
 * grammar: members `"key": value` (keys plain strings) or elements, each value one that
 * otherValueEnd passes over, separated by commas, blanks (space, tab) between tokens; else -1.
 * Nothing is kept: JSON.parse would make it and the bill never reads it.
 */
function nestedEnd(b: Uint8Array, i: number, depth: number): number {
  const object = b[i] === OPEN;
  const close = object ? CLOSE : CLOSE_BRACKET;
  i = skipBlanks(b, i + 1);
  if (b[i] === close) return i + 1;
  for (;;) {
    if (object) {
      if (b[i] !== QUOTE) return -1;
      i = escapedStringEnd(b, i + 1);
      if (i < 0) return -1;
      i = skipBlanks(b, i + 1);
      if (b[i] !== COLON) return -1;
      i = skipBlanks(b, i + 1);
    }
    i = otherValueEnd(b, i, depth);
    if (i < 0) return -1;
    i = skipBlanks(b, i);
    const c = b[i++];
    if (c === close) return i;
    if (c !== COMMA) return -1;
    i = skipBlanks(b, i);
  }
}

/** The bytes that may follow a backslash in a JSON string, as JSON.parse reads them (`\u` aside). */
const ESCAPED = byteClass((c) => '"\\/bfnrt'.includes(String.fromCharCode(c)));
const HEX = byteClass((c) => /[0-9a-fA-F]/.test(String.fromCharCode(c)));
const U = 117;

/** 1 for a UTF-8 continuation byte (10xxxxxx). */
const CONTINUATION = byteClass((c) => (c & 0xc0) === 0x80);

/**
 * The index past the UTF-8 sequence of a character above ASCII at b[i] (its lead byte), as
 * the Encoding Standard decodes one: no overlong form, surrogate or code point above
 * U+10FFFF; -1 for any other bytes.
 */
function utf8CharEnd(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const c1 = b[i + 1]!;
  if (c >= 0xc2 && c <= 0xdf) return CONTINUATION[c1] === 1 ? i + 2 : -1;
  if (c >= 0xe0 && c <= 0xef) {
    // E0: no overlong (A0..BF next); ED: no surrogate (80..9F next).
    const ok = c === 0xe0 ? c1 >= 0xa0 && c1 <= 0xbf : c === 0xed ? c1 >= 0x80 && c1 <= 0x9f : CONTINUATION[c1] === 1;
    return ok && CONTINUATION[b[i + 2]!] === 1 ? i + 3 : -1;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    // F0: no overlong (90..BF next); F4: not above U+10FFFF (80..8F next).
    const ok = c === 0xf0 ? c1 >= 0x90 && c1 <= 0xbf : c === 0xf4 ? c1 >= 0x80 && c1 <= 0x8f : CONTINUATION[c1] === 1;
    return ok && CONTINUATION[b[i + 2]!] === 1 && CONTINUATION[b[i + 3]!] === 1 ? i + 4 : -1;
  }
  return -1;
}

/**
 * The closing quote's index of a JSON string's body starting at b[i] of printable ASCII,
 * characters above ASCII in valid UTF-8, and escapes JSON.parse reads (`\"`, `\\`, `\/`, `\b`,
 * `\f`, `\n`, `\r`, `\t`, `\uXXXX`): PHP's json_encode writes `\/` in every path, a city's or a
 * message's text has letters above ASCII. For the values a fast path passes over without
 * reading them; -1 for any other string (a bad escape, a control byte, bytes that are not
 * UTF-8, which the exact path rejects as bad_encoding).
 */
export function escapedStringEnd(b: Uint8Array, i: number): number {
  for (;;) {
    const c = b[i]!;
    if (c === QUOTE) return i;
    if (c >= 0x80) {
      i = utf8CharEnd(b, i);
      if (i < 0) return -1;
      continue;
    }
    if (c === BACKSLASH) {
      const e = b[i + 1]!;
      if (e === U) {
        if (HEX[b[i + 2]!] !== 1 || HEX[b[i + 3]!] !== 1 || HEX[b[i + 4]!] !== 1 || HEX[b[i + 5]!] !== 1) return -1;
        i += 6;
      } else if (ESCAPED[e] === 1) {
        i += 2;
      } else {
        return -1;
      }
      continue;
    }
    if (STRING_BYTE[c] !== 1) return -1; // past the buffer's end too (undefined names no entry)
    i++;
  }
}

/** The closing quote's index of a JSON string's body starting at b[i] of printable ASCII without escapes; -1 for any other string. */
export function plainStringEnd(b: Uint8Array, i: number): number {
  for (;;) {
    const c = b[i]!;
    if (c === QUOTE) return i;
    if (STRING_BYTE[c] !== 1) return -1; // past the buffer's end too (undefined names no entry)
    i++;
  }
}
