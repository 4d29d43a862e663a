/**
 * The engines under test, each run as a whole process, and the check of each run's bill
 * against the reference run's before its time counts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DUCKDB_SCRIPT, MR_MAIN, SPARK_PLAIN_SCRIPT, mrNodeOptions } from './paths.js';
import { runChild, type ChildResult } from './child.js';
import { readArgs, type Dataset } from './datasets.js';

/** The rates of .env.example; every engine gets exactly these (the children run in a directory without .env). */
export const BENCH_RATES: Readonly<Record<string, string>> = {
  RATE_login: '0.005',
  RATE_getUserProfile: '0.002',
  RATE_createOrder: '0.010',
  RATE_updateInventory: '0.008',
  RATE_deleteOrder: '0.007',
};

export type EngineKind = 'naive' | 'parallel' | 'spark' | 'spark-plain' | 'duckdb' | 'duckdb-simplest';

export interface Engine {
  /** Stable id used in results: naive, parallel-1w, parallel-2w, spark, spark-plain, duckdb, duckdb-simplest. */
  readonly id: string;
  readonly kind: EngineKind;
  readonly workers?: number;
  readonly remote?: string;
  readonly threads?: number;
}

export function naive(): Engine {
  return { id: 'naive', kind: 'naive' };
}
export function parallel(workers: number): Engine {
  return { id: `parallel-${workers}w`, kind: 'parallel', workers };
}
export function spark(remote: string): Engine {
  return { id: 'spark', kind: 'spark', remote };
}
/**
 * The plain Spark SQL job on the same cluster (bench/spark-plain.ts): no validation, so its
 * output is not a bill; it is timed as a reference for the spark engine, never compared.
 */
export function sparkPlain(remote: string): Engine {
  return { id: 'spark-plain', kind: 'spark-plain', remote };
}
/** True for a reference row whose output is not a bill (timed, not checked). */
export function timedOnly(engine: Engine): boolean {
  return engine.kind === 'spark-plain' || engine.kind === 'duckdb-simplest';
}
export function duckdb(threads: number): Engine {
  return { id: 'duckdb', kind: 'duckdb', threads };
}
/**
 * DuckDB's simplest query over a clean file (duckdb-sql.ts simplestSql): GROUP BY user, sum of
 * the durations, no validation; timed as the bar to clear, never compared.
 */
export function duckdbSimplest(threads: number): Engine {
  return { id: 'duckdb-simplest', kind: 'duckdb-simplest', threads };
}

/** The environment of a measured child: ours without rate or money settings, plus BENCH_RATES. */
export function childEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) {
    if (k.startsWith('RATE_') || k === 'CURRENCY_DECIMALS' || k === 'MAX_DURATION_MS' || k === 'MR_BENCH_RSS_FILE') continue;
    env[k] = v;
  }
  return { ...env, ...BENCH_RATES, LOG_LEVEL: 'warn' };
}

/** The command line of one run; `read`: what mr needs besides the path to read the input (datasets.ts readArgs), which DuckDB and the plain Spark job cannot read. */
export function commandFor(engine: Engine, input: string, outBill: string, read: readonly string[] = []): string[] {
  const mr = (...args: string[]) => [...mrNodeOptions(), MR_MAIN, 'aggregate', input, ...args, '--out', outBill, '--no-progress', ...read];
  if (read.length > 0 && (engine.kind === 'duckdb' || engine.kind === 'duckdb-simplest' || engine.kind === 'spark-plain')) {
    throw new Error(`${engine.id} cannot read ${input} (${read.join(' ')})`);
  }
  switch (engine.kind) {
    case 'duckdb':
      return [DUCKDB_SCRIPT, input, '--out', outBill, '--threads', String(engine.threads ?? 2)];
    case 'duckdb-simplest':
      return [DUCKDB_SCRIPT, input, '--out', outBill, '--threads', String(engine.threads ?? 2), '--simplest'];
    case 'naive':
      return mr('--engine', 'naive');
    case 'parallel':
      return mr('--engine', 'parallel', '--workers', String(engine.workers ?? 1));
    case 'spark':
      return mr('--engine', 'spark', '--remote', engine.remote ?? 'sc://127.0.0.1:15002');
    case 'spark-plain': {
      const format = /\.csv$/.test(input) ? 'csv' : /\.(jsonl|ndjson)$/.test(input) ? 'jsonl' : 'space';
      return [SPARK_PLAIN_SCRIPT, input, '--format', format, '--out', outBill, '--remote', engine.remote ?? 'sc://127.0.0.1:15002'];
    }
  }
}

/** What a run produced, reduced to what every engine must agree on. */
export interface Outcome {
  /** sha256 of billing.txt (of a timed-only engine's output: of its lines sorted). */
  readonly billSha256: string;
  readonly users: number;
  readonly accepted: number;
  /** Reject counts by reason (mr engines only; DuckDB does not classify rejects). */
  readonly rejected?: Record<string, number>;
}

