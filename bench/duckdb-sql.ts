/**
 * The DuckDB reference's SQL (used by duckdb-billing.ts): the bill as one query over
 * `read_csv` (or `read_json` for JSON lines, optionally deduplicated by request id),
 * validating what SQL can easily say of SPEC.md's field rules; and the simplest query over a
 * clean file, for scale.
 */
import type { CsvLayout } from '../engine/core/formats/csv.js';

export interface SqlInput {
  readonly file: string;
  readonly format: 'space' | 'csv' | 'jsonl';
  /**
   * A CSV file's columns, from its header by mr's own rules (core csvLayout: any order, the
   * aliases, other columns); absent: the contract's five in its order.
   */
  readonly csv?: Pick<CsvLayout, 'fieldCount' | 'timestamp' | 'user' | 'task' | 'status' | 'duration'>;
}

const CONTRACT_ORDER = { fieldCount: 5, timestamp: 0, user: 1, task: 2, status: 3, duration: 4 } as const;

/**
 * A CSV file's columns for read_csv, which binds `columns` by position: every column of the
 * file in its order, named c0, c1, … and typed by `type` (which gets the contract field a
 * column holds, if any); and each contract field's column name.
 */
function csvColumns(a: SqlInput, type: (field: string | undefined) => string): { struct: string; col: (field: 'timestamp' | 'user' | 'task' | 'status' | 'duration') => string } {
  const layout = a.csv ?? CONTRACT_ORDER;
  const fields = ['timestamp', 'user', 'task', 'status', 'duration'] as const;
  const fieldAt = (i: number) => fields.find((f) => layout[f] === i);
  const struct = `{${Array.from({ length: layout.fieldCount }, (_, i) => `'c${i}': '${type(fieldAt(i))}'`).join(', ')}}`;
  return { struct, col: (field) => `c${layout[field]}` };
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** RATE_<task>=<decimal> from the environment, validated as SPEC.md says (at most 12 fractional digits). */
export function ratesFromEnv(env: NodeJS.ProcessEnv): Array<[string, string]> {
  const rates: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('RATE_') || v === undefined) continue;
    const text = v.trim();
    if (!/^\d+(\.\d{1,12})?$/.test(text)) throw new Error(`${k}=${JSON.stringify(v)} is not a decimal with at most 12 fractional digits`);
    rates.push([k.slice(5), text]);
  }
  if (rates.length === 0) throw new Error('no RATE_<task> variables set');
  return rates;
}

/**
 * The simplest query a DuckDB user would write for a clean file: the file read with its
 * columns as given (read_csv / read_json, types declared, rows that do not fit skipped),
 * GROUP BY user, the sum of the durations. Validates nothing, so its output is not a bill.
 */
export function simplestSql(a: SqlInput): string {
  const typed = "{'timestamp': 'VARCHAR', 'user': 'VARCHAR', 'task': 'VARCHAR', 'status': 'INTEGER', 'duration_ms': 'BIGINT'}";
  const f = sqlString(a.file);
  switch (a.format) {
    case 'csv': {
      // The columns as the header gives them (read_csv binds them by position), the numbers typed.
      const { struct, col } = csvColumns(a, (field) => (field === 'status' ? 'INTEGER' : field === 'duration' ? 'BIGINT' : 'VARCHAR'));
      return `SELECT ${col('user')} AS usr, sum(${col('duration')}) AS duration_ms FROM read_csv(${f}, header=true, columns=${struct}, ignore_errors=true) GROUP BY ${col('user')}`;
    }
    case 'jsonl':
      return `SELECT "user" AS usr, sum(duration_ms) AS duration_ms FROM read_json(${f}, format='newline_delimited', columns=${typed}, ignore_errors=true) GROUP BY "user"`;
    case 'space':
      // The duration carries its unit (`1568ms`): the one step a clean space-separated file needs.
      return `SELECT usr, sum(try_cast(replace(dur, 'ms', '') AS BIGINT)) AS duration_ms FROM read_csv(${f}, delim=' ', header=false, columns={'ts': 'VARCHAR', 'usr': 'VARCHAR', 'task': 'VARCHAR', 'status': 'VARCHAR', 'dur': 'VARCHAR'}, ignore_errors=true) GROUP BY usr`;
  }
}

/**
 * The lines as text columns (ts, usr, task, status, dur) from the format's reader. JSON lines
 * also give the request id (`rid`), the file and the line number (`line`, from WITH
 * ORDINALITY: the scan's row order, which is the file's line order), and take a status or
 * duration only when it is a JSON integer (its digits then meet the same patterns).
 */
