/**
 * The billing contract as one Spark SQL query (SPEC "Input", "Field rules", "Time window"),
 * generated from the rules' data (engine/core/validation/rules.ts): reasons, limits, ranges,
 * the timestamp format, header aliases and JSON keys are read from there, never copied.
 *
 * Input views (made by run.ts from a `text` read with lineSep "\n") have columns: v (the
 * line, its bytes as read; a BOM at file start is already dropped by Hadoop's line reader),
 * path (_metadata.file_path), bs (_metadata.file_block_start), id
 * (monotonically_increasing_id(): read order inside a split). One view per format; CSV files
 * are grouped by header layout (read by the client), one view per layout, so a CSV line's
 * columns are literal positions.
 *
 * Two paths per line, in one pass:
 * - the fast path: one regular expression for the common shape of a line (single
 *   separators, `YYYY-MM-DDTHH:MM:SSZ`, a plain ASCII user id, digits), then the calendar,
 *   ranges and the task by arithmetic and set membership on the fields of one `split`. A
 *   line that passes is valid: it needs no other rule.
 * - the exact path, only for lines the fast path does not accept (tabs, repeated spaces, a
 *   CR, offsets, fractions, other bytes, and every reject): each rule as written in
 *   engine/core (lines.ts, csv.ts, records.ts, fields.ts, timestamp.ts), regular
 *   expressions passed as named parameters so no SQL escaping stands between them and the
 *   rules. Java regex notes: `\z` (not `$`, which also matches before a final line
 *   terminator), possessive quantifiers where a long line could otherwise overflow the regex
 *   engine's stack.
 *
 * Result rows (grouped): k (KIND), r (reason index in RULES.reasons for rejects), usr, task
 * (accepted rows), path, bs, id, raw (first 1 KiB of a rejected line; rejects are one row
 * each; raw is a grouping column, not first(raw): a binary aggregate buffer would turn the
 * hash aggregate into a sort aggregate over every line), n (lines), dur (duration sum: BIGINT from try_sum, NULL on overflow; or exact
 * decimal text with `exactSums`).
 */
import type { CsvLayout } from '../../engine/core/formats/csv.js';
import { FIELDS, RULES, forbiddenUserClass, type FieldName } from '../../engine/core/validation/rules.js';
import type { RejectReason } from '../../engine/core/validation/reasons.js';
import type { BillingConfig } from '../../engine/core/config/config.js';
import type { TimeWindow } from '../../engine/core/validation/timestamp.js';
import type { SqlValue } from '../connect/plan.js';

/** Row kinds of the result. */
export const KIND = { ok: 0, out: 1, reject: 2, blank: 3 } as const;

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

/** Regular expressions (Java syntax) of the exact path, bound as parameters. */
export const PATTERNS = {
  blank: `^[${RULES.line.blankBytes.map((c) => (c === 0x09 ? '\\t' : String.fromCharCode(c))).join('')}]*\\z`,
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
  trailingZeros: String.raw`0+\z`,
} as const;

/** The fast path's pieces, from the rules' common shapes. */
const FAST = {
  timestamp: T.commonShape.replace(/9+/g, (m) => `\\d{${m.length}}`),
  user: `[${RULES.user.commonChars}]{${RULES.user.minBytes},${RULES.user.maxBytes}}`,
  status: `\\d{${String(RULES.status.max).length}}`,
  /** At most 15 digits: far below 2^53, and below any MAX_DURATION_MS check's overflow. */
  digits: '\\d{1,15}',
  jsonDigits: '(?:0|[1-9]\\d{0,14})',
};
/** Offsets (1-based) of the date-time parts in the common timestamp shape. */
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
function calendarOk(p: { y: string; mo: string; d: string; hh: string; mi: string; se: string }): string {
  return `(${p.mo} BETWEEN ${T.month[0]} AND ${T.month[1]} AND ${p.d} >= 1 AND ${p.d} <= ${daysInMonth(p.y, p.mo)}
    AND ${p.hh} BETWEEN ${T.hour[0]} AND ${T.hour[1]} AND ${p.mi} BETWEEN ${T.minute[0]} AND ${T.minute[1]}
    AND ${p.se} BETWEEN ${T.second[0]} AND ${T.second[1]})`;
}

