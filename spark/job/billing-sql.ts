/**
 * The billing contract as one Spark SQL query (SPEC "Input", "Field rules", "Time window"),
 * generated from the rules' data (engine/core/validation/rules.ts): reasons, limits, ranges,
 * the timestamp format, header aliases and JSON keys are read from there, never copied.
 *
 * Input views (made by run.ts from a `text` read with lineSep "\n") have columns: v (the
 * line, its bytes as read; a BOM at file start is already dropped by Hadoop's line reader),
 * path (input_file_name()), bs (input_file_block_start()), id
 * (monotonically_increasing_id(): read order inside a split). One view per format; CSV files
 * are grouped by header layout (read by the client), one view per layout, so a CSV line's
 * columns are literal positions.
 *
 * Two paths per line, in one pass over the input:
 * - the fast path (map side, every line): one regular expression for the common shape of a
 *   line (single separators, `YYYY-MM-DDTHH:MM:SSZ` with the calendar and clock ranges in
 *   it, a plain ASCII user id, the status range, digits), then the duration limit and the
 *   task by arithmetic and set membership on the fields of one `split`. In the space format
 *   the regex holds only the line's start (timestamp and user), and the split's size, the
 *   status and the duration's digits are checked by casts and lengths (plainDigits,
 *   fastStatus), which cost less than the regex reading those characters. A line that
 *   passes is valid: it needs no other rule, and is summed under its (user, task) key.
 * - the exact path (reduce side, after the shuffle), only for lines the fast path does not
 *   accept (tabs, repeated spaces, a CR, offsets, fractions, other bytes, and every reject;
 *   each is a group of its own on the map side): each rule as written in
 *   engine/core (lines.ts, csv.ts, records.ts, fields.ts, timestamp.ts), regular
 *   expressions passed as named parameters so no SQL escaping stands between them and the
 *   rules. Java regex notes: `\z` (not `$`, which also matches before a final line
 *   terminator), possessive quantifiers where a long line could otherwise overflow the regex
 *   engine's stack.
 *
 * Result rows: k (KIND), r (reason index in RULES.reasons for rejects), usr, task (accepted
 * rows, and the unknown task's name on an unknown_task reject; a (user, task) may have
 * several rows: its fast-path group and exact-path lines),
 * path, bs, id, raw (first 1 KiB of a rejected line; rejects are one row each; the line is a
 * grouping column, never first(): a binary aggregate buffer would turn the hash aggregate
 * into a sort aggregate over every line), n (lines), dur (duration sum: BIGINT from try_sum,
 * NULL on overflow; or exact decimal text with `exactSums`).
 */
import type { CsvLayout } from '../../engine/core/formats/csv.js';
import { FIELDS, RULES, codePointClass, forbiddenUserClass, type FieldName } from '../../engine/core/validation/rules.js';
import type { RejectReason } from '../../engine/core/validation/reasons.js';
import type { BillingConfig } from '../../engine/core/config/config.js';
import type { TimeWindow } from '../../engine/core/validation/timestamp.js';
import type { SqlValue } from '@mr/spark-connect';
import type { Wrapping } from '../../engine/core/formats/wrapped.js';
import { unwrapLines, WRAPPED_PATTERNS } from './wrapped-sql.js';
import { delimitedLineCall, FAST_DIGITS, fitsDelimitedLine, jsonLineCall, spaceLayout, type DelimitedLayout } from '../functions/functions.js';

/** Row kinds of the result. */
export const KIND = { ok: 0, out: 1, reject: 2, blank: 3, duplicate: 4 } as const;

export const SPACE_VIEW = 'mr_in_space';
export const JSONL_VIEW = 'mr_in_jsonl';
export const csvView = (group: number) => `mr_in_csv_${group}`;

/** What the query reads: which views exist, and the layout of each CSV view. */
export interface QuerySources {
  readonly space: boolean;
  readonly jsonl: boolean;
  readonly csv: readonly CsvLayout[];
}

export interface BillingQuery {
  readonly query: string;
  readonly args: Record<string, SqlValue>;
}

const T = RULES.timestamp;
const ts = (body: string) => `^${body}\\z`;
/** Escapes regex metacharacters (Java and JavaScript alike). */
const quoteRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** JSON surrogate escapes (`\ud800`) as Java regular expressions: a high half, a low half, either. */
const HEX = '[0-9a-fA-F]';
const HIGH = `\\\\u[dD][89abAB]${HEX}{2}`;
const LOW = `\\\\u[dD][c-fC-F]${HEX}{2}`;
const ANY_SURROGATE = `\\\\u[dD][89a-fA-F]${HEX}{2}`;

/**
 * The most columns a CSV layout's fast-path regex spans (one piece a column). 2,000 pieces
 * matched and 6,000 overflowed the stack on the local cluster; wider layouts take the exact path.
 */
export const FAST_CSV_REGEX_MAX_FIELDS = 1000;
const NEVER_MATCHES = '(?!)';

/** Regular expressions (Java syntax) of the exact path, bound as parameters. */
export const PATTERNS = {
  blank: `^${codePointClass(RULES.line.blankCodePoints, 'java')}*\\z`,
  spaceTrim: String.raw`^[ \t]+|[ \t]+\z`,
  spaceSplit: `[${RULES.space.separators.map((s) => (s === '\t' ? '\\t' : s)).join('')}]+`,
  csvLine: String.raw`^(?:"[^"]*+(?:""[^"]*+)*+"|[^",]*+)(?:,(?:"[^"]*+(?:""[^"]*+)*+"|[^",]*+))*+\z`,
  csvField: String.raw`,("[^"]*+(?:""[^"]*+)*+"|[^",]*+)`,
  /** JavaScript String.prototype.trim's white space (WhiteSpace + LineTerminator). */
  jsTrim: String.raw`^[\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]+|[\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]+\z`,
  timestamp: ts(T.pattern),
  userBad: forbiddenUserClass('java'),
  digits: String.raw`^[0-9]+\z`,
  leadingZeros: String.raw`^0+(?!\z)`,
  durationSpace: `^([0-9]+)${quoteRe(RULES.duration.suffix)}\\z`,
  durationCsv: `^([0-9]+)(?:${quoteRe(RULES.duration.suffix)})?\\z`,
  jsonStart: String.raw`^[ \t\r\n]*\{`,
  jsonEnd: String.raw`\}[ \t\r\n]*\z`,
  /** A JSON string literal (valid JSON assumed: it only runs on lines try_parse_json accepted). */
  jsonString: String.raw`"[^"\\]*+(?:\\.[^"\\]*+)*+"`,
  notBracket: String.raw`[^\[\]{}]`,
  /** A surrogate escape (`\ud800`) in JSON text, lone or half of a pair. */
  jsonSurrogate: ANY_SURROGATE,
  /** JSON text as tokens: a surrogate pair, a lone surrogate escape, any other escape, a run without backslashes. */
  jsonToken: `${HIGH}${LOW}|${ANY_SURROGATE}|\\\\[\\s\\S]|[^\\\\]+`,
  /** A token that is a lone surrogate escape. */
  jsonLone: `^${ANY_SURROGATE}\\z`,
  trailingZeros: String.raw`0+\z`,
} as const;

