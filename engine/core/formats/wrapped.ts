/**
 * Wrapped lines (SPEC "Wrapped lines"): log pipelines store each API log line inside a wrapper.
 *
 * - `fluent-bit`: the line is a JSON object (Fluent Bit's `json_lines`); the API log line is
 *   the string under `log` (`--wrapped-key NAME` for another key).
 * - `cloudwatch`: the line is `<RFC 3339 timestamp> <message>` (CloudWatch Logs exports); the
 *   message, after the first space, is the API log line.
 *
 * The one definition of unwrapping, for every engine (the spark engine runs it as SQL generated
 * from WRAPPED_RULES: spark/job/wrapped-sql.ts). Decisions (README): the raw line must be valid UTF-8 first (`bad_encoding`); a wrapper
 * that does not parse, a missing or non-string key, a timestamp that is not RFC 3339, or an
 * inner string holding a line break other than one final LF (or CRLF) is `bad_wrapper`; an
 * inner string with a lone surrogate escape is `bad_encoding`; an inner line that is blank is
 * a blank line (skipped, not a record).
 */
import { isUtf8 } from 'node:buffer';
import { parseTimestamp } from '../validation/timestamp.js';
import { RULES, codePointClass } from '../validation/rules.js';
import type { RejectReason } from '../validation/reasons.js';

export const WRAPPERS = ['fluent-bit', 'cloudwatch'] as const;
export type WrapperKind = (typeof WRAPPERS)[number];

export interface Wrapping {
  readonly kind: WrapperKind;
  /** fluent-bit: the key holding the API log line (default `log`). */
  readonly key: string;
}

export const DEFAULT_WRAPPED_KEY = 'log';

/** The wrappers' separators, for every engine (the spark engine's SQL is generated from them). */
export const WRAPPED_RULES = {
  /** cloudwatch: the timestamp ends at the first of these; the message follows it. */
  cloudwatchSeparator: ' ',
  /** An inner line may end with one of these (dropped); any other LF in it is `bad_wrapper`. */
  innerLineBreak: '\n',
  innerCarriageReturn: '\r',
} as const;

/** The inner line's bytes; null for a blank inner line; or the reject reason of the wrapped line. */
export type Unwrapped = Buffer | null | RejectReason;

/** Only white space (RULES.line.blankCodePoints): a blank inner line. */
const BLANK = new RegExp(`^${codePointClass(RULES.line.blankCodePoints, 'js')}*$`, 'u');
/** A UTF-16 surrogate without its pair: from a `\ud800`-style JSON escape, not text UTF-8 can carry. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function inner(text: string): Unwrapped {
  const { innerLineBreak: lf, innerCarriageReturn: cr } = WRAPPED_RULES;
  let line = text;
  if (line.endsWith(lf)) line = line.slice(0, line.endsWith(cr + lf) ? -2 : -1);
  if (line.includes(lf)) return 'bad_wrapper';
  if (LONE_SURROGATE.test(line)) return 'bad_encoding';
  if (BLANK.test(line)) return null;
  return Buffer.from(line, 'utf8');
}

/** Unwraps one non-blank line (BOM and final CR already removed). */
export function unwrapLine(bytes: Buffer, w: Wrapping): Unwrapped {
  if (!isUtf8(bytes)) return 'bad_encoding';
  const text = bytes.toString('utf8');
  if (w.kind === 'cloudwatch') {
    const space = text.indexOf(WRAPPED_RULES.cloudwatchSeparator);
    if (space <= 0 || parseTimestamp(text.slice(0, space)) === null) return 'bad_wrapper';
    return inner(text.slice(space + WRAPPED_RULES.cloudwatchSeparator.length));
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
