/**
 * The billing contract as one Spark SQL query (SPEC "Input", "Field rules", "Time window").
 *
 * Input views (one per format present, made by run.ts from a `text` read with lineSep "\n")
 * have columns: b (the line's bytes, BOM at file start already dropped by Hadoop's line
 * reader), path (_metadata.file_path), bs (_metadata.file_block_start), id
 * (monotonically_increasing_id(): read order inside a split).
 *
 * Every rule mirrors engine/core (lines.ts, csv.ts, records.ts, fields.ts, timestamp.ts);
 * regular expressions are passed as named parameters so no SQL escaping stands between
 * them and the JavaScript originals. Java regex notes: `\z` (not `$`, which also matches
 * before a final line terminator), possessive quantifiers where a long line could
 * otherwise overflow the regex engine's stack.
 *
 * Result rows (one query, one pass over the input):
 *   kind 'ok'      user, task, n (requests), dur (duration sum as decimal text)
 *   kind 'out'     n (records out of the time window)
 *   kind 'reject'  reason, path, bs, id, raw (first 1 KiB of the line's bytes); n = 1
 *   kind 'header'  path, header (the CSV header line), layout columns (1-based, 0 absent)
 */
import type { Format } from '../../engine/core/formats/format.js';
import { MAX_LINE_BYTES, MAX_REJECT_RAW_BYTES, MAX_USER_BYTES } from '../../engine/core/validation/reasons.js';
import type { BillingConfig } from '../../engine/core/config/config.js';
import type { TimeWindow } from '../../engine/core/validation/timestamp.js';
import type { SqlValue } from '../connect/plan.js';

export const VIEW_OF_FORMAT: Readonly<Record<Format, string>> = {
  space: 'mr_in_space',
  csv: 'mr_in_csv',
  jsonl: 'mr_in_jsonl',
};

/** Regular expressions (Java syntax), bound as parameters. */
export const PATTERNS = {
  blank: String.raw`^[ \t]*\z`,
  spaceTrim: String.raw`^[ \t]+|[ \t]+\z`,
  spaceSplit: String.raw`[ \t]+`,
  csvLine: String.raw`^(?:"[^"]*+(?:""[^"]*+)*+"|[^",]*+)(?:,(?:"[^"]*+(?:""[^"]*+)*+"|[^",]*+))*+\z`,
  csvField: String.raw`,("[^"]*+(?:""[^"]*+)*+"|[^",]*+)`,
  /** JavaScript String.prototype.trim's white space (WhiteSpace + LineTerminator). */
  jsTrim: String.raw`^[\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]+|[\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]+\z`,
  timestamp: String.raw`^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\z`,
  /** A character a user id may not hold: C0/C1 controls, space, DEL, NBSP and the other White_Space code points. */
  userBad: String.raw`[\x{00}-\x{20}\x{7F}-\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]`,
  digits: String.raw`^[0-9]+\z`,
  leadingZeros: String.raw`^0+(?!\z)`,
  durationSpace: String.raw`^([0-9]+)ms\z`,
  durationCsv: String.raw`^([0-9]+)(?:ms)?\z`,
  jsonStart: String.raw`^[ \t\r\n]*\{`,
  jsonEnd: String.raw`\}[ \t\r\n]*\z`,
  /** A JSON string literal (valid JSON assumed: it only runs on lines try_parse_json accepted). */
  jsonString: String.raw`"[^"\\]*+(?:\\.[^"\\]*+)*+"`,
  notBracket: String.raw`[^\[\]{}]`,
  trailingZeros: String.raw`0+\z`,
} as const;

export interface BillingQuery {
  readonly query: string;
  readonly args: Record<string, SqlValue>;
}

const NUMERIC_VARIANT = `IN ('BIGINT', 'INT', 'SMALLINT', 'TINYINT', 'DOUBLE', 'FLOAT')`;

/** Fields of a CSV line (unquoted), or NULL when its quoting is malformed. */
function csvFields(s: string): string {
  return `IF(${s} RLIKE :re_csv_line,
      transform(regexp_extract_all(concat(',', ${s}), :re_csv_field, 1),
                f -> IF(startswith(f, '"'), replace(substr(f, 2, length(f) - 2), '""', '"'), f)),
      NULL)`;
}