/**
 * A valid exact-path line's identity (SPEC "Duplicate deliveries"): `auto` its request id,
 * `line` its bytes within its view (a CSV view is one header text), as BINARY; NULL for none
 * (and for every row without dedupe).
 */
function dkeyExpr(mode: QueryOptions['dedupe'], wrapped: boolean): string {
  const valid = `NOT fast AND kind IN (${KIND.ok}, ${KIND.out})`;
  if (mode === 'auto') return `IF(${valid}, CAST(rid AS BINARY), NULL)`;
  // A wrapped line's identity is its inner line (the core's lineKey), not its wrapper.
  if (mode === 'line') return `IF(${valid}, concat(CAST(CAST(src AS STRING) AS BINARY), X'00', ${wrapped ? 'CAST(s AS BINARY)' : 'line'}), NULL)`;
  return 'CAST(NULL AS BINARY)';
}

/** A regex of the zero-padded numbers lo..hi, exactly `width` digits (from the rules' ranges, so no range is copied). */
export function rangeRe(lo: number, hi: number, width: number): string {
  if (lo > hi) return '(?!)';
  if (width === 1) return lo === hi ? String(lo) : `[${lo}-${hi}]`;
  const unit = 10 ** (width - 1);
  const a = Math.floor(lo / unit);
  const b = Math.floor(hi / unit);
  const restLo = lo % unit;
  const restHi = hi % unit;
  const any = (n: number) => (n === 1 ? '\\d' : `\\d{${n}}`);
  if (a === b) return `${a}${rangeRe(restLo, restHi, width - 1)}`;
  const alts: string[] = [];
  let from = a;
  let to = b;
  if (restLo !== 0) {
    alts.push(`${a}${rangeRe(restLo, unit - 1, width - 1)}`);
    from = a + 1;
  }
  const fullHi = restHi === unit - 1;
  if (!fullHi) to = b - 1;
  if (from <= to) alts.push(`${from === to ? String(from) : `[${from}-${to}]`}${any(width - 1)}`);
  if (!fullHi) alts.push(`${b}${rangeRe(0, restHi, width - 1)}`);
  return alts.length === 1 ? alts[0]! : `(?:${alts.join('|')})`;
}

/**
 * A regex of a set of zero-padded numbers of `width` digits, as character classes under their
 * common prefixes (`[1, 3, 5, 7, 8, 10, 12]` → `(?:0[13578]|1[02])`): the regex engine tries
 * one class per prefix instead of one literal per number (about 10% less executor CPU on the
 * fast path than a literal per month; README "Spark engine performance").
 */
export function setRe(values: readonly number[], width: number): string {
  const byPrefix = new Map<string, string[]>();
  for (const v of [...new Set(values)].sort((a, b) => a - b)) {
    const s = String(v).padStart(width, '0');
    if (s.length !== width) throw new Error(`setRe: ${v} has more than ${width} digits`);
    const prefix = s.slice(0, -1);
    byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), s.slice(-1)]);
  }
  const alts = [...byPrefix].map(([prefix, last]) => `${prefix}${last.length === 1 ? last[0]! : `[${last.join('')}]`}`);
  if (alts.length === 0) return '(?!)';
  return alts.length === 1 ? alts[0]! : `(?:${alts.join('|')})`;
}

/**
 * The common timestamp shape as one regex that also holds the calendar and the clock: months
 * grouped by their days in a common year (so 29 February, and only it, is left to the exact
 * path), hours, minutes and seconds in range.
 */
function fastTimestampRe(): string {
  const byDays = new Map<number, number[]>();
  T.daysInMonth.forEach((days, i) => byDays.set(days, [...(byDays.get(days) ?? []), i + 1]));
  const monthDay = [...byDays].map(([days, months]) => `${setRe(months, 2)}-${rangeRe(1, days, 2)}`);
  const clock = [rangeRe(T.hour[0], T.hour[1], 2), rangeRe(T.minute[0], T.minute[1], 2), rangeRe(T.second[0], T.second[1], 2)].join(':');
  // The common shape: 9999-MM-DDTHH:MM:SSZ.
  if (T.commonShape !== '9999-99-99T99:99:99Z') throw new Error('fastTimestampRe: the common timestamp shape changed; update the fast path');
  return `\\d{4}-(?:${monthDay.join('|')})T${clock}Z`;
}


/** The fast path's pieces, from the rules' common shapes and ranges. */
export const FAST = {
  timestamp: fastTimestampRe(),
  user: `[${RULES.user.commonChars}]{${RULES.user.minBytes},${RULES.user.maxBytes}}`,
  status: rangeRe(RULES.status.min, RULES.status.max, String(RULES.status.max).length),
  digits: `\\d{1,${FAST_DIGITS}}`,
  jsonDigits: '(?:0|[1-9]\\d{0,14})',
};
/** Offsets (1-based) and lengths of the date-time parts in the common timestamp shape. */
const TS_PARTS = {
  y: [T.commonShape.indexOf('9999') + 1, 4],
  mo: [6, 2],
  d: [9, 2],
  hh: [12, 2],
  mi: [15, 2],
  se: [18, 2],
} as const;

const NUMERIC_VARIANT = `IN ('BIGINT', 'INT', 'SMALLINT', 'TINYINT', 'DOUBLE', 'FLOAT')`;

/** Fields of a CSV line (unquoted), or NULL when its quoting is malformed. */
function csvFields(s: string): string {
  return `IF(${s} RLIKE :re_csv_line,
      transform(regexp_extract_all(concat(',', ${s}), :re_csv_field, 1),
                f -> IF(startswith(f, '"'), replace(substr(f, 2, length(f) - 2), '""', '"'), f)),
      NULL)`;
}

