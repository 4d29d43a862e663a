/**
 * The DuckDB reference: the same bill as `mr aggregate` written as one SQL query over
 * `read_csv`, run by @duckdb/node-api in its own process (the harness spawns it like any
 * engine). Usage:
 *
 *     node dist/bench/duckdb-billing.js FILE --out BILL [--threads 2] [--simplest | --dedupe]
 *
 * The format is FILE's extension's (`.csv`, `.jsonl`/`.ndjson`, else space), before a `.gz`,
 * which DuckDB decompresses by the name.
 *
 * --simplest runs instead the simplest query a DuckDB user would write for a clean file
 * (duckdb-sql.ts simplestSql; space, CSV or JSON lines): per user the sum of the durations,
 * written as `user: total_duration=Nms` lines. No validation, so it is timed, never compared.
 * --dedupe (JSON lines): the bill with only the first valid record of each request_id
 * (`QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY file, line) = 1`).
 *
 * Rates, CURRENCY_DECIMALS and MAX_DURATION_MS come from the environment (RATE_<task>=...).
 * The validation is what SQL can easily say of SPEC.md's field rules: wrong field count
 * (skipped by read_csv), RFC 3339 timestamp shape and a real calendar date-time, user of 1 to
 * 128 bytes without whitespace or control characters, a task with a rate, status 100..599,
 * duration `<digits>ms` (space format) or digits with an optional `ms` (CSV) up to
 * MAX_DURATION_MS. Lines that are not valid UTF-8 are skipped by read_csv's ignore_errors.
 * Not covered: several spaces or tabs between fields of the space format, CRLF, BOM, quoted
 * CSV fields with commas. The datasets the harness generates have none of these, and the
 * harness checks the per-user totals against mr's billing.txt before the time counts.
 *
 * Output: BILL in billing.txt's format (`user: total_duration=Nms, total_cost=C`), sorted by
 * user bytes; one JSON line on stdout with rows, users and seconds.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { billingSql, fixedPlaces, ratesFromEnv, simplestSql, type SqlInput } from './duckdb-sql.js';
import { readCsvHeader } from '../engine/core/formats/csv-header.js';

interface Args {
  file: string;
  out: string;
  threads: number;
  format: 'space' | 'csv' | 'jsonl';
  simplest: boolean;
  dedupe: boolean;
}

function parseArgs(argv: string[]): Args {
  let file: string | undefined;
  let out: string | undefined;
  let threads = 2;
  let simplest = false;
  let dedupe = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--simplest') simplest = true;
    else if (a === '--dedupe') dedupe = true;
    else if (a === '--out') out = argv[++i];
    else if (a === '--threads') threads = Number(argv[++i]);
    else if (file === undefined) file = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (file === undefined || out === undefined || !(threads >= 1) || (simplest && dedupe)) {
    throw new Error('usage: duckdb-billing FILE --out BILL [--threads N] [--simplest | --dedupe]');
  }
  return { file, out, threads, simplest, dedupe, format: /\.csv(\.gz)?$/i.test(file) ? 'csv' : /\.(jsonl|ndjson)(\.gz)?$/i.test(file) ? 'jsonl' : 'space' };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // A CSV file's columns by its header, as mr reads them (any order, aliases, other columns): read_csv binds them by position.
  const header = args.format === 'csv' && !/\.gz$/i.test(args.file) ? readCsvHeader(args.file) : undefined;
  const a: Args & SqlInput = header === undefined ? args : { ...args, csv: header.layout };
  const rates = ratesFromEnv(process.env);
  const decimals = Number(process.env.CURRENCY_DECIMALS ?? 2);
  const maxDurationMs = Number(process.env.MAX_DURATION_MS ?? 86_400_000);
  const started = performance.now();
  const instance = await DuckDBInstance.create(':memory:', { threads: String(a.threads) });
  const connection = await instance.connect();
  if (a.simplest) {
    const rows = (await connection.runAndReadAll(simplestSql(a))).getRowsJS() as Array<[string, bigint | null]>;
    writeFileSync(a.out, rows.map(([usr, duration]) => `${usr}: total_duration=${duration ?? 0}ms\n`).join(''));
    connection.closeSync();
    instance.closeSync();
    process.stdout.write(`${JSON.stringify({ engine: 'duckdb-simplest', threads: a.threads, users: rows.length, seconds: (performance.now() - started) / 1000 })}\n`);
    return;
  }
  const reader = await connection.runAndReadAll(billingSql(a, rates, decimals, maxDurationMs, { dedupe: a.dedupe }));
  const rows = reader.getRowsJS() as Array<[string, string, string, bigint]>;
  let bill = '';
  let accepted = 0n;
  for (const [usr, duration, cost, requests] of rows) {
    bill += `${usr}: total_duration=${duration}ms, total_cost=${fixedPlaces(cost, decimals)}\n`;
    accepted += BigInt(requests);
  }
  writeFileSync(a.out, bill);
  connection.closeSync();
  instance.closeSync();
  process.stdout.write(
    `${JSON.stringify({ engine: a.dedupe ? 'duckdb-dedupe' : 'duckdb', threads: a.threads, users: rows.length, accepted: Number(accepted), seconds: (performance.now() - started) / 1000 })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`duckdb-billing: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