function linesSource(a: SqlInput): string {
  const columns = "{'ts': 'VARCHAR', 'usr': 'VARCHAR', 'task': 'VARCHAR', 'status': 'VARCHAR', 'dur': 'VARCHAR'}";
  const f = sqlString(a.file);
  switch (a.format) {
    case 'csv': {
      const { struct, col } = csvColumns(a, () => 'VARCHAR');
      return `SELECT ${col('timestamp')} AS ts, ${col('user')} AS usr, ${col('task')} AS task, ${col('status')} AS status, ${col('duration')} AS dur
  FROM read_csv(${f}, delim=',', quote='"', escape='"', header=true, auto_detect=false, columns=${struct}, ignore_errors=true, max_line_size=65536)`;
    }
    case 'space':
      return `SELECT * FROM read_csv(${f}, delim=' ', quote='', escape='', header=false, auto_detect=false, columns=${columns}, ignore_errors=true, max_line_size=65536)`;
    case 'jsonl': {
      const json = "{'request_id': 'VARCHAR', 'timestamp': 'VARCHAR', 'user': 'VARCHAR', 'task': 'VARCHAR', 'status': 'JSON', 'duration_ms': 'JSON'}";
      const int = (c: string) => `CASE WHEN json_type(${c}) IN ('UBIGINT', 'BIGINT') THEN CAST(${c} AS VARCHAR) END`;
      return `SELECT request_id AS rid, filename AS file, ordinality AS line, "timestamp" AS ts, "user" AS usr, task, ${int('status')} AS status, ${int('duration_ms')} AS dur
  FROM read_json(${f}, format='newline_delimited', columns=${json}, filename=true, ignore_errors=true, maximum_object_size=65536) WITH ORDINALITY`;
    }
  }
}

/**
 * The billing query: GROUP BY user, task (count, sum of duration), then exact cost per user,
 * rounded once. Space and CSV formats; JSON lines with `request_id` (checked like the user
 * id when present) and, with `dedupe`, only the first valid record of each id billed:
 * `QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY file, line) = 1` (SPEC
 * "Duplicate deliveries": first in input order among the valid records).
 */
export function billingSql(a: SqlInput, rates: Array<[string, string]>, decimals: number, maxDurationMs: number, opts: { dedupe?: boolean } = {}): string {
  const ids = a.format === 'jsonl';
  if (opts.dedupe && !ids) throw new Error('the dedupe bill query reads JSON lines only');
  const durPattern = a.format === 'csv' ? '[0-9]{1,15}(ms)?' : a.format === 'jsonl' ? '[0-9]{1,15}' : '[0-9]{1,15}ms';
  const values = rates.map(([t, r]) => `(${sqlString(t)}, CAST(${sqlString(r)} AS DECIMAL(38,12)))`).join(', ');
  const idRule = ids ? `\n    AND (rid IS NULL OR rid = '' OR (strlen(rid) <= 128 AND NOT regexp_matches(rid, '[[:space:][:cntrl:]]')))` : '';
  const billed = opts.dedupe
    ? `SELECT usr, task, ms FROM valid QUALIFY rid IS NULL OR rid = '' OR row_number() OVER (PARTITION BY rid ORDER BY file, line) = 1`
    : 'SELECT usr, task, ms FROM valid';
  return `
WITH rates(task, rate) AS (VALUES ${values}),
lines AS (${linesSource(a)}),
valid AS (
  SELECT ${ids ? 'rid, file, line, ' : ''}usr, task, CAST(regexp_extract(dur, '^([0-9]+)', 1) AS BIGINT) AS ms
  FROM lines
  WHERE regexp_full_match(ts, '[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])')
    AND try_strptime(upper(substr(ts, 1, 19)), '%Y-%m-%dT%H:%M:%S') IS NOT NULL
    AND strlen(usr) BETWEEN 1 AND 128
    AND NOT regexp_matches(usr, '[[:space:][:cntrl:]]')
    AND task IN (SELECT task FROM rates)
    AND regexp_full_match(status, '[0-9]{3}') AND CAST(status AS INTEGER) BETWEEN 100 AND 599
    AND regexp_full_match(dur, '${durPattern}')
    AND CAST(regexp_extract(dur, '^([0-9]+)', 1) AS BIGINT) <= ${maxDurationMs}${idRule}
),
billed AS (${billed}),
per_task AS (
  SELECT usr, task, count(*) AS requests, sum(ms) AS duration_ms FROM billed GROUP BY usr, task
)
SELECT usr,
       CAST(sum(duration_ms) AS VARCHAR) AS duration_ms,
       CAST(round(sum(CAST(duration_ms AS DECIMAL(38,0)) * rate), ${decimals}) AS VARCHAR) AS cost,
       sum(requests) AS requests
FROM per_task JOIN rates USING (task)
GROUP BY usr
ORDER BY usr`;
}

/** DuckDB prints a rounded DECIMAL with its full scale; billing.txt has exactly `decimals` places. */
export function fixedPlaces(text: string, decimals: number): string {
  const [int, frac = ''] = text.split('.');
  if (decimals === 0) return int!;
  return `${int}.${frac.padEnd(decimals, '0').slice(0, decimals)}`;
}

