/**
 * `npm run bench -- --dedupe`: duplicate deliveries (issue 16's target: the parallel engine
 * deduplicating by request id on 1 GiB of JSON lines at least at DuckDB's throughput with the
 * same threads, under 512 MiB of peak RSS). One dataset, cached like the others: 1 GiB of
 * JSON lines, 1,000 users, every good record with a request id, 1% of the 100-line batches
 * delivered twice (right after the first delivery) and 1% of the re-delivered records
 * changed (conflicts), and the usual 0.07% bad lines. Billed with `--dedupe auto` (the
 * default) by the naive engine, the parallel engine (`--max-workers` workers) and DuckDB
 * (`duckdb-billing.js --dedupe`: the validating bill query with `QUALIFY row_number() OVER
 * (PARTITION BY request_id ORDER BY file, line) = 1`, `--duckdb-threads` threads), in turn
 * for `--rounds` rounds (a change of load on a shared machine touches every engine alike);
 * each engine's time is its fastest run.
 *
 * Checked before a time counts: every run's billing.txt is the same bytes, with the same
 * accepted count; the mr engines' duplicate and conflict counts agree, and the conflicts
 * are exactly the records the generator changed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDataset, type DatasetSpec } from './datasets.js';
import { childEnv, commandFor, naive, parallel, type Engine } from './engines.js';
import { preRead } from './measure.js';
import { runChild } from './child.js';
import { DUCKDB_SCRIPT, REPO_ROOT } from './paths.js';
import { textTable } from './report.js';

export const DEDUPE_SET: DatasetSpec = { format: 'jsonl', sizeMiB: 1024, users: 1000, redeliver: { share: 0.01, conflicts: 0.01 } };
const CPU_HOOK = join(REPO_ROOT, 'dist', 'bench', 'cpu-hook.js');

interface Row {
  readonly engine: string;
  seconds: number[];
  /** CPU seconds (user + system, threads included) of each run. */
  cpu: number[];
  /** Peak RSS of each run, MiB. */
  rssMiB: number[];
}

/** What every run must agree on. */
interface Outcome {
  readonly bill: string;
  readonly accepted: number;
  /** mr engines only: duplicates and conflicting duplicates from billing.summary.json. */
  readonly duplicates?: number;
  readonly conflicting?: number;
}

