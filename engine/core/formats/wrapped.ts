/**
 * Wrapped lines (SPEC "Wrapped lines"): log pipelines store each API log line inside a wrapper.
 *
 * - `fluent-bit`: the line is a JSON object (Fluent Bit's `json_lines`); the API log line is
 *   the string under `log` (`--wrapped-key NAME` for another key).
 * - `cloudwatch`: the line is `<RFC 3339 timestamp> <message>` (CloudWatch Logs exports); the
 *   message, after the first space, is the API log line.
 *
 * The one definition of unwrapping, for every engine (the spark engine refuses --wrapped for
 * now). Decisions (README): the raw line must be valid UTF-8 first (`bad_encoding`); a wrapper
 * that does not parse, a missing or non-string key, a timestamp that is not RFC 3339, or an
 * inner string holding a line break other than one final LF (or CRLF) is `bad_wrapper`; an
 * inner string with a lone surrogate escape is `bad_encoding`; an inner line that is blank is
 * a blank line (skipped, not a record).
 */
import { isUtf8 } from 'node:buffer';
import { parseTimestamp } from '../validation/timestamp.js';
import type { RejectReason } from '../validation/reasons.js';

export const WRAPPERS = ['fluent-bit', 'cloudwatch'] as const;
export type WrapperKind = (typeof WRAPPERS)[number];

export interface Wrapping {
  readonly kind: WrapperKind;
  /** fluent-bit: the key holding the API log line (default `log`). */
  readonly key: string;
}

export const DEFAULT_WRAPPED_KEY = 'log';

/** The inner line's bytes; null for a blank inner line; or the reject reason of the wrapped line. */
export type Unwrapped = Buffer | null | RejectReason;

const BLANK = /^[ \t]*$/;
/** A UTF-16 surrogate without its pair: from a `\ud800`-style JSON escape, not text UTF-8 can carry. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function inner(text: string): Unwrapped {
  let line = text;
  if (line.endsWith('\n')) line = line.slice(0, line.endsWith('\r\n') ? -2 : -1);
  if (line.includes('\n')) return 'bad_wrapper';
  if (LONE_SURROGATE.test(line)) return 'bad_encoding';
  if (BLANK.test(line)) return null;
  return Buffer.from(line, 'utf8');
}

/** Unwraps one non-blank line (BOM and final CR already removed). */
export function unwrapLine(bytes: Buffer, w: Wrapping): Unwrapped {
  if (!isUtf8(bytes)) return 'bad_encoding';
  const text = bytes.toString('utf8');
  if (w.kind === 'cloudwatch') {
    const space = text.indexOf(' ');
    if (space <= 0 || parseTimestamp(text.slice(0, space)) === null) return 'bad_wrapper';
    return inner(text.slice(space + 1));
  }
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'bad_wrapper';
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o) || !Object.prototype.hasOwnProperty.call(o, w.key)) return 'bad_wrapper';
  const v = (o as Record<string, unknown>)[w.key];
  return typeof v === 'string' ? inner(v) : 'bad_wrapper';
}
