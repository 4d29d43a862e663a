/**
 * The DuckDB reference's SQL (used by duckdb-billing.ts): the bill as one query over
 * `read_csv`, validating what SQL can easily say of SPEC.md's field rules; and the simplest
 * query over a clean file, for scale.
 */

export interface SqlInput {
  readonly file: string;
  readonly format: 'space' | 'csv' | 'jsonl';
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
    case 'csv':
      return `SELECT "user" AS usr, sum(duration_ms) AS duration_ms FROM read_csv(${f}, header=true, columns=${typed}, ignore_errors=true) GROUP BY "user"`;
    case 'jsonl':
      return `SELECT "user" AS usr, sum(duration_ms) AS duration_ms FROM read_json(${f}, format='newline_delimited', columns=${typed}, ignore_errors=true) GROUP BY "user"`;
    case 'space':
      // The duration carries its unit (`1568ms`): the one step a clean space-separated file needs.
      return `SELECT usr, sum(try_cast(replace(dur, 'ms', '') AS BIGINT)) AS duration_ms FROM read_csv(${f}, delim=' ', header=false, columns={'ts': 'VARCHAR', 'usr': 'VARCHAR', 'task': 'VARCHAR', 'status': 'VARCHAR', 'dur': 'VARCHAR'}, ignore_errors=true) GROUP BY usr`;
  }
}

/** The billing query: GROUP BY user, task (count, sum of duration), then exact cost per user, rounded once. */
export function billingSql(a: SqlInput, rates: Array<[string, string]>, decimals: number, maxDurationMs: number): string {
  if (a.format === 'jsonl') throw new Error('the validating bill query reads the space and CSV formats only');
  const columns = "{'ts': 'VARCHAR', 'usr': 'VARCHAR', 'task': 'VARCHAR', 'status': 'VARCHAR', 'dur': 'VARCHAR'}";
  const source =
    a.format === 'csv'
      ? `read_csv(${sqlString(a.file)}, delim=',', quote='"', escape='"', header=true, auto_detect=false, columns=${columns}, ignore_errors=true, max_line_size=65536)`
      : `read_csv(${sqlString(a.file)}, delim=' ', quote='', escape='', header=false, auto_detect=false, columns=${columns}, ignore_errors=true, max_line_size=65536)`;
  const durPattern = a.format === 'csv' ? '[0-9]{1,15}(ms)?' : '[0-9]{1,15}ms';
  const values = rates.map(([t, r]) => `(${sqlString(t)}, CAST(${sqlString(r)} AS DECIMAL(38,12)))`).join(', ');
  return `
WITH rates(task, rate) AS (VALUES ${values}),
lines AS (SELECT * FROM ${source}),
valid AS (
  SELECT usr, task, CAST(regexp_extract(dur, '^([0-9]+)', 1) AS BIGINT) AS ms
  FROM lines
  WHERE regexp_full_match(ts, '[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])')
    AND try_strptime(upper(substr(ts, 1, 19)), '%Y-%m-%dT%H:%M:%S') IS NOT NULL
    AND strlen(usr) BETWEEN 1 AND 128
    AND NOT regexp_matches(usr, '[[:space:][:cntrl:]]')
    AND task IN (SELECT task FROM rates)
    AND regexp_full_match(status, '[0-9]{3}') AND CAST(status AS INTEGER) BETWEEN 100 AND 599
    AND regexp_full_match(dur, '${durPattern}')
    AND CAST(regexp_extract(dur, '^([0-9]+)', 1) AS BIGINT) <= ${maxDurationMs}
),
per_task AS (
  SELECT usr, task, count(*) AS requests, sum(ms) AS duration_ms FROM valid GROUP BY usr, task
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