/** The CSV field at a 1-based header position (0: the header lacks the column, NULL then). */
function column(position: string): string {
  return `IF(${position} > 0, element_at(f, ${position}), NULL)`;
}

/** Digits (leading zeros allowed) → BIGINT, NULL when not digits or absurdly long. */
function digitsValue(d: string): string {
  return `IF(length(regexp_replace(${d}, :re_leading_zeros, '')) > 18, NULL, try_cast(regexp_replace(${d}, :re_leading_zeros, '') AS BIGINT))`;
}

/** Status text rule: ASCII digits, 100..599. */
function statusTextOk(s: string): string {
  return `(${s} RLIKE :re_digits AND coalesce(${digitsValue(s)} BETWEEN 100 AND 599, false))`;
}

/** Duration text rule → BIGINT milliseconds or NULL (space: `ms` required; CSV: optional). */
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

export function billingQuery(formats: readonly Format[], config: BillingConfig, window: TimeWindow): BillingQuery {
  const args: Record<string, SqlValue> = {
    max_line: MAX_LINE_BYTES,
    max_raw: MAX_REJECT_RAW_BYTES,
    max_user: MAX_USER_BYTES,
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

  const raw = formats
    .map((f) => `SELECT '${f}' AS fmt, b, path, bs, id FROM ${VIEW_OF_FORMAT[f]}`)
    .join('\n    UNION ALL ');

  // The common shape every format is brought to before the field rules:
  // fmt, path, bs, id, b, too_long, utf8, shape_ok, ts, usr, task, status_ok, dur.
  const parts: string[] = [];
  const plain = `fmt, path, bs, id, b, too_long, utf8`;
  if (formats.includes('space')) {
    parts.push(`SELECT ${plain},
        size(f) = 5 AS shape_ok, f[0] AS ts, f[1] AS usr, f[2] AS task,
        ${statusTextOk('f[3]')} AS status_ok, ${durationText('f[4]', ':re_dur_space')} AS dur
      FROM (SELECT *, IF(utf8 AND NOT too_long, split(regexp_replace(s, :re_space_trim, ''), :re_space_split), NULL) AS f
            FROM lines WHERE fmt = 'space')`);
  }
  if (formats.includes('csv')) {
    parts.push(`SELECT ${plain},
        coalesce(size(f) = h_count, false) AS shape_ok,
        ${column('h_ts')} AS ts, ${column('h_user')} AS usr, ${column('h_task')} AS task,
        ${statusTextOk(column('h_status'))} AS status_ok,
        ${durationText(column('h_duration'), ':re_dur_csv')} AS dur
      FROM (SELECT *, IF(utf8 AND NOT too_long, ${csvFields('s')}, NULL) AS f FROM csv_data)`);
  }
  if (formats.includes('jsonl')) {
    parts.push(`SELECT ${plain},
        v IS NOT NULL AND s RLIKE :re_json_start AND s RLIKE :re_json_end
          AND aggregate(
                split(regexp_replace(regexp_replace(s, :re_json_string, ''), :re_not_bracket, ''), ''),
                named_struct('d', 0, 'z', 0),
                (acc, c) -> named_struct(
                  'd', acc.d + CASE WHEN c IN ('{', '[') THEN 1 WHEN c IN ('}', ']') THEN -1 ELSE 0 END,
                  'z', acc.z + IF(c IN ('{', '[', '}', ']')
                                  AND acc.d + CASE WHEN c IN ('{', '[') THEN 1 ELSE -1 END = 0, 1, 0)),
                acc -> acc.z = 1 AND acc.d = 0) AS shape_ok,
        ${jsonString(`variant_get(v, '$.timestamp')`)} AS ts,
        ${jsonString(`variant_get(v, '$.user')`)} AS usr,
        ${jsonString(`variant_get(v, '$.task')`)} AS task,
        coalesce(st BETWEEN 100 AND 599 AND st % 1 = 0, false) AS status_ok,
        IF(coalesce(du BETWEEN 0 AND :max_duration AND du % 1 = 0, false), CAST(du AS BIGINT), NULL) AS dur
      FROM (SELECT *, ${jsonNumber(`variant_get(v, '$.status')`)} AS st, ${jsonNumber(`variant_get(v, '$.duration_ms')`)} AS du
            FROM (SELECT *, IF(utf8 AND NOT too_long, try_parse_json(s), NULL) AS v FROM lines WHERE fmt = 'jsonl'))`);
  }

  const csvCtes = formats.includes('csv')
    ? `,
  csv_ranked AS (
    SELECT *,
      row_number() OVER (PARTITION BY path ORDER BY bs, id) AS rn,
      first_value(s) OVER (PARTITION BY path ORDER BY bs, id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS header
    FROM lines WHERE fmt = 'csv' AND NOT too_long
  ),
  csv_headed AS (
    SELECT *, size(hf) AS h_count,
      CAST(array_position(hn, 'timestamp') AS INT) AS h_ts,
      CAST(coalesce(nullif(array_position(hn, 'user'), 0), array_position(hn, 'user_id')) AS INT) AS h_user,
      CAST(array_position(hn, 'task') AS INT) AS h_task,
      CAST(array_position(hn, 'status') AS INT) AS h_status,
      CAST(coalesce(nullif(array_position(hn, 'duration_ms'), 0), array_position(hn, 'duration')) AS INT) AS h_duration
    FROM (SELECT *, transform(hf, x -> lower(regexp_replace(x, :re_js_trim, ''))) AS hn
          FROM (SELECT *, ${csvFields('header')} AS hf FROM csv_ranked))
  ),
  csv_data AS (
    SELECT fmt, path, bs, id, b, too_long, utf8, s,
      CAST(NULL AS BIGINT) AS h_count, 0 AS h_ts, 0 AS h_user, 0 AS h_task, 0 AS h_status, 0 AS h_duration
    FROM lines WHERE fmt = 'csv' AND too_long
    UNION ALL
    SELECT fmt, path, bs, id, b, too_long, utf8, s, h_count, h_ts, h_user, h_task, h_status, h_duration
    FROM csv_headed WHERE rn > 1
  )`
    : '';

  const headerSelect = formats.includes('csv')
    ? `
UNION ALL
SELECT 'header' AS kind, CAST(NULL AS STRING) AS reason, CAST(NULL AS STRING) AS usr, CAST(NULL AS STRING) AS task,
  path, bs, id, CAST(1 AS BIGINT) AS n, CAST(NULL AS STRING) AS dur, CAST(header AS BINARY) AS raw,
  coalesce(h_count, -1) AS h_count, h_ts, h_user, h_task, h_status, h_duration
FROM csv_headed WHERE rn = 1`
    : '';

  const query = `
WITH
  raw AS (
    ${raw}
  ),
  framed AS (
    SELECT fmt, path, bs, id,
      IF(octet_length(b) > 0 AND substr(b, -1, 1) = X'0D', substr(b, 1, octet_length(b) - 1), b) AS b
    FROM raw
  ),
  lines AS (
    SELECT *, CAST(b AS STRING) AS s, octet_length(b) > :max_line AS too_long, is_valid_utf8(CAST(b AS STRING)) AS utf8
    FROM framed
    WHERE octet_length(b) > :max_line OR NOT (CAST(b AS STRING) RLIKE :re_blank)
  )${csvCtes},
  shaped AS (
    ${parts.join('\n    UNION ALL ')}
  ),
  timed AS (
    SELECT *,
      try_cast(regexp_extract(ts, :re_ts, 1) AS INT) AS y, try_cast(regexp_extract(ts, :re_ts, 2) AS INT) AS mo,
      try_cast(regexp_extract(ts, :re_ts, 3) AS INT) AS d, try_cast(regexp_extract(ts, :re_ts, 4) AS INT) AS hh,
      try_cast(regexp_extract(ts, :re_ts, 5) AS INT) AS mi, try_cast(regexp_extract(ts, :re_ts, 6) AS INT) AS se,
      regexp_replace(regexp_extract(ts, :re_ts, 7), :re_trailing_zeros, '') AS ts_frac,
      CASE WHEN regexp_extract(ts, :re_ts, 8) <> '' THEN 0 WHEN regexp_extract(ts, :re_ts, 9) = '-' THEN -1 ELSE 1 END AS osign,
      coalesce(try_cast(nullif(regexp_extract(ts, :re_ts, 10), '') AS INT), 0) AS oh,
      coalesce(try_cast(nullif(regexp_extract(ts, :re_ts, 11), '') AS INT), 0) AS om
    FROM shaped
  ),
  judged AS (
    SELECT *,
      CASE
        WHEN too_long THEN 'line_too_long'
        WHEN NOT utf8 THEN 'bad_encoding'
        WHEN fmt <> 'jsonl' AND NOT shape_ok THEN 'bad_field_count'
        WHEN fmt = 'jsonl' AND NOT shape_ok THEN 'bad_json'
        WHEN NOT ts_ok THEN 'bad_timestamp'
        WHEN usr IS NULL OR length(usr) = 0 OR octet_length(usr) > :max_user OR usr RLIKE :re_user_bad THEN 'bad_user'
        WHEN task IS NULL OR NOT array_contains(array(${taskParams.join(', ')}), task) THEN 'unknown_task'
        WHEN NOT status_ok THEN 'bad_status'
        WHEN dur IS NULL THEN 'bad_duration'
      END AS reason
    FROM (
      SELECT *,
        coalesce(ts RLIKE :re_ts AND mo BETWEEN 1 AND 12
          AND d BETWEEN 1 AND CASE WHEN mo = 2 THEN IF((y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0, 29, 28)
                                   WHEN mo IN (4, 6, 9, 11) THEN 30 ELSE 31 END
          AND hh <= 23 AND mi <= 59 AND se <= 59 AND oh <= 23 AND om <= 59, false) AS ts_ok,
        -- days from civil (proleptic Gregorian), as engine/core/validation/timestamp.ts daysFromCivil
        (CAST(floor((IF(mo <= 2, y - 1, y)) / 400) AS BIGINT) * 146097
          + (IF(mo <= 2, y - 1, y) - CAST(floor((IF(mo <= 2, y - 1, y)) / 400) AS BIGINT) * 400) * 365
          + CAST(floor((IF(mo <= 2, y - 1, y) - CAST(floor((IF(mo <= 2, y - 1, y)) / 400) AS BIGINT) * 400) / 4) AS BIGINT)
          - CAST(floor((IF(mo <= 2, y - 1, y) - CAST(floor((IF(mo <= 2, y - 1, y)) / 400) AS BIGINT) * 400) / 100) AS BIGINT)
          + CAST(floor((153 * ((mo + 9) % 12) + 2) / 5) AS BIGINT) + d - 1 - 719468) * 86400
          + hh * 3600 + mi * 60 + se - osign * (oh * 3600 + om * 60) AS ts_sec
      FROM timed
    )
  ),
  classified AS (
    SELECT
      CASE WHEN reason IS NOT NULL THEN 'reject' WHEN ${inWindow} THEN 'ok' ELSE 'out' END AS kind,
      reason, usr, task, dur, path, bs, id, b
    FROM judged
  )
SELECT kind, reason, usr, task, path, bs, id, count(*) AS n,
  CAST(sum(CAST(dur AS DECIMAL(38, 0))) AS STRING) AS dur, first(raw) AS raw,
  CAST(NULL AS INT) AS h_count, CAST(NULL AS INT) AS h_ts, CAST(NULL AS INT) AS h_user,
  CAST(NULL AS INT) AS h_task, CAST(NULL AS INT) AS h_status, CAST(NULL AS INT) AS h_duration
FROM (
  SELECT kind,
    IF(kind = 'reject', reason, NULL) AS reason,
    IF(kind = 'ok', usr, NULL) AS usr,
    IF(kind = 'ok', task, NULL) AS task,
    IF(kind = 'ok', dur, NULL) AS dur,
    IF(kind = 'reject', path, NULL) AS path,
    IF(kind = 'reject', bs, NULL) AS bs,
    IF(kind = 'reject', id, NULL) AS id,
    IF(kind = 'reject', substr(b, 1, :max_raw), NULL) AS raw
  FROM classified
)
GROUP BY kind, reason, usr, task, path, bs, id${headerSelect}
`;
  return { query, args };
}