/** Digits (leading zeros allowed) → BIGINT, NULL when not digits or absurdly long. */
function digitsValue(d: string): string {
  return `IF(length(regexp_replace(${d}, :re_leading_zeros, '')) > 18, NULL, try_cast(regexp_replace(${d}, :re_leading_zeros, '') AS BIGINT))`;
}

/** Status text rule: ASCII digits, in range. */
function statusTextOk(s: string): string {
  return `(${s} RLIKE :re_digits AND coalesce(${digitsValue(s)} BETWEEN ${RULES.status.min} AND ${RULES.status.max}, false))`;
}

/** Duration text rule → BIGINT milliseconds or NULL (space: suffix required; CSV: optional). */
function durationText(s: string, re: ':re_dur_space' | ':re_dur_csv'): string {
  const value = digitsValue(`regexp_extract(${s}, ${re}, 1)`);
  return `CASE WHEN ${s} RLIKE ${re} AND ${value} <= :max_duration THEN ${value} END`;
}

/**
 * The JSON text `s` with every lone surrogate escape (`\ud800` without its low half, or a low
 * half alone) made `\u0000`, tokenised from the start so that an escaped backslash is never
 * taken for an escape. The cluster's JSON reader reads such an escape into a Java string, which
 * a Spark string holds as `?`: a user `e4\ud800` would be billed as `e4?`, another customer's
 * name, where JSON.parse keeps the lone surrogate and the other engines reject it (not
 * well-formed Unicode). As U+0000, a control character, the field fails its rule with the same
 * reason (bad_timestamp, bad_user, bad_request_id); a task so named has no rate either way.
 */
export function withoutLoneSurrogates(s: string): string {
  return `array_join(transform(regexp_extract_all(${s}, :re_json_token, 0), t -> IF(t RLIKE :re_json_lone, :json_lone_sub, t)), '')`;
}

/**
 * The text of the number at top-level key `k` of the JSON text `s`: every number token made a
 * string (RULES.jsonl.token) and the text parsed again; NULL when that value is no number.
 */
function numberText(s: string, k: string): string {
  return `variant_get(try_parse_json(array_join(transform(regexp_extract_all(${s}, :re_json_num_token, 0), t -> IF(t RLIKE :re_json_num_start, concat('"', t, '"'), t)), '')), '$.${k}', 'string')`;
}

/**
 * The number text `x` has an integral decimal value, exactly (fields.ts isIntegralJsonNumber):
 * its digits, trailing zeros dropped, less the fraction's, within the exponent.
 */
function integralNumber(x: string): string {
  const g = (n: number) => `regexp_extract(${x}, :re_json_number, ${n})`;
  const digits = `concat(${g(1)}, ${g(2)})`;
  const trailingZeros = `(char_length(${digits}) - char_length(regexp_replace(${digits}, :re_trailing_zeros, '')))`;
  // An exponent past BIGINT: far beyond any fraction's length, its sign decides.
  const e = `IF(${g(3)} = '', 0, coalesce(try_cast(${g(3)} AS BIGINT), IF(${g(3)} LIKE '-%', -1000000000000000000, 1000000000000000000)))`;
  return `coalesce(${x} RLIKE :re_json_number AND (${digits} RLIKE :re_all_zeros OR ${e} - char_length(${g(2)}) + ${trailingZeros} >= 0), false)`;
}

/**
 * JSON.parse reads a number as a double: the value at key `k` of the JSON line `s`, where the
 * line may hold a fraction or an exponent, must also be integral as written (README decision 47).
 */
function integralAsWritten(s: string, k: string): string {
  return `(NOT (${s} RLIKE :re_json_maybe_not_plain) OR ${integralNumber(numberText(s, k))})`;
}

/** The JSON text `s` parsed (try_parse_json), lone surrogate escapes made `\u0000` first; only a text holding a surrogate escape pays for it. */
function parseJson(s: string): string {
  return `try_parse_json(IF(${s} RLIKE :re_json_surrogate, ${withoutLoneSurrogates(s)}, ${s}))`;
}

/** A JSON value (variant) → its string, NULL unless it is a JSON string. */
function jsonString(v: string): string {
  return `IF(schema_of_variant(${v}) = 'STRING', variant_get(${v}, '$', 'string'), NULL)`;
}

/** A JSON value (variant) → its value as a double, NULL unless it is a JSON number (JavaScript semantics). */
function jsonNumber(v: string): string {
  return `IF(schema_of_variant(${v}) ${NUMERIC_VARIANT} OR startswith(schema_of_variant(${v}), 'DECIMAL'), try_variant_get(${v}, '$', 'double'), NULL)`;
}

/** Leap year test of an integer year expression. */
function leap(y: string): string {
  return `((${y} % 4 = 0 AND ${y} % 100 <> 0) OR ${y} % 400 = 0)`;
}

/** Days in the month, from the rules' table. */
function daysInMonth(y: string, mo: string): string {
  return `(element_at(array(${T.daysInMonth.join(', ')}), ${mo}) + IF(${mo} = 2 AND ${leap(y)}, 1, 0))`;
}

/** The calendar and clock rule on numeric parts (NULL parts make it NULL). */
export function calendarOk(p: { y: string; mo: string; d: string; hh: string; mi: string; se: string }): string {
  return `(${p.mo} BETWEEN ${T.month[0]} AND ${T.month[1]} AND ${p.d} >= 1 AND ${p.d} <= ${daysInMonth(p.y, p.mo)}
    AND ${p.hh} BETWEEN ${T.hour[0]} AND ${T.hour[1]} AND ${p.mi} BETWEEN ${T.minute[0]} AND ${T.minute[1]}
    AND ${p.se} BETWEEN ${T.second[0]} AND ${T.second[1]})`;
}

/** The whole timestamp rule on a text `t` (true or false, never NULL): the rule the judged stage applies, for a text elsewhere (a CloudWatch prefix). */
export function timestampOk(t: string): string {
  const g = (n: number) => `try_cast(regexp_extract(${t}, :re_ts, ${n}) AS INT)`;
  const off = (n: number) => `coalesce(try_cast(nullif(regexp_extract(${t}, :re_ts, ${n}), '') AS INT), 0)`;
  return `coalesce(${t} RLIKE :re_ts AND ${calendarOk({ y: g(1), mo: g(2), d: g(3), hh: g(4), mi: g(5), se: g(6) })}
    AND ${off(10)} BETWEEN ${T.offsetHour[0]} AND ${T.offsetHour[1]} AND ${off(11)} BETWEEN ${T.offsetMinute[0]} AND ${T.offsetMinute[1]}, false)`;
}