export class EngineFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly notBuilt: boolean,
  ) {
    super(message);
  }
}

export interface EngineRun {
  readonly child: ChildResult;
  readonly outcome: Outcome;
}

function lastJsonLine(text: string): Record<string, unknown> | null {
  const lines = text.trim().split('\n').reverse();
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      continue;
    }
  }
  return null;
}

export function readOutcome(engine: Engine, child: ChildResult, outBill: string): Outcome {
  const bill = readFileSync(outBill);
  // A timed-only query writes its per-user sums in no order: the digest of its sorted lines
  // still says whether two of its runs (on two shapes of one set) summed the same.
  const digested = timedOnly(engine) ? Buffer.from(bill.toString('latin1').split('\n').sort().join('\n'), 'latin1') : bill;
  const billSha256 = createHash('sha256').update(digested).digest('hex');
  let users = 0;
  for (let i = 0; i < bill.length; i++) if (bill[i] === 10) users++;
  if (engine.kind === 'duckdb') {
    const report = lastJsonLine(child.stdout);
    return { billSha256, users, accepted: Number(report?.accepted ?? NaN) };
  }
  if (timedOnly(engine)) return { billSha256, users, accepted: NaN };
  const summaryPath = outBill.replace(/\.txt$/, '') + '.summary.json';
  const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { accepted: number; rejected: Record<string, number> };
  const rejected = Object.fromEntries(Object.entries(summary.rejected).filter(([, n]) => n > 0));
  return { billSha256, users, accepted: summary.accepted, rejected };
}

/** A finished run of one engine: the child process and where its bill is. */
export interface EngineChild {
  readonly child: ChildResult;
  readonly outBill: string;
}

/**
 * Runs one engine over one input as a child process, once its outputs of an earlier run in
 * `workDir` are removed; throws EngineFailure on a non-zero exit. Its outputs are not read: a
 * timed run's time is the child's alone (measure.ts), not the harness's reading of them
 * (readOutcome hashes the bill, and sorts a timed-only query's lines: 2.7 s for DuckDB's 35 MB
 * bill of a million users).
 */
export async function spawnEngine(engine: Engine, dataset: Pick<Dataset, 'path' | 'format' | 'shape'>, workDir: string): Promise<EngineChild> {
  const outBill = join(workDir, `${engine.id}.billing.txt`);
  // Every run starts where the first did, with none of this engine's outputs: replacing its
  // previous run's set made a run free that set's blocks (185 ms of mr's run at a million
  // users, whose detail is 235 MB), a cost of the harness reusing one path, not of the engine.
  const previous = `${engine.id}.billing.`;
  for (const name of readdirSync(workDir)) if (name.startsWith(previous)) rmSync(join(workDir, name), { force: true });
  const child = await runChild(process.execPath, commandFor(engine, dataset.path, outBill, readArgs(dataset)), { env: childEnv(), cwd: workDir, measureRss: true });
  if (child.code !== 0 || !existsSync(outBill)) {
    const text = child.stderr.trim().split('\n').slice(-5).join('\n');
    throw new EngineFailure(`${engine.id} exited with ${child.code}${child.signal ? ` (${child.signal})` : ''}: ${text}`, child.code, /not built yet/.test(child.stderr));
  }
  return { child, outBill };
}

/** Runs one engine over one input (spawnEngine) and reads what it wrote. */
export async function runEngine(engine: Engine, dataset: Pick<Dataset, 'path' | 'format' | 'shape'>, workDir: string): Promise<EngineRun> {
  const { child, outBill } = await spawnEngine(engine, dataset, workDir);
  return { child, outcome: readOutcome(engine, child, outBill) };
}

/** Differences between a run's outcome and the reference's; empty when they agree. */
export function outcomeDifferences(ref: Outcome, got: Outcome): string[] {
  const diffs: string[] = [];
  if (got.billSha256 !== ref.billSha256) diffs.push(`billing.txt differs (sha256 ${got.billSha256.slice(0, 12)} vs ${ref.billSha256.slice(0, 12)}; ${got.users} vs ${ref.users} users)`);
  if (got.accepted !== ref.accepted) diffs.push(`accepted ${got.accepted} vs ${ref.accepted}`);
  if (got.rejected !== undefined && ref.rejected !== undefined) {
    const reasons = new Set([...Object.keys(got.rejected), ...Object.keys(ref.rejected)]);
    for (const r of reasons) if ((got.rejected[r] ?? 0) !== (ref.rejected[r] ?? 0)) diffs.push(`rejected ${r}: ${got.rejected[r] ?? 0} vs ${ref.rejected[r] ?? 0}`);
  }
  return diffs;
}