export interface DedupeBenchOptions {
  readonly maxWorkers: number;
  readonly duckdbThreads: number;
  readonly rounds: number;
  readonly out: string;
  readonly regenerate?: boolean;
  readonly log: (line: string) => void;
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const DUCKDB = 'duckdb-dedupe';

/** The command of one engine's run (DuckDB's dedupe query, or an mr engine with --dedupe auto). */
function command(engine: Engine | typeof DUCKDB, threads: number, input: string, bill: string): string[] {
  if (engine === DUCKDB) return [DUCKDB_SCRIPT, input, '--out', bill, '--threads', String(threads), '--dedupe'];
  return [...commandFor(engine, input, bill), '--dedupe', 'auto'];
}

function outcomeOf(engine: string, bill: string, stdout: string): Outcome {
  if (engine === DUCKDB) {
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as { accepted: number };
    return { bill: sha(bill), accepted: report.accepted };
  }
  const summary = JSON.parse(readFileSync(bill.replace(/\.txt$/, '.summary.json'), 'utf8')) as { accepted: number; duplicates: number; conflicting_duplicates: number };
  return { bill: sha(bill), accepted: summary.accepted, duplicates: summary.duplicates, conflicting: summary.conflicting_duplicates };
}

/** Runs the case; returns false when a run failed or outcomes differ. */
export async function dedupeBench(o: DedupeBenchOptions): Promise<boolean> {
  const ds = await ensureDataset(DEDUPE_SET, { regenerate: o.regenerate, log: o.log });
  const engines: Array<Engine | typeof DUCKDB> = [naive(), parallel(o.maxWorkers), DUCKDB];
  const idOf = (e: Engine | typeof DUCKDB) => (e === DUCKDB ? DUCKDB : e.id);
  o.log(`dedupe case: ${ds.id} (${ds.records} lines, ${ds.redelivered} re-delivered, ${ds.changed} changed); ${o.rounds} rounds of ${engines.map(idOf).join(', ')}`);
  await preRead(ds.path);
  const work = mkdtempSync(join(tmpdir(), 'mr-bench-dedupe-'));
  const rows: Row[] = engines.map((e) => ({ engine: idOf(e), seconds: [], cpu: [], rssMiB: [] }));
  let expected: Outcome | null = null;
  let counts: Outcome | null = null;
  const problems: string[] = [];
  try {
    for (let round = 1; round <= o.rounds; round++) {
      for (const engine of engines) {
        const id = idOf(engine);
        const bill = join(work, 'billing.txt');
        const cpuFile = join(work, 'cpu');
        rmSync(bill, { force: true });
        rmSync(cpuFile, { force: true });
        const argv = ['--import', CPU_HOOK, ...command(engine, o.duckdbThreads, ds.path, bill)];
        const r = await runChild(process.execPath, argv, { env: { ...childEnv(), MR_BENCH_CPU_FILE: cpuFile }, cwd: work, measureRss: true });
        if (r.code !== 0 || !existsSync(bill)) {
          problems.push(`${id} exited with ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
          continue;
        }
        const got = outcomeOf(id, bill, r.stdout);
        expected ??= got;
        if (got.bill !== expected.bill || got.accepted !== expected.accepted) {
          problems.push(`${id}: billing.txt ${got.bill.slice(0, 12)} with ${got.accepted} accepted, against ${expected.bill.slice(0, 12)} with ${expected.accepted}`);
          continue;
        }
        if (got.duplicates !== undefined) {
          counts ??= got;
          if (got.duplicates !== counts.duplicates || got.conflicting !== counts.conflicting || got.conflicting !== ds.changed) {
            problems.push(`${id}: ${got.duplicates} duplicates, ${got.conflicting} conflicting; first mr run ${counts.duplicates}, ${counts.conflicting}; generator changed ${ds.changed}`);
            continue;
          }
        }
        const cpu = readFileSync(cpuFile, 'utf8').split(' ').reduce((a, b) => a + Number(b) / 1e6, 0);
        const row = rows.find((x) => x.engine === id)!;
        row.seconds.push(r.seconds);
        row.cpu.push(cpu);
        row.rssMiB.push((r.peakRssBytes ?? NaN) / 1048576);
        o.log(`  round ${round}: ${id} ${r.seconds.toFixed(2)} s, CPU ${cpu.toFixed(2)} s, peak RSS ${((r.peakRssBytes ?? NaN) / 1048576).toFixed(0)} MiB`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const mib = ds.bytes / 1048576;
  const best = (xs: number[]) => (xs.length > 0 ? Math.min(...xs) : NaN);
  const duck = rows.find((r) => r.engine === DUCKDB)!;
  const table = rows.map((r) => {
    const [t, c] = [best(r.seconds), best(r.cpu)];
    return [
      r.engine,
      r.seconds.map((s) => s.toFixed(1)).join(' '),
      t.toFixed(2),
      (mib / t).toFixed(1),
      (best(duck.seconds) / t).toFixed(2),
      r.cpu.map((s) => s.toFixed(1)).join(' '),
      (best(duck.cpu) / c).toFixed(2),
      Math.max(...r.rssMiB).toFixed(0),
    ];
  });
  const header = ['engine', 'wall s', 'best s', 'MiB/s', '× DuckDB', 'CPU s', '× DuckDB CPU', 'peak RSS MiB'];
  process.stdout.write(`\n${textTable(header, table)}\n`);
  process.stdout.write(
    `× DuckDB = DuckDB best / engine best (above 1: faster; the target for parallel: at least 1, peak RSS under 512 MiB); CPU: user + system, threads included; peak RSS: the highest of the runs.\n`,
  );
  if (expected !== null) process.stdout.write(`billing.txt ${expected.bill}, ${expected.accepted} accepted; ${counts?.duplicates} duplicates, ${counts?.conflicting} conflicting\n`);
  for (const p of problems) process.stdout.write(`problem: ${p}\n`);
  mkdirSync(o.out, { recursive: true });
  writeFileSync(
    join(o.out, 'dedupe.json'),
    `${JSON.stringify({ dataset: { id: ds.id, bytes: ds.bytes, records: ds.records, redelivered: ds.redelivered, changed: ds.changed }, rows, outcome: expected, counts, problems }, null, 2)}\n`,
  );
  return problems.length === 0 && rows.every((r) => r.seconds.length > 0);
}