/**
 * The line `s` is one JSON object as JSON.parse reads it, given `v = try_parse_json(s)`:
 * parsed, braces at both ends, and one top-level value (the bracket depth returns to zero once).
 */
export function jsonObjectOk(s: string, v: string): string {
  return `${v} IS NOT NULL AND ${s} RLIKE :re_json_start AND ${s} RLIKE :re_json_end
          AND aggregate(
                split(regexp_replace(regexp_replace(${s}, :re_json_string, ''), :re_not_bracket, ''), ''),
                named_struct('d', 0, 'z', 0),
                (acc, c) -> named_struct(
                  'd', acc.d + CASE WHEN c IN ('{', '[') THEN 1 WHEN c IN ('}', ']') THEN -1 ELSE 0 END,
                  'z', acc.z + IF(c IN ('{', '[', '}', ']')
                                  AND acc.d + CASE WHEN c IN ('{', '[') THEN 1 ELSE -1 END = 0, 1, 0)),
                acc -> acc.z = 1 AND acc.d = 0)`;
}

/** A day-count (proleptic Gregorian, as timestamp.ts daysFromCivil) and clock → epoch seconds, in SQL. */
function epochSeconds(p: { y: string; mo: string; d: string; hh: string; mi: string; se: string }, osign: string, oh: string, om: string): string {
  const yy = `IF(${p.mo} <= 2, ${p.y} - 1, ${p.y})`;
  const era = `CAST(floor((${yy}) / 400) AS BIGINT)`;
  const yoe = `(${yy} - ${era} * 400)`;
  return `((${era} * 146097 + ${yoe} * 365 + CAST(floor(${yoe} / 4) AS BIGINT) - CAST(floor(${yoe} / 100) AS BIGINT)
      + CAST(floor((153 * ((${p.mo} + 9) % 12) + 2) / 5) AS BIGINT) + ${p.d} - 1 - 719468) * 86400
      + ${p.hh} * 3600 + ${p.mi} * 60 + ${p.se} - ${osign} * (${oh} * 3600 + ${om} * 60))`;
}

/** Powers of ten 10^0 .. 10^(FAST_DIGITS - 1), as a SQL array (1-based: element n is 10^(n-1)). */
const POW10 = `array(${Array.from({ length: FAST_DIGITS }, (_, i) => `${10n ** BigInt(i)}L`).join(', ')})`;

/**
 * Digits by arithmetic, on the text `t` of a field and its non-ANSI `CAST(t AS BIGINT)` `n`:
 * true only when `t` is 1 to FAST_DIGITS ASCII digits without a leading zero (or the one digit
 * `0`). Why it is exact: a cast of L bytes that gives a value of at least 10^(L-1) read L
 * integer digits, so no byte of `t` was a sign, a point, white space or anything else the
 * cast skips or stops at (and a multi-byte digit is more bytes than its value's digits); one
 * byte is compared as text, since a cast reads `.` as 0.
 */
function plainDigits(t: string, n: string): string {
  return `(octet_length(${t}) BETWEEN 1 AND ${FAST_DIGITS}
    AND IF(octet_length(${t}) = 1, ${t} BETWEEN '0' AND '9', ${n} >= element_at(${POW10}, octet_length(${t}))))`;
}

/**
 * The status rule on the fast path, by arithmetic: exactly as many bytes as the largest
 * status has digits, and a cast value in range and of that many digits (so every byte a
 * digit, as in plainDigits; statuses with fewer digits go to the exact path).
 */
function fastStatus(s: string): string {
  const width = String(RULES.status.max).length;
  const lo = Math.max(RULES.status.min, 10 ** (width - 1));
  return `(octet_length(${s}) = ${width} AND CAST(${s} AS INT) BETWEEN ${lo} AND ${RULES.status.max})`;
}

/** One input view: its fast path (regex, separator, fields of the split) and its exact path. */
interface Source {
  readonly view: string;
  readonly fastRe: string;
  readonly sep: string;
  /**
   * Checks on the split `f` (NULL when the regex did not match) and the duration's digits
   * `dt` / their cast `du`, for what the regex leaves to arithmetic; 'true' when the regex
   * holds the whole common shape.
   */
  readonly fastCheck: (f: string, dt: string, du: string) => string;
  /** SQL of a field's text (duration: its digits) in the fast path's split `f`. */
  readonly fast: Record<FieldName, (f: string) => string>;
  /** Tasks the fast path may compare as raw text. */
  readonly fastTask: (field: string) => string;
  /**
   * Instead of the regex, split and checks: one call of mr's executor function that returns
   * the common shape's (usr, task, du, sec) struct, NULL for any other line (delimitedLineCall).
   */
  readonly fastRow?: string;
  /** Exact path: the fields of the line `s` (NULL when malformed), or for JSON the parsed value. */
  readonly exactSplit: string;
  readonly isJson: boolean;
  /** Exact path, on `e` (the split) or `v` (JSON): SQL of each column. */
  readonly exact: { shapeOk: string; ts: string; usr: string; task: string; statusOk: string; dur: string } & DedupeColumns;
}

export interface QueryOptions {
  /** Duration sums as exact decimal text (after try_sum overflowed) instead of BIGINT. */
  readonly exactSums?: boolean;
  /** Duplicate deliveries (SPEC): valid lines with an identity keep their own row, with a key `dkey` (dedupe-sql.ts). */
  readonly dedupe?: 'auto' | 'line';
  /** --wrapped: every line is unwrapped on the exact path (wrapped-sql.ts); rejects keep the wrapped line. */
  readonly wrapped?: Wrapping;
  /** mr's executor functions are registered in the session (spark/functions): the fast paths are DelimitedLine and JsonLine. */
  readonly functions?: boolean;
}

/**
 * A source's request id on the exact path (SPEC "Duplicate deliveries"): its text when the
 * record has one (NULL when none), whether it breaks the rule (bad_request_id), and the
 * status's value (a conflict compares it).
 */
interface DedupeColumns {
  readonly rid: string;
  readonly ridBad: string;
  readonly stv: string;
}

/** A request id's text rule, as the user rule's characters with the id's own length bounds. */
function ridTextBad(t: string): string {
  return `(octet_length(${t}) < ${RULES.requestId.minBytes} OR octet_length(${t}) > ${RULES.requestId.maxBytes} OR ${t} RLIKE :re_user_bad)`;
}

