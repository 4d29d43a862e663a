/**
 * The contract's field rules as data (SPEC "Input" and "Field rules"): reasons, limits,
 * ranges, formats, names and column aliases. The string-level rules (fields.ts,
 * timestamp.ts, csv.ts, records.ts), the parallel engine's byte scanner and the Spark SQL
 * generator (spark/job/billing-sql.ts) all read them from here, so a rule changed here
 * changes every engine; the differential and property tests keep them agreeing.
 */
import { MAX_LINE_BYTES, MAX_REJECT_RAW_BYTES, MAX_REQUEST_ID_BYTES, MAX_USER_BYTES, REJECT_REASONS } from './reasons.js';

/** The five fields of a record, in the order of the space format. */
export const FIELDS = ['timestamp', 'user', 'task', 'status', 'duration'] as const;
export type FieldName = (typeof FIELDS)[number];

/** An inclusive range of code points. */
export type CodePointRange = readonly [number, number];

/** Unicode's White_Space property, as code point ranges. */
const WHITE_SPACE: readonly CodePointRange[] = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0x85, 0x85],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
];

export const RULES = {
  /** Reject reasons in the order they are checked; the first failing rule names the line. */
  reasons: REJECT_REASONS,
  line: {
    /** Longest line in bytes (terminator, one CR before it and a BOM at file start excluded). */
    maxBytes: MAX_LINE_BYTES,
    /** Bytes of a rejected line kept in the rejects file. */
    rejectRawBytes: MAX_REJECT_RAW_BYTES,
    /**
     * A line of only these code points is blank: skipped, not a record. Unicode's White_Space
     * (tab, LF, VT, FF, CR, space, NEL, no-break spaces, the typographic spaces, the line and
     * paragraph separators, the ideographic space): SPEC's "only whitespace", read as Unicode
     * defines it.
     */
    blankCodePoints: WHITE_SPACE,
  },
  space: {
    /** Field separators (one or more), also trimmed at both ends. */
    separators: [' ', '\t'],
    /** The common separator: a line whose fields are split by exactly one of it. */
    commonSeparator: ' ',
    fieldCount: FIELDS.length,
  },
  timestamp: {
    /**
     * RFC 3339 date-time (regular expression body, without anchors; the same text in
     * JavaScript and Java syntax). Groups: year, month, day, hour, minute, second, fraction,
     * `Z`, offset sign, offset hour, offset minute.
     */
    pattern: String.raw`(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))`,
    month: [1, 12],
    hour: [0, 23],
    minute: [0, 59],
    /** 60 (a leap second) is rejected: see README. */
    second: [0, 59],
    offsetHour: [0, 23],
    offsetMinute: [0, 59],
    /** Days per month of a common year; February has one more in a leap year. */
    daysInMonth: [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
    /** The common shape (digits as `9`): what a fast path may check by position. */
    commonShape: '9999-99-99T99:99:99Z',
  },
  user: {
    minBytes: 1,
    maxBytes: MAX_USER_BYTES,
    /** Code points a user id may not hold: C0/C1 controls, space, DEL, and Unicode White_Space. */
    forbidden: [[0x00, 0x20], [0x7f, 0xa0], ...WHITE_SPACE] as readonly CodePointRange[],
    /** Characters a fast path may accept without a closer look (a subset of the allowed ones). */
    commonChars: 'A-Za-z0-9._-',
  },
  status: { min: 100, max: 599 },
  duration: {
    /** Text formats: digits then this suffix (space: required; CSV: optional). */
    suffix: 'ms',
    suffixRequired: { space: true, csv: false },
  },
  csv: {
    /** Code points trimmed from both ends of a header name (decision 10): Unicode's White_Space and U+FEFF. */
    headerTrim: [...WHITE_SPACE, [0xfeff, 0xfeff]] as readonly CodePointRange[],
    /** Header names (case-insensitive, trimmed) of each field, first alias first. */
    columns: {
      timestamp: ['timestamp'],
      user: ['user', 'user_id'],
      task: ['task'],
      status: ['status'],
      duration: ['duration_ms', 'duration'],
    } as Readonly<Record<FieldName, readonly string[]>>,
  },
  jsonl: {
    /** The key of each field. */
    keys: { timestamp: 'timestamp', user: 'user', task: 'task', status: 'status', duration: 'duration_ms' } as Readonly<Record<FieldName, string>>,
    /**
     * A JSON number's text (the same in JavaScript and Java syntax). Groups: integer digits,
     * fraction digits, exponent. A status or duration is its decimal value, exactly: integral
     * when the fraction's digits, trailing zeros dropped, fit in the exponent (`2e2`, `100.0`,
     * `1.5e1`), so `4.9999999999999999999` is no integer, though its double is (README decision 47).
     */
    number: String.raw`-?(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?`,
    /**
     * An object member whose value is a number with a fraction or an exponent (`"k": 1.5`,
     * `"k":2e2`), found without tokenising: only a JSON text that matches needs its numbers'
     * text (a string holding such text matches too, which costs a parse, never a verdict). A
     * timestamp's `:50.123` does not match, so JSON lines with fractional seconds pay nothing.
     */
    nonPlainMember: String.raw`"[ \t\n\r]*:[ \t\n\r]*-?[0-9]+[.eE]`,
    /** JSON text as tokens: a string, a number, a run of anything else but those tokens' first bytes, one other byte. */
    token: String.raw`"(?:[^"\\]|\\[\s\S])*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|[^"0-9-]+|[\s\S]`,
  },
  /**
   * A record's identity (SPEC "Duplicate deliveries"): an optional CSV column / JSON key, never
   * in the space format. A string of minBytes..maxBytes bytes with none of the user rule's
   * forbidden code points; empty (or JSON null, or absent) means no id; anything else is
   * `bad_request_id`, checked after the duration.
   */
  requestId: {
    minBytes: 1,
    maxBytes: MAX_REQUEST_ID_BYTES,
    /** CSV header names (case-insensitive, trimmed). */
    csvColumns: ['request_id'] as readonly string[],
    jsonKey: 'request_id',
  },
} as const;

/** True when `cp` lies in one of `ranges`. */
export function inRanges(ranges: readonly CodePointRange[], cp: number): boolean {
  for (const [lo, hi] of ranges) if (cp >= lo && cp <= hi) return true;
  return false;
}

/** True when the code point is one a user id may not hold. */
export function isForbiddenInUser(cp: number): boolean {
  return inRanges(RULES.user.forbidden, cp);
}

/** A Java/JavaScript character class of `ranges` (`\x{..}` Java syntax or `\u{..}` with the u flag). */
export function codePointClass(ranges: readonly CodePointRange[], dialect: 'java' | 'js'): string {
  const cp = (n: number) => (dialect === 'java' ? `\\x{${n.toString(16).toUpperCase()}}` : `\\u{${n.toString(16).toUpperCase()}}`);
  return `[${ranges.map(([lo, hi]) => (lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`)).join('')}]`;
}

/** A Java/JavaScript character class of the forbidden user code points. */
export function forbiddenUserClass(dialect: 'java' | 'js'): string {
  return codePointClass(RULES.user.forbidden, dialect);
}
