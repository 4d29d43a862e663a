/**
 * `npm run bench`: every engine side by side over generated datasets, timed with tinybench.
 * Prints the tables on stdout and writes results.json, results.md and chart.svg (throughput
 * against input size, against users and against workers) to bench/results/ (or --out).
 *
 *     npm run bench [-- --quick | --large] [--spark] [--max-workers N | --workers 1,2] [--out DIR]
 *     npm run bench -- --users 1k,100k,1M,10M [--sweep-size 1GiB] [--workers 1,2]
 *     npm run bench -- --pricing | --dedupe | --shapes [--shape-size 256MiB]   (one case alone)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command, InvalidArgumentError, Option } from 'commander';
import { datasetId, ensureDataset, parseCount, parseSizeMiB, type Dataset, type DatasetSpec } from './datasets.js';
import { duckdb, duckdbSimplest, naive, parallel, spark, sparkPlain, type Engine } from './engines.js';
import { measureDataset, measureStartup, preRead, type Entry } from './measure.js';
import { chartSpec, describeMachine, machineInfo, markdownTable, renderSvg, TABLE_HEADER, tableRows, textTable, USERS_HEADER, usersRows, WORKERS_HEADER, workersRows } from './report.js';
import { RESULTS_DIR } from './paths.js';
import { positiveInt } from '../cli/options.js';
import { prepareSpark, type SparkSetup } from './spark.js';
import { pricingBench } from './pricing.js';
import { dedupeBench } from './dedupe.js';
import { shapesBench } from './shapes.js';
import { s3Bench, s3Table, type S3Result } from './s3.js';

const K = 1000;
const M = 1_000_000;

export type Mode = 'quick' | 'default' | 'large';

/**
 * The user counts of the users sweep (original format, one size): how throughput falls as
 * users grow. 10M users (the naive engine alone takes minutes and gigabytes there) comes with
 * --large or --users.
 */
export const SWEEP_USERS: readonly number[] = [K, 100 * K, M];

/** The users sweep: the original format at `sizeMiB` for each user count. */
export function userSweep(users: readonly number[], sizeMiB: number): DatasetSpec[] {
  return users.map((u) => ({ format: 'space', sizeMiB, users: u }));
}

/**
 * The datasets of a run: every format at 1 GiB (and smaller sizes for the curve against size),
 * the users sweep at 1 GiB (1k, 100k, 1M users; --large adds 10M and a 4 GiB set); --quick
 * keeps to 64-256 MiB. `users` (from --users) makes the run
 * the users sweep alone, at `sweepMiB`.
 */
export function datasetMatrix(mode: Mode, users?: readonly number[], sweepMiB = mode === 'quick' ? 64 : 1024): DatasetSpec[] {
  if (users !== undefined) return userSweep(users, sweepMiB);
  if (mode === 'quick') {
    return [
      { format: 'space', sizeMiB: 64, users: K },
      { format: 'space', sizeMiB: 256, users: K },
      { format: 'space', sizeMiB: 64, users: M },
      { format: 'csv', sizeMiB: 64, users: K },
      { format: 'jsonl', sizeMiB: 64, users: K },
    ];
  }
  const sets: DatasetSpec[] = [
    { format: 'space', sizeMiB: 64, users: K },
    { format: 'space', sizeMiB: 256, users: K },
    ...userSweep(mode === 'large' ? [...SWEEP_USERS, 10 * M] : SWEEP_USERS, sweepMiB),
    { format: 'csv', sizeMiB: 256, users: K },
    { format: 'csv', sizeMiB: 1024, users: K },
    { format: 'jsonl', sizeMiB: 256, users: K },
    { format: 'jsonl', sizeMiB: 1024, users: K },
  ];
  if (mode === 'large') sets.push({ format: 'space', sizeMiB: 4096, users: K });
  return sets;
}