/** CSV (or no) request id column → DedupeColumns' rid and ridBad. */
function csvRid(layout: CsvLayout | null): Pick<DedupeColumns, 'rid' | 'ridBad'> {
  if (layout === null || layout.requestId < 0) return { rid: 'CAST(NULL AS STRING)', ridBad: 'false' };
  const f = `e[${layout.requestId}]`;
  return { rid: `nullif(${f}, '')`, ridBad: `coalesce(${f} <> '' AND ${ridTextBad(f)}, false)` };
}

/**
 * The query, in two stages. Map side (every line, small generated code): the fast path's
 * regex, split and arithmetic; a fast line becomes its (user, task, in window) key, any
 * other line keeps its bytes, file, split and read position (a group of its own); partial
 * aggregation. Reduce side (after the shuffle, only the groups and the lines the fast path
 * left): the exact path, every rule as written in engine/core, on those lines alone. Keeping
 * the exact rules out of the map side's whole-stage code keeps that code under HotSpot's
 * 8,000-byte JIT limit (README "Spark engine performance").
 */
export function billingQuery(sources: QuerySources, config: BillingConfig, window: TimeWindow, options: QueryOptions = {}): BillingQuery {
  const args: Record<string, SqlValue> = {
    max_line: RULES.line.maxBytes,
    max_raw: RULES.line.rejectRawBytes,
    max_user: RULES.user.maxBytes,
    max_duration: BigInt(config.maxDurationMs),
    dur_suffix: RULES.duration.suffix,
  };
  const patternParams: Record<string, string> = {
    re_blank: PATTERNS.blank,
    re_space_trim: PATTERNS.spaceTrim,
    re_space_split: PATTERNS.spaceSplit,
    re_csv_line: PATTERNS.csvLine,
    re_csv_field: PATTERNS.csvField,
    re_ts: PATTERNS.timestamp,
    re_user_bad: PATTERNS.userBad,
    re_digits: PATTERNS.digits,
    re_leading_zeros: PATTERNS.leadingZeros,
    re_dur_space: PATTERNS.durationSpace,
    re_dur_csv: PATTERNS.durationCsv,
    re_json_start: PATTERNS.jsonStart,
    re_json_end: PATTERNS.jsonEnd,
    re_json_string: PATTERNS.jsonString,
    re_not_bracket: PATTERNS.notBracket,
    re_json_num_token: RULES.jsonl.token,
    re_json_num_start: '^[-0-9]',
    re_json_number: `^${RULES.jsonl.number}\\z`,
    re_json_maybe_not_plain: RULES.jsonl.nonPlainMember,
    re_all_zeros: '^0+\\z',
    re_json_surrogate: PATTERNS.jsonSurrogate,
    re_json_token: PATTERNS.jsonToken,
    re_json_lone: PATTERNS.jsonLone,
    json_lone_sub: '\\u0000',
    re_trailing_zeros: PATTERNS.trailingZeros,
  };
  Object.assign(args, patternParams, options.wrapped === undefined ? {} : WRAPPED_PATTERNS(options.wrapped));
  const taskParams = config.rates.map((r, i) => {
    args[`task${i}`] = r.task;
    return `:task${i}`;
  });
  /** Tasks the fast path may compare as raw text: those no separator, quote, escape or control character could hide in. */
  const fastTasks = (bad: RegExp) => {
    const list = config.rates.flatMap((r, i) => (bad.test(r.task) ? [] : [`:task${i}`]));
    return (field: string) => (list.length === 0 ? 'false' : `${field} IN (${list.join(', ')})`);
  };
  const reason = (r: RejectReason) => RULES.reasons.indexOf(r);
  const windowOpen = window.from === undefined && window.to === undefined;

  // Time window: instants compared as (epoch seconds, fraction digits right-padded), like compareInstants.
  const inWindow = (sec: string, frac: string): string => {
    const terms: string[] = [];
    if (window.from !== undefined) {
      args['from_sec'] = BigInt(window.from.seconds);
      args['from_frac'] = window.from.fraction;
      terms.push(`(${sec} > :from_sec OR (${sec} = :from_sec AND
        rpad(${frac}, greatest(length(${frac}), length(:from_frac)), '0') >= rpad(:from_frac, greatest(length(${frac}), length(:from_frac)), '0')))`);
    }
    if (window.to !== undefined) {
      args['to_sec'] = BigInt(window.to.seconds);
      args['to_frac'] = window.to.fraction;
      terms.push(`(${sec} < :to_sec OR (${sec} = :to_sec AND
        rpad(${frac}, greatest(length(${frac}), length(:to_frac)), '0') < rpad(:to_frac, greatest(length(${frac}), length(:to_frac)), '0')))`);
    }
    return terms.length === 0 ? 'true' : terms.join(' AND ');
  };

  const suffixRe = quoteRe(RULES.duration.suffix);
  const suffixLen = RULES.duration.suffix.length;
  const list: Source[] = [];

  if (sources.space) {
    // Fast: `TS USER TASK STATUS DURATIONms`, one separator between fields. The regex holds
    // only the line's start, `TS USER ` (the fields no arithmetic can check as cheaply); the
    // split's size, the task's membership and the status and duration by arithmetic do the
    // rest (README "Spark engine performance": a regex costs per character it reads).
    const sep = RULES.space.commonSeparator;
    const at = (f: string, field: FieldName) => `${f}[${FIELDS.indexOf(field)}]`;
    if (FIELDS[0] !== 'timestamp' || FIELDS[1] !== 'user') throw new Error('billingQuery: the space format no longer starts with timestamp and user; update its fast path');
    args['re_fast_space'] = `^${FAST.timestamp}${quoteRe(sep)}${FAST.user}${quoteRe(sep)}`;
    args['sep_space'] = sep;
    const durText = (f: string) => at(f, 'duration');
    list.push({
      view: SPACE_VIEW,
      fastRe: ':re_fast_space',
      sep: ':sep_space',
      fastCheck: (f, dt, du) => `size(${f}) = ${RULES.space.fieldCount} AND ${fastStatus(at(f, 'status'))}
        AND endswith(${durText(f)}, :dur_suffix) AND octet_length(${dt}) = octet_length(${durText(f)}) - ${suffixLen} AND ${plainDigits(dt, du)}`,
      fast: {
        timestamp: (f) => at(f, 'timestamp'),
        user: (f) => at(f, 'user'),
        task: (f) => at(f, 'task'),
        status: (f) => at(f, 'status'),
        duration: (f) => `substr(${at(f, 'duration')}, 1, octet_length(${at(f, 'duration')}) - ${suffixLen})`,
      },
      fastTask: fastTasks(/[ \t]/),
      ...(options.functions === true ? { fastRow: delimitedLineCall('CAST(v AS BINARY)', spaceLayout()) } : {}),
      exactSplit: `split(regexp_replace(s, :re_space_trim, ''), :re_space_split)`,
      isJson: false,
      exact: {
        shapeOk: `size(e) = ${RULES.space.fieldCount}`,
        ts: at('e', 'timestamp'),
        usr: at('e', 'user'),
        task: at('e', 'task'),
        statusOk: statusTextOk(at('e', 'status')),
        dur: durationText(at('e', 'duration'), ':re_dur_space'),
        ...csvRid(null),
        stv: digitsValue(at('e', 'status')),
      },
    });
  }

  sources.csv.forEach((layout, g) => {
    // Fast: no quotes, the contract's columns in their common shapes, other columns printable ASCII.
    const positions: Record<FieldName, number> = {
      timestamp: layout.timestamp,
      user: layout.user,
      task: layout.task,
      status: layout.status,
      duration: layout.duration,
    };
    const pieceAt = new Map<number, string>([
      [layout.timestamp, FAST.timestamp],
      [layout.user, FAST.user],
      [layout.task, '[^,"]+'],
      [layout.status, FAST.status],
      [layout.duration, `${FAST.digits}(?:${suffixRe})?`],
      ...(layout.requestId < 0 ? [] : [[layout.requestId, `[!#-+\\--~]{0,${RULES.requestId.maxBytes}}`] as [number, string]]),
    ]);
    // Java's regex engine recurses once per piece: thousands of columns overflow an executor
    // thread's stack (a StackOverflowError ends the executor). Wider layouts take the exact path.
    const pieces = Array.from({ length: layout.fieldCount }, (_, i) => pieceAt.get(i) ?? '[ !#-+\\--~]*');
    args[`re_fast_csv${g}`] = layout.fieldCount <= FAST_CSV_REGEX_MAX_FIELDS ? `^${pieces.join(',')}\\z` : NEVER_MATCHES;
    const at = (f: string, field: FieldName) => `${f}[${positions[field]}]`;
    const d = (f: string) => at(f, 'duration');
    const delimited: DelimitedLayout = { format: 'csv', separator: ',', ...positions, fieldCount: layout.fieldCount, requestId: layout.requestId };
    list.push({
      view: csvView(g),
      fastRe: `:re_fast_csv${g}`,
      sep: "','",
      fastCheck: () => 'true',
      fast: {
        timestamp: (f) => at(f, 'timestamp'),
        user: (f) => at(f, 'user'),
        task: (f) => at(f, 'task'),
        status: (f) => at(f, 'status'),
        duration: (f) => `IF(endswith(${d(f)}, :dur_suffix), substr(${d(f)}, 1, octet_length(${d(f)}) - ${suffixLen}), ${d(f)})`,
      },
      fastTask: fastTasks(/[,"]/),
      ...(options.functions === true && fitsDelimitedLine(delimited) ? { fastRow: delimitedLineCall('CAST(v AS BINARY)', delimited) } : {}),
      exactSplit: csvFields('s'),
      isJson: false,
      exact: {
        shapeOk: `coalesce(size(e) = ${layout.fieldCount}, false)`,
        ts: at('e', 'timestamp'),
        usr: at('e', 'user'),
        task: at('e', 'task'),
        statusOk: statusTextOk(at('e', 'status')),
        dur: durationText(at('e', 'duration'), ':re_dur_csv'),
        ...csvRid(layout),
        stv: digitsValue(at('e', 'status')),
      },
    });
  });

  if (sources.jsonl) {
    // Fast: `{"timestamp":"TS","user":"USER","task":"TASK","status":S,"duration_ms":D}` exactly,
    // keys in the rules' field order, no white space, no escapes; split on `"`.
    const keys = RULES.jsonl.keys;
    const isString = (f: FieldName) => f === 'timestamp' || f === 'user' || f === 'task';
    const value: Record<FieldName, string> = {
      timestamp: FAST.timestamp,
      user: FAST.user,
      task: '[^"\\\\\\x00-\\x1f]+',
      status: FAST.status,
      duration: FAST.jsonDigits,
    };
    let re = '^\\{';
    const piece = {} as Record<FieldName, number>;
    let idx = 0;
    FIELDS.forEach((f, i) => {
      re += `"${quoteRe(keys[f])}":`;
      if (isString(f)) {
        re += `"${value[f]}"`;
        piece[f] = idx + 3;
        idx += 4;
      } else {
        re += value[f];
        piece[f] = idx + 2;
        idx += 2;
      }
      re += i === FIELDS.length - 1 ? '\\}' : ',';
    });
    args['re_fast_json'] = `${re}\\z`;
    // A number's piece is `:DIGITS,` or `:DIGITS}`.
    const at = (f: string, field: FieldName) =>
      isString(field) ? `${f}[${piece[field]}]` : `substr(${f}[${piece[field]}], 2, octet_length(${f}[${piece[field]}]) - 2)`;
    const key = (f: FieldName) => `variant_get(v, '$.${keys[f]}')`;
    const ridKey = `variant_get(v, '$.${RULES.requestId.jsonKey}')`;
    const st = jsonNumber(key('status'));
    const du = jsonNumber(key('duration'));
    list.push({
      view: JSONL_VIEW,
      fastRe: ':re_fast_json',
      sep: `'"'`,
      fastCheck: () => 'true',
      fast: {
        timestamp: (f) => at(f, 'timestamp'),
        user: (f) => at(f, 'user'),
        task: (f) => at(f, 'task'),
        status: (f) => at(f, 'status'),
        duration: (f) => at(f, 'duration'),
      },
      fastTask: fastTasks(/["\\\x00-\x1f]/),
      ...(options.functions === true ? { fastRow: jsonLineCall('CAST(v AS BINARY)') } : {}),
      exactSplit: parseJson('s'),
      isJson: true,
      exact: {
        shapeOk: jsonObjectOk('s', 'v'),
        ts: jsonString(key('timestamp')),
        usr: jsonString(key('user')),
        task: jsonString(key('task')),
        statusOk: `coalesce(${st} BETWEEN ${RULES.status.min} AND ${RULES.status.max} AND ${st} % 1 = 0 AND ${integralAsWritten('s', keys.status)}, false)`,
        dur: `IF(coalesce(${du} BETWEEN 0 AND :max_duration AND ${du} % 1 = 0 AND ${integralAsWritten('s', keys.duration)}, false), CAST(${du} AS BIGINT), NULL)`,
        // A JSON null (VOID) or no key: no id; a string: the text rule ('' is none); any other type: bad.
        rid: `IF(${jsonString(ridKey)} = '', NULL, ${jsonString(ridKey)})`,
        ridBad: `coalesce(${ridKey} IS NOT NULL AND (schema_of_variant(${ridKey}) NOT IN ('VOID', 'STRING') OR (${jsonString(ridKey)} <> '' AND ${ridTextBad(jsonString(ridKey))})), false)`,
        stv: `CAST(${st} AS BIGINT)`,
      },
    });
  }
  if (list.length === 0) throw new Error('billingQuery: no input views');

  // Dedupe: a source whose valid lines may have an identity takes no fast path (each line keeps its row and position).
  // Wrapped lines all take the exact path (the unwrapping is there, with the wrapped bytes a reject keeps).
  const individual = (src: Source) => options.wrapped !== undefined || options.dedupe === 'line' || (options.dedupe === 'auto' && src.exact.rid !== 'CAST(NULL AS STRING)' && !src.isJson);

  // ---- Map side: one small projection chain per view, then partial aggregation.
  const mapped = list.map((src, i) => {
    // Each fast path gives (usr, task, du, sec, shaped): shaped when the line has the common
    // shape, sec (epoch seconds) only when a window needs the instant.
    let shapedRows: string;
    if (src.fastRow !== undefined) {
      shapedRows = `SELECT path, bs, id, v, r.usr AS usr, r.task AS task, r.du AS du, r.sec AS sec, r IS NOT NULL AS shaped
        FROM (SELECT path, bs, id, v, ${src.fastRow} AS r FROM ${src.view})`;
    } else {
      const p = { y: 'y', mo: 'mo', d: 'dd', hh: 'hh', mi: 'mi', se: 'se' };
      const part = ([at, len]: readonly [number, number]) => `CAST(substr(tsf, ${at}, ${len}) AS INT)`;
      // The fast regex holds the calendar, clock and status ranges; only a window needs the instant.
      const parts = windowOpen
        ? ''
        : `, ${part(TS_PARTS.y)} AS y, ${part(TS_PARTS.mo)} AS mo, ${part(TS_PARTS.d)} AS dd, ${part(TS_PARTS.hh)} AS hh, ${part(TS_PARTS.mi)} AS mi, ${part(TS_PARTS.se)} AS se`;
      shapedRows = `SELECT path, bs, id, v, usr, task, du, ${windowOpen ? 'CAST(NULL AS BIGINT)' : epochSeconds(p, '0', '0', '0')} AS sec,
          coalesce(${src.fastCheck('f', 'du_text', 'du')}, false) AS shaped
        FROM (SELECT path, bs, id, v, f, usr, task, du_text, CAST(du_text AS BIGINT) AS du${parts}
          FROM (SELECT path, bs, id, v, f, ${src.fast.timestamp('f')} AS tsf, ${src.fast.user('f')} AS usr, ${src.fast.task('f')} AS task,
              ${src.fast.duration('f')} AS du_text
            FROM (SELECT path, bs, id, v, IF(v RLIKE ${src.fastRe}, split(v, ${src.sep}, -1), NULL) AS f FROM ${src.view})))`;
    }
    const inwin = windowOpen ? 'true' : inWindow('sec', "''");
    return `SELECT ${i} AS src,
        IF(fast, usr, NULL) AS usr, IF(fast, task, NULL) AS task, IF(fast, du, NULL) AS dur, IF(fast, ${inwin}, NULL) AS inwin,
        IF(fast, NULL, path) AS path, IF(fast, NULL, bs) AS bs, IF(fast, NULL, id) AS id,
        IF(fast, NULL, octet_length(b)) AS blen,
        IF(fast, NULL, IF(octet_length(b) > :max_line, substr(b, 1, :max_raw), b)) AS line
      FROM (SELECT *, IF(fast, NULL, IF(octet_length(vb) > 0 AND substr(vb, -1, 1) = X'0D', substr(vb, 1, octet_length(vb) - 1), vb)) AS b
        FROM (SELECT *, IF(fast, NULL, CAST(v AS BINARY)) AS vb
          FROM (SELECT *, ${individual(src) ? 'false' : `shaped AND coalesce(du <= :max_duration AND ${src.fastTask('task')}, false)`} AS fast
            FROM (${shapedRows}))))`;
  });

  // ---- Reduce side: the exact path on the lines the fast path left (one group each).
  const bySrc = (pick: (s: Source) => string, otherwise = 'NULL') =>
    list.length === 1 ? pick(list[0]!) : `CASE src ${list.map((s, i) => `WHEN ${i} THEN ${pick(s)}`).join(' ')} ELSE ${otherwise} END`;
  const anyJson = list.some((s) => s.isJson);
  const splitOf = list.map((s, i) => (s.isJson ? null : { i, e: s.exactSplit })).filter((x) => x !== null);
  const eExpr =
    splitOf.length === 0 ? 'CAST(NULL AS ARRAY<STRING>)' : splitOf.length === 1 ? splitOf[0]!.e : `CASE src ${splitOf.map((x) => `WHEN ${x.i} THEN ${x.e}`).join(' ')} END`;
  const jsonSrc = list.findIndex((s) => s.isJson);
  const sumType = options.exactSums ? 'STRING' : 'BIGINT';
  const sum1 = options.exactSums ? 'CAST(sum(CAST(dur AS DECIMAL(38, 0))) AS STRING)' : 'try_sum(dur)';
  const tsPart = (group: number) => `IF(fast, NULL, try_cast(regexp_extract(ts, :re_ts, ${group}) AS INT))`;

  const query = `
WITH
  mapped AS (
    ${mapped.join('\n    UNION ALL ')}
  ),
  grouped AS (
    SELECT src, usr, task, inwin, path, bs, id, blen, line, count(*) AS n, ${sum1} AS sdur
    FROM mapped GROUP BY src, usr, task, inwin, path, bs, id, blen, line
  ),
  lines AS (
    SELECT *,
      fast OR is_valid_utf8(s) AS utf8,
      NOT fast AND NOT too_long AND coalesce(s RLIKE :re_blank, false) AS blank
    FROM (${unwrapLines(options.wrapped, 'SELECT *, line IS NULL AS fast, CAST(line AS STRING) AS s, coalesce(blen > :max_line, false) AS too_long FROM grouped', { jsonObjectOk, timestampOk, withoutLoneSurrogates })})
  ),
  parsed AS (
    SELECT *,
      IF(NOT fast AND utf8 AND NOT too_long AND NOT blank ${anyJson ? `AND src <> ${jsonSrc}` : ''}, ${eExpr}, NULL) AS e,
      ${anyJson ? `IF(NOT fast AND utf8 AND NOT too_long AND NOT blank AND src = ${jsonSrc}, ${list[jsonSrc]!.exactSplit}, NULL)` : 'CAST(NULL AS VARIANT)'} AS v
    FROM lines
  ),
  shaped AS (
    SELECT src, n, sdur, inwin, path, bs, id, line, fast, too_long, utf8, blank, wr${options.wrapped !== undefined && options.dedupe === 'line' ? ', s' : ''},
      IF(fast, true, ${bySrc((s) => s.exact.shapeOk, 'false')}) AS shape_ok,
      IF(fast, NULL, ${bySrc((s) => s.exact.ts)}) AS ts,
      IF(fast, usr, ${bySrc((s) => s.exact.usr)}) AS usr,
      IF(fast, task, ${bySrc((s) => s.exact.task)}) AS task,
      IF(fast, true, ${bySrc((s) => s.exact.statusOk, 'false')}) AS status_ok,
      IF(fast, NULL, ${bySrc((s) => s.exact.dur)}) AS edur,
      IF(fast, NULL, ${bySrc((s) => s.exact.rid)}) AS rid,
      IF(fast, false, ${bySrc((s) => s.exact.ridBad, 'false')}) AS rid_bad,
      IF(fast, NULL, ${bySrc((s) => s.exact.stv)}) AS stv,
      ${anyJson ? `src = ${jsonSrc}` : 'false'} AS isjson
    FROM parsed
  ),
  timed AS (
    SELECT *,
      ${tsPart(1)} AS y, ${tsPart(2)} AS mo, ${tsPart(3)} AS d, ${tsPart(4)} AS hh, ${tsPart(5)} AS mi, ${tsPart(6)} AS se,
      IF(fast, '', regexp_replace(regexp_extract(ts, :re_ts, 7), :re_trailing_zeros, '')) AS ts_frac,
      IF(fast, 0, CASE WHEN regexp_extract(ts, :re_ts, 8) <> '' THEN 0 WHEN regexp_extract(ts, :re_ts, 9) = '-' THEN -1 ELSE 1 END) AS osign,
      IF(fast, 0, coalesce(try_cast(nullif(regexp_extract(ts, :re_ts, 10), '') AS INT), 0)) AS oh,
      IF(fast, 0, coalesce(try_cast(nullif(regexp_extract(ts, :re_ts, 11), '') AS INT), 0)) AS om
    FROM shaped
  ),
  judged AS (
    SELECT *,
      CASE
        WHEN fast OR blank THEN NULL
        WHEN too_long THEN ${reason('line_too_long')}
        WHEN wr IS NOT NULL THEN wr
        WHEN NOT utf8 THEN ${reason('bad_encoding')}
        WHEN NOT isjson AND NOT shape_ok THEN ${reason('bad_field_count')}
        WHEN isjson AND NOT shape_ok THEN ${reason('bad_json')}
        WHEN NOT coalesce(ts RLIKE :re_ts AND ${calendarOk({ y: 'y', mo: 'mo', d: 'd', hh: 'hh', mi: 'mi', se: 'se' })}
               AND oh BETWEEN ${T.offsetHour[0]} AND ${T.offsetHour[1]} AND om BETWEEN ${T.offsetMinute[0]} AND ${T.offsetMinute[1]}, false)
          THEN ${reason('bad_timestamp')}
        WHEN usr IS NULL OR octet_length(usr) < ${RULES.user.minBytes} OR octet_length(usr) > :max_user OR usr RLIKE :re_user_bad THEN ${reason('bad_user')}
        WHEN task IS NULL OR NOT array_contains(array(${taskParams.join(', ')}), task) THEN ${reason('unknown_task')}
        WHEN NOT status_ok THEN ${reason('bad_status')}
        WHEN edur IS NULL THEN ${reason('bad_duration')}
        WHEN rid_bad THEN ${reason('bad_request_id')}
      END AS reason
    FROM timed
  ),
  classified AS (
    SELECT *,
      CASE
        WHEN fast THEN IF(inwin, ${KIND.ok}, ${KIND.out})
        WHEN blank THEN ${KIND.blank}
        WHEN reason IS NOT NULL THEN ${KIND.reject}
        WHEN ${windowOpen ? 'true' : inWindow(epochSeconds({ y: 'y', mo: 'mo', d: 'd', hh: 'hh', mi: 'mi', se: 'se' }, 'osign', 'oh', 'om'), 'ts_frac')} THEN ${KIND.ok}
        ELSE ${KIND.out}
      END AS kind
    FROM judged
  ),
  -- nd is an optimizer barrier, not data: a Project holding a nondeterministic column is
  -- neither collapsed into the projections above it nor a place filters are pushed through,
  -- so a later query's predicate on dkey (dedupe-sql.ts) is not rewritten into the whole
  -- rule chain inlined on the text scan. Without it a run with request ids broadcast 57 MiB
  -- task binaries and took 370 s on 20,000 JSON lines instead of 12 s. (nd >= 0 always holds.)
  keyed AS (
    SELECT *, ${dkeyExpr(options.dedupe, options.wrapped !== undefined)} AS dkey, rand(0) AS nd FROM classified
  )
SELECT CAST(kind AS TINYINT) AS k,
  IF(kind = ${KIND.reject}, reason, NULL) AS r,
  IF(kind = ${KIND.ok} OR dkey IS NOT NULL, usr, NULL) AS usr,
  IF(kind = ${KIND.ok} OR dkey IS NOT NULL OR (kind = ${KIND.reject} AND reason = ${reason('unknown_task')}), task, NULL) AS task,
  IF(kind = ${KIND.reject} OR dkey IS NOT NULL, path, NULL) AS path,
  IF(kind = ${KIND.reject} OR dkey IS NOT NULL, bs, NULL) AS bs,
  IF(kind = ${KIND.reject} OR dkey IS NOT NULL, id, NULL) AS id,
  IF(kind = ${KIND.reject}, substr(line, 1, :max_raw), NULL) AS raw,
  n,
  IF(kind = ${KIND.ok} OR dkey IS NOT NULL, IF(fast, sdur, CAST(edur AS ${sumType})), NULL) AS dur${
    options.dedupe === undefined ? '' : `,
  dkey, IF(dkey IS NOT NULL, ts, NULL) AS ts, IF(dkey IS NOT NULL, stv, NULL) AS stv`
  }
FROM keyed WHERE nd >= 0
`;
  return { query, args };
}