/** Numeric parts of a timestamp of the common shape (digits already checked by the fast regex). */
function commonTsParts(tsExpr: string): { y: string; mo: string; d: string; hh: string; mi: string; se: string } {
  const part = ([at, len]: readonly [number, number]) => `CAST(substr(${tsExpr}, ${at}, ${len}) AS INT)`;
  return { y: part(TS_PARTS.y), mo: part(TS_PARTS.mo), d: part(TS_PARTS.d), hh: part(TS_PARTS.hh), mi: part(TS_PARTS.mi), se: part(TS_PARTS.se) };
}

/** The columns every source brings to the shared judging step. */
const SHAPED = 'path, bs, id, b, fast, too_long, utf8, blank, shape_ok, ts, usr, task, status_ok, dur, isjson';

/**
 * The shared first steps of a source: the fast path's split (only when the fast regex
 * matched), then, for lines the fast path does not take, the line without its CR as bytes and
 * as a string, length, encoding and blank rules.
 */
function prepared(view: string, fastRe: string, sep: string, fastCond: (f: string) => string): string {
  return `(SELECT *,
        coalesce(octet_length(b) > :max_line, false) AS too_long,
        fast OR is_valid_utf8(s) AS utf8,
        NOT fast AND coalesce(octet_length(b) <= :max_line AND s RLIKE :re_blank, false) AS blank
      FROM (SELECT *, CAST(b AS STRING) AS s
        FROM (SELECT *,
            IF(fast, NULL, IF(octet_length(vb) > 0 AND substr(vb, -1, 1) = X'0D', substr(vb, 1, octet_length(vb) - 1), vb)) AS b
          FROM (SELECT path, bs, id, f, CAST(v AS BINARY) AS vb, coalesce(${fastCond('f')}, false) AS fast
            FROM (SELECT path, bs, id, v, IF(v RLIKE ${fastRe}, split(v, ${sep}, -1), NULL) AS f FROM ${view})))))`;
}

export interface QueryOptions {
  /** Duration sums as exact decimals (after try_sum overflowed) instead of BIGINT. */
  readonly exactSums?: boolean;
}