/** A comma-separated list option: `1k,100k,1M` → numbers, each through `parse`. */
export function listOf(flag: string, parse: (text: string) => number) {
  return (text: string): number[] => {
    try {
      const xs = text.split(',').map(parse);
      return [...new Set(xs)].sort((a, b) => a - b);
    } catch (err) {
      throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`);
    }
  };
}

/** A size option (`--sweep-size`, `--shape-size`): `64MiB`, `1GiB`, in MiB. */
function sizeMiB(text: string): number {
  try {
    return parseSizeMiB(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const workerCount = (text: string): number => {
  const n = Number(text);
  if (!(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`not a worker count: ${JSON.stringify(text)}`);
  return n;
};

/**
 * Runs per engine: small sets with few users are cheap enough for a warm-up and three timed
 * runs. On the 1 GiB sets each engine but naive runs three times (best of 3): single runs
 * there swung by up to 40% on a 2-core machine, enough to move a ratio between two engines
 * across a target; naive, 10-30 times slower, runs once. Larger sets run once.
 */
export function iterationsFor(sizeMiB: number, users: number): { warmupIterations: number; iterations: number; naiveIterations?: number } {
  if (sizeMiB <= 64 && users < 1_000_000) return { warmupIterations: 1, iterations: 3 };
  if (sizeMiB <= 256) return { warmupIterations: 0, iterations: 2 };
  if (sizeMiB <= 1024) return { warmupIterations: 0, iterations: 3, naiveIterations: 1 };
  return { warmupIterations: 0, iterations: 1 };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const program = new Command()
    .name('bench')
    .description('mr engines side by side (naive, parallel at 1..N workers, spark, DuckDB) over generated datasets')
    .option('--quick', 'small sets only (64-256 MiB), a few minutes')
    .option('--large', 'add a 4 GiB set and 10M users to the users sweep')
    .option('--spark', 'include Spark, starting a local cluster with `mr spark up` when none answers')
    .option('--no-spark', 'leave Spark out even when a cluster answers')
    .option('--max-workers <n>', 'parallel engine at 1..N workers', positiveInt('--max-workers'), availableParallelism())
    .option('--workers <list>', 'parallel engine at these worker counts, e.g. 1,2 (default: 1..--max-workers)', listOf('--workers', workerCount))
    .option('--users <list>', 'only the users sweep (original format), at these user counts, e.g. 1k,100k,1M,10M', listOf('--users', parseCount))
    .option('--sweep-size <size>', 'size of the users sweep\'s files (default: 1GiB, --quick 64MiB)', sizeMiB)
    .option('--duckdb-threads <n>', 'DuckDB threads', positiveInt('--duckdb-threads'), availableParallelism())
    .option('--out <dir>', 'results directory', RESULTS_DIR)
    .option('--regenerate', 'regenerate cached datasets')
    .option('--only <text>', 'only datasets whose id contains this text (e.g. csv-64MiB)')
    .option('--pricing', 'only the pricing case: flat rates against a 10,000-customer plan on 1M users (bench/pricing.ts)')
    .option('--dedupe', 'only the dedupe case: 1 GiB JSON lines with re-delivered batches, naive, parallel and DuckDB (bench/dedupe.ts)')
    .option('--shapes', 'only the shapes case: quoted CSV, nested JSON lines, gzip and Fluent Bit-wrapped lines against their plain files, parallel and DuckDB (bench/shapes.ts)')
    .addOption(new Option('--shape-size <size>', 'size of the shapes case\'s plain files (the shaped files hold the same records)').argParser(sizeMiB).default(256, '256MiB'))
    .option('--rounds <n>', 'rounds of the pricing, dedupe or shapes case', positiveInt('--rounds'), 3)
    .parse();
  const o = program.opts<{ quick?: boolean; large?: boolean; spark?: boolean; maxWorkers: number; workers?: number[]; users?: number[]; sweepSize?: number; duckdbThreads: number; out: string; regenerate?: boolean; only?: string; pricing?: boolean; dedupe?: boolean; shapes?: boolean; shapeSize: number; rounds: number }>();
  if (o.pricing) {
    if (!(await pricingBench({ maxWorkers: o.maxWorkers, rounds: o.rounds, out: o.out, regenerate: o.regenerate, log }))) process.exitCode = 1;
    return;
  }
  if (o.dedupe) {
    if (!(await dedupeBench({ maxWorkers: o.maxWorkers, duckdbThreads: o.duckdbThreads, rounds: o.rounds, out: o.out, regenerate: o.regenerate, log }))) process.exitCode = 1;
    return;
  }
  if (o.shapes) {
    if (!(await shapesBench({ sizeMiB: o.shapeSize, maxWorkers: o.maxWorkers, duckdbThreads: o.duckdbThreads, rounds: o.rounds, out: o.out, regenerate: o.regenerate, log }))) process.exitCode = 1;
    return;
  }
  // --spark defined before --no-spark: undefined when neither is given (commander).
  const sparkMode = o.spark === false ? 'off' : o.spark === true ? 'start' : 'auto';
  const mode = o.quick ? 'quick' : o.large ? 'large' : 'default';
  const started = performance.now();
  const machine = machineInfo();
  log(`mr bench (${mode}) on ${describeMachine(machine)}`);
  const notes: string[] = [];

  const engines: Engine[] = [naive()];
  const workers = o.workers ?? Array.from({ length: o.maxWorkers }, (_, i) => i + 1);
  for (const w of workers) engines.push(parallel(w));
  let sparkSetup: SparkSetup | null = null;
  if (sparkMode !== 'off') {
    sparkSetup = await prepareSpark(sparkMode === 'start', log);
    // The plain Spark SQL job runs right after the spark engine, on the same cluster, as its reference.
    if (sparkSetup.remote !== null) engines.push(spark(sparkSetup.remote), sparkPlain(sparkSetup.remote));
    if (sparkSetup.note) notes.push(sparkSetup.note);
  }
  engines.push(duckdb(o.duckdbThreads), duckdbSimplest(o.duckdbThreads));

  const specs = datasetMatrix(mode, o.users, o.sweepSize).filter((s) => o.only === undefined || datasetId(s).includes(o.only));
  const tiny: Record<string, Dataset> = {};
  const startup = new Map<string, Map<string, number>>();
  const entries: Entry[] = [];
  const datasets: Dataset[] = [];
  try {
    for (const format of ['space', 'csv', 'jsonl'] as const) {
      if (!specs.some((s) => s.format === format)) continue;
      tiny[format] = await ensureDataset({ format, sizeMiB: 0, users: 100, lines: 1000 }, { regenerate: o.regenerate, log });
      log(`start-up probe (${format}, 1,000 lines, best of 3) ...`);
      startup.set(format, await measureStartup(tiny[format]!, engines.filter((e) => !(e.kind === 'duckdb' && format === 'jsonl')), 3));
      log(`  ${[...startup.get(format)!].map(([e, s]) => `${e} ${s.toFixed(2)} s`).join(', ')}`);
    }
    let active = engines;
    for (const spec of specs) {
      const ds = await ensureDataset(spec, { regenerate: o.regenerate, log });
      datasets.push(ds);
      await preRead(ds.path);
      // The DuckDB reference reads the space and CSV formats only.
      const here = active.filter((e) => !(e.kind === 'duckdb' && ds.format === 'jsonl'));
      const result = await measureDataset(ds, here, { ...iterationsFor(ds.sizeMiB, ds.users), log }, startup.get(ds.format)!);
      entries.push(...result);
      // An engine that is not built yet is dropped from the remaining sets, with a note.
      for (const e of result.filter((r) => r.status === 'skipped')) {
        notes.push(e.note ?? `${e.engine} skipped`);
        active = active.filter((x) => x.id !== e.engine);
      }
    }
  } finally {
    if (sparkSetup?.stop) await sparkSetup.stop();
  }
  // The s3 dataset (bench/s3.ts): not in --quick nor in the users sweep alone (--users); --only s3 runs it alone.
  let s3: S3Result[] = [];
  const s3Wanted = o.only === undefined ? mode !== 'quick' : 's3'.includes(o.only);
  if (o.users === undefined && s3Wanted) {
    s3 = await s3Bench({ sizesMiB: mode === 'large' ? [1024, 4096] : [1024], workers: o.maxWorkers, rounds: mode === 'large' ? 1 : 3, regenerate: o.regenerate, log });
  }

  const minutes = (performance.now() - started) / 60000;
  const body = tableRows(entries);
  const title = `${describeMachine(machine)}; ${new Date().toISOString().slice(0, 10)}`;
  const users = usersRows(entries);
  const scaling = workersRows(entries);
  process.stdout.write(`\n${textTable(TABLE_HEADER, body)}\n\n`);
  if (users.length > 0) process.stdout.write(`throughput against users:\n${textTable(USERS_HEADER, users)}\n\n`);
  if (scaling.length > 0) process.stdout.write(`parallel engine against workers:\n${textTable(WORKERS_HEADER, scaling)}\n\n`);
  process.stdout.write(`${title}\nrates from the best of N runs; × naive and × DuckDB are time ratios (>1 = faster); start-up = best of 3 runs over 1,000 lines.\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  if (s3.length > 0) process.stdout.write(`\n${s3Table(s3)}\n`);

  mkdirSync(o.out, { recursive: true });
  const json = {
    tool: 'mr bench',
    mode,
    startedAt: new Date(Date.now() - minutes * 60000).toISOString(),
    minutes: Number(minutes.toFixed(1)),
    machine,
    options: { workers, users: o.users ?? null, sweepSizeMiB: o.sweepSize ?? null, duckdbThreads: o.duckdbThreads, spark: sparkMode },
    spark: sparkSetup ? { remote: sparkSetup.remote, clusterStartSeconds: sparkSetup.clusterStartSeconds } : null,
    method:
      'Each entry is a whole child process (node dist/cli/main.js aggregate ... / node dist/bench/duckdb-billing.js) timed by tinybench; rates use the fastest run; each run\'s billing.txt (and accepted/reject counts) is checked against the first engine\'s before its time counts; peak RSS from getrusage via a preloaded hook.',
    datasets: datasets.map(({ id, format, sizeMiB, users, records, bytes, badLines, path }) => ({ id, format, sizeMiB, users, records, bytes, badLines, path })),
    startup: Object.fromEntries([...startup].map(([f, m]) => [f, Object.fromEntries(m)])),
    entries,
    s3,
    notes,
  };
  writeFileSync(join(o.out, 'results.json'), `${JSON.stringify(json, null, 2)}\n`);
  const md = [
    `# mr bench results (${mode})`,
    '',
    `Machine: ${describeMachine(machine)}. Load average at start: ${machine.loadAverage1mAtStart ?? '?'} (a shared machine: other jobs ran, numbers are noisy). Run took ${minutes.toFixed(1)} min.`,
    '',
    markdownTable(TABLE_HEADER, body),
    '',
    ...(users.length > 0 ? ['Throughput against users (`× fewest users`: MiB/s over the same engine\'s at the fewest users):', '', markdownTable(USERS_HEADER, users), ''] : []),
    ...(scaling.length > 0 ? ['The parallel engine against workers (`× 1 worker`: MiB/s over its rate at 1 worker):', '', markdownTable(WORKERS_HEADER, scaling), ''] : []),
    'Rates (rows/s, MiB/s) use the fastest run; `× naive` = naive time / engine time, `× DuckDB` = DuckDB time / engine time (above 1 = faster). `start-up s` = best of 3 runs over 1,000 lines (process start, module loading; for Spark also connect and session). Peak RSS of the measured process (worker threads included).',
    ...notes.map((n) => `\nNote: ${n}`),
    ...(s3.length === 0 ? [] : ['', '## s3 (parallel from a local S3 server, bench/s3.ts)', '', s3Table(s3)]),
    '',
    '![throughput against input size](chart.svg)',
    '',
  ].join('\n');
  writeFileSync(join(o.out, 'results.md'), md);
  const svg = await renderSvg(chartSpec(entries, title));
  writeFileSync(join(o.out, 'chart.svg'), svg);
  log(`wrote ${join(o.out, 'results.json')}, results.md, chart.svg (${minutes.toFixed(1)} min)`);
  if (entries.some((e) => e.status === 'mismatch' || e.status === 'failed') || s3.some((r) => r.mismatch !== null)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