export function billingQuery(sources: QuerySources, config: BillingConfig, window: TimeWindow, options: QueryOptions = {}): BillingQuery {
  const args: Record<string, SqlValue> = {
    max_line: RULES.line.maxBytes,
    max_raw: RULES.line.rejectRawBytes,
    max_user: RULES.user.maxBytes,
    max_duration: BigInt(config.maxDurationMs),
  };
  const patternParams: Record<string, string> = {
    re_blank: PATTERNS.blank,
    re_space_trim: PATTERNS.spaceTrim,
    re_space_split: PATTERNS.spaceSplit,
    re_csv_line: PATTERNS.csvLine,
    re_csv_field: PATTERNS.csvField,
    re_js_trim: PATTERNS.jsTrim,
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
    re_trailing_zeros: PATTERNS.trailingZeros,
  };
  Object.assign(args, patternParams);
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
  const windowTerms: string[] = [];
  if (window.from !== undefined) {
    args['from_sec'] = BigInt(window.from.seconds);
    args['from_frac'] = window.from.fraction;
    windowTerms.push(`(ts_sec > :from_sec OR (ts_sec = :from_sec AND
        rpad(ts_frac, greatest(length(ts_frac), length(:from_frac)), '0') >= rpad(:from_frac, greatest(length(ts_frac), length(:from_frac)), '0')))`);
  }
  if (window.to !== undefined) {
    args['to_sec'] = BigInt(window.to.seconds);
    args['to_frac'] = window.to.fraction;
    windowTerms.push(`(ts_sec < :to_sec OR (ts_sec = :to_sec AND
        rpad(ts_frac, greatest(length(ts_frac), length(:to_frac)), '0') < rpad(:to_frac, greatest(length(ts_frac), length(:to_frac)), '0')))`);
  }
  const inWindow = windowTerms.length === 0 ? 'true' : windowTerms.join(' AND ');

  const fastValueChecks = (tsExpr: string, statusExpr: string, durExpr: string, taskCheck: string) =>
    `(${calendarOk(commonTsParts(tsExpr))} AND CAST(${statusExpr} AS INT) BETWEEN ${RULES.status.min} AND ${RULES.status.max}
      AND CAST(${durExpr} AS BIGINT) <= :max_duration AND ${taskCheck})`;
  /** The digits of a duration with an optional suffix. */
  const suffixed = (x: string, required: boolean) =>
    required ? `substr(${x}, 1, octet_length(${x}) - ${RULES.duration.suffix.length})` : `IF(endswith(${x}, :dur_suffix), substr(${x}, 1, octet_length(${x}) - ${RULES.duration.suffix.length}), ${x})`;
  args['dur_suffix'] = RULES.duration.suffix;
  const suffixRe = quoteRe(RULES.duration.suffix);

  const parts: string[] = [];
  if (sources.space) {
    // Fast: `TS USER TASK STATUS DURATIONms`, one separator between fields.
    const sep = RULES.space.commonSeparator;
    const at = (f: string, field: FieldName) => `${f}[${FIELDS.indexOf(field)}]`;
    const pieces: Record<FieldName, string> = {
      timestamp: FAST.timestamp,
      user: FAST.user,
      task: `[^ \\t]+`,
      status: FAST.status,
      duration: `${FAST.digits}${suffixRe}`,
    };
    args['re_fast_space'] = `^${FIELDS.map((f) => pieces[f]).join(quoteRe(sep))}\\z`;
    args['sep_space'] = sep;
    const spaceTask = fastTasks(/[ \t]/);
    const fastDur = (f: string) => suffixed(at(f, 'duration'), true);
    const cond = (f: string) => fastValueChecks(at(f, 'timestamp'), at(f, 'status'), fastDur(f), spaceTask(at(f, 'task')));
    parts.push(`SELECT path, bs, id, b, fast, too_long, utf8, blank,
        IF(fast, true, size(e) = ${RULES.space.fieldCount}) AS shape_ok,
        IF(fast, ${at('f', 'timestamp')}, ${at('e', 'timestamp')}) AS ts,
        IF(fast, ${at('f', 'user')}, ${at('e', 'user')}) AS usr,
        IF(fast, ${at('f', 'task')}, ${at('e', 'task')}) AS task,
        IF(fast, true, ${statusTextOk(at('e', 'status'))}) AS status_ok,
        IF(fast, CAST(${fastDur('f')} AS BIGINT), ${durationText(at('e', 'duration'), ':re_dur_space')}) AS dur,
        false AS isjson
      FROM (SELECT *, IF(NOT fast AND utf8 AND NOT too_long AND NOT blank, split(regexp_replace(s, :re_space_trim, ''), :re_space_split), NULL) AS e
            FROM ${prepared(SPACE_VIEW, ':re_fast_space', ':sep_space', cond)})`);
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
    ]);
    const pieces = Array.from({ length: layout.fieldCount }, (_, i) => pieceAt.get(i) ?? '[ !#-+\\--~]*');
    args[`re_fast_csv${g}`] = `^${pieces.join(',')}\\z`;
    const at = (f: string, field: FieldName) => `${f}[${positions[field]}]`;
    const csvTask = fastTasks(/[,"]/);
    const fastDur = (f: string) => suffixed(at(f, 'duration'), RULES.duration.suffixRequired.csv);
    const cond = (f: string) => fastValueChecks(at(f, 'timestamp'), at(f, 'status'), fastDur(f), csvTask(at(f, 'task')));
    parts.push(`SELECT path, bs, id, b, fast, too_long, utf8, blank,
        IF(fast, true, coalesce(size(e) = ${layout.fieldCount}, false)) AS shape_ok,
        IF(fast, ${at('f', 'timestamp')}, ${at('e', 'timestamp')}) AS ts,
        IF(fast, ${at('f', 'user')}, ${at('e', 'user')}) AS usr,
        IF(fast, ${at('f', 'task')}, ${at('e', 'task')}) AS task,
        IF(fast, true, ${statusTextOk(at('e', 'status'))}) AS status_ok,
        IF(fast, CAST(${fastDur('f')} AS BIGINT), ${durationText(at('e', 'duration'), ':re_dur_csv')}) AS dur,
        false AS isjson
      FROM (SELECT *, IF(NOT fast AND utf8 AND NOT too_long AND NOT blank, ${csvFields('s')}, NULL) AS e
            FROM ${prepared(csvView(g), `:re_fast_csv${g}`, "','", cond)})`);
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
      const last = i === FIELDS.length - 1;
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
      re += last ? '\\}' : ',';
    });
    args['re_fast_json'] = `${re}\\z`;
    // A number's piece is `:DIGITS,` or `:DIGITS}`.
    const at = (f: string, field: FieldName) =>
      isString(field) ? `${f}[${piece[field]}]` : `substr(${f}[${piece[field]}], 2, octet_length(${f}[${piece[field]}]) - 2)`;
    const jsonTask = fastTasks(/["\\\x00-\x1f]/);
    const cond = (f: string) => fastValueChecks(at(f, 'timestamp'), at(f, 'status'), at(f, 'duration'), jsonTask(at(f, 'task')));
    const key = (f: FieldName) => `variant_get(v, '$.${keys[f]}')`;
    parts.push(`SELECT path, bs, id, b, fast, too_long, utf8, blank,
        IF(fast, true, v IS NOT NULL AND s RLIKE :re_json_start AND s RLIKE :re_json_end
          AND aggregate(
                split(regexp_replace(regexp_replace(s, :re_json_string, ''), :re_not_bracket, ''), ''),
                named_struct('d', 0, 'z', 0),
                (acc, c) -> named_struct(
                  'd', acc.d + CASE WHEN c IN ('{', '[') THEN 1 WHEN c IN ('}', ']') THEN -1 ELSE 0 END,
                  'z', acc.z + IF(c IN ('{', '[', '}', ']')
                                  AND acc.d + CASE WHEN c IN ('{', '[') THEN 1 ELSE -1 END = 0, 1, 0)),
                acc -> acc.z = 1 AND acc.d = 0)) AS shape_ok,
        IF(fast, ${at('f', 'timestamp')}, ${jsonString(key('timestamp'))}) AS ts,
        IF(fast, ${at('f', 'user')}, ${jsonString(key('user'))}) AS usr,
        IF(fast, ${at('f', 'task')}, ${jsonString(key('task'))}) AS task,
        IF(fast, true, coalesce(st BETWEEN ${RULES.status.min} AND ${RULES.status.max} AND st % 1 = 0, false)) AS status_ok,
        IF(fast, CAST(${at('f', 'duration')} AS BIGINT),
           IF(coalesce(du BETWEEN 0 AND :max_duration AND du % 1 = 0, false), CAST(du AS BIGINT), NULL)) AS dur,
        true AS isjson
      FROM (SELECT *, ${jsonNumber(key('status'))} AS st, ${jsonNumber(key('duration'))} AS du
            FROM (SELECT *, IF(NOT fast AND utf8 AND NOT too_long AND NOT blank, try_parse_json(s), NULL) AS v
                  FROM ${prepared(JSONL_VIEW, ':re_fast_json', `'"'`, cond)}))`);
  }
  if (parts.length === 0) throw new Error('billingQuery: no input views');

  // Timestamp parts: from the exact regex for lines off the fast path; for fast lines only
  // when a window needs the instant (the fast path already checked the calendar).
  const fastParts = commonTsParts('ts');
  const tsPart = (group: number, fast: string) =>
    `IF(fast, ${windowOpen ? 'NULL' : fast}, try_cast(regexp_extract(ts, :re_ts, ${group}) AS INT))`;
  const sumExpr = options.exactSums ? 'CAST(sum(CAST(dur AS DECIMAL(38, 0))) AS STRING)' : 'try_sum(dur)';

  const query = `
WITH
  shaped AS (
    ${parts.map((p) => `SELECT ${SHAPED} FROM (${p})`).join('\n    UNION ALL ')}
  ),
  timed AS (
    SELECT *,
      ${tsPart(1, fastParts.y)} AS y, ${tsPart(2, fastParts.mo)} AS mo, ${tsPart(3, fastParts.d)} AS d,
      ${tsPart(4, fastParts.hh)} AS hh, ${tsPart(5, fastParts.mi)} AS mi, ${tsPart(6, fastParts.se)} AS se,
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
        WHEN NOT utf8 THEN ${reason('bad_encoding')}
        WHEN NOT isjson AND NOT shape_ok THEN ${reason('bad_field_count')}
        WHEN isjson AND NOT shape_ok THEN ${reason('bad_json')}
        WHEN NOT coalesce(ts RLIKE :re_ts AND ${calendarOk({ y: 'y', mo: 'mo', d: 'd', hh: 'hh', mi: 'mi', se: 'se' })}
               AND oh BETWEEN ${T.offsetHour[0]} AND ${T.offsetHour[1]} AND om BETWEEN ${T.offsetMinute[0]} AND ${T.offsetMinute[1]}, false)
          THEN ${reason('bad_timestamp')}
        WHEN usr IS NULL OR octet_length(usr) < ${RULES.user.minBytes} OR octet_length(usr) > :max_user OR usr RLIKE :re_user_bad THEN ${reason('bad_user')}
        WHEN task IS NULL OR NOT array_contains(array(${taskParams.join(', ')}), task) THEN ${reason('unknown_task')}
        WHEN NOT status_ok THEN ${reason('bad_status')}
        WHEN dur IS NULL THEN ${reason('bad_duration')}
      END AS reason
    FROM timed
  ),
  classified AS (
    SELECT *,
      CASE WHEN blank THEN ${KIND.blank} WHEN reason IS NOT NULL THEN ${KIND.reject} WHEN ${inWindow} THEN ${KIND.ok} ELSE ${KIND.out} END AS kind
    FROM (SELECT *,
      -- days from civil (proleptic Gregorian), as engine/core/validation/timestamp.ts daysFromCivil
      ${
        windowOpen
          ? 'CAST(NULL AS BIGINT)'
          : `(CAST(floor((IF(mo <= 2, y - 1, y)) / 400) AS BIGINT) * 146097
          + (IF(mo <= 2, y - 1, y) - CAST(floor((IF(mo <= 2, y - 1, y)) / 400) AS BIGINT) * 400) * 365
          + CAST(floor((IF(mo <= 2, y - 1, y) - CAST(floor((IF(mo <= 2, y - 1, y)) / 400) AS BIGINT) * 400) / 4) AS BIGINT)
          - CAST(floor((IF(mo <= 2, y - 1, y) - CAST(floor((IF(mo <= 2, y - 1, y)) / 400) AS BIGINT) * 400) / 100) AS BIGINT)
          + CAST(floor((153 * ((mo + 9) % 12) + 2) / 5) AS BIGINT) + d - 1 - 719468) * 86400
          + hh * 3600 + mi * 60 + se - osign * (oh * 3600 + om * 60)`
      } AS ts_sec
      FROM judged)
  )
SELECT k, r, usr, task, path, bs, id, raw, count(*) AS n, ${sumExpr} AS dur
FROM (
  SELECT CAST(kind AS TINYINT) AS k,
    IF(kind = ${KIND.reject}, reason, NULL) AS r,
    IF(kind = ${KIND.ok}, usr, NULL) AS usr,
    IF(kind = ${KIND.ok}, task, NULL) AS task,
    IF(kind = ${KIND.ok}, dur, NULL) AS dur,
    IF(kind = ${KIND.reject}, path, NULL) AS path,
    IF(kind = ${KIND.reject}, bs, NULL) AS bs,
    IF(kind = ${KIND.reject}, id, NULL) AS id,
    IF(kind = ${KIND.reject}, substr(b, 1, :max_raw), NULL) AS raw
  FROM classified
)
GROUP BY k, r, usr, task, path, bs, id, raw
`;
  return { query, args };
}
