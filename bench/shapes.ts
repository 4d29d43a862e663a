/**
 * `npm run bench -- --shapes`: what the shape of a log file costs. The parallel engine has
 * byte-level fast paths for the shapes real logs come in (quoted CSV, JSON lines with nested
 * objects, gzip, Fluent Bit's and CloudWatch's wrappers); the main bench's plain files show nothing of them.
 * For each format, a plain set (`--shape-size`, default 256 MiB, 1,000 users, seed 1, the
 * bench's bad lines) and the same records in other shapes (`mr generate --shape`, `.gz`;
 * datasets.ts makes them with the plain set's line count): CSV quote-all, quote-text and
 * gzip; JSON lines nested, gzip and fluent-bit; the space format gzip, fluent-bit and
 * cloudwatch (read with `--wrapped fluent-bit|cloudwatch --format FORMAT`).
 *
 * Engines: the parallel engine at `--max-workers` workers and at 1 worker, and DuckDB's
 * simplest query (`--duckdb-threads`) on every set but the wrapped ones, which it cannot read.
 * Interleaved rounds (`--rounds`): each round runs every (set, engine) once, in an order
 * rotated by one each round, so that a change of load on a shared machine falls on every
 * row alike; each set is read once before its first run of a round (from the page cache, as
 * in the main bench). Times are each row's fastest round.
 *
 * Checked before a time counts: every parallel run's billing.txt is the plain set's (same
 * format) parallel billing.txt, byte for byte, with the same accepted and per-reason reject
 * counts; else the row is a mismatch (its time does not count, the bench exits 1). DuckDB's
 * simplest query is timed only, but a note says when its sums on a shape differ from its sums
 * on the plain set (it read the shape otherwise).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureDataset, plainOf, readArgs, datasetId, sizeLabel, type Dataset, type DatasetSpec, type Format } from './datasets.js';
import { duckdbSimplest, outcomeDifferences, parallel, runEngine, type Engine, type Outcome } from './engines.js';
import { preRead } from './measure.js';
import type { DedupeBenchOptions } from './dedupe.js';
import { describeMachine, machineInfo, markdownTable, textTable } from './report.js';

export const SHAPE_USERS = 1000;
const MiB = 1 << 20;

/** The sets of the case at `sizeMiB`: each format's plain set first, then its other shapes. */
export function shapeSets(sizeMiB: number): DatasetSpec[] {
  const set = (format: Format, shape: Pick<DatasetSpec, 'shape' | 'gzip'> = {}): DatasetSpec => ({ format, sizeMiB, users: SHAPE_USERS, ...shape });
  return [
    set('csv'),
    set('csv', { shape: 'quote-all' }),
    set('csv', { shape: 'quote-text' }),
    set('csv', { gzip: true }),
    set('jsonl'),
    set('jsonl', { shape: 'nested' }),
    set('jsonl', { gzip: true }),
    set('jsonl', { shape: 'fluent-bit' }),
    set('space'),
    set('space', { gzip: true }),
    set('space', { shape: 'fluent-bit' }),
    set('space', { shape: 'cloudwatch' }),
  ];
}

/** A set's engines: the parallel engine at N workers and at 1, and DuckDB's simplest query where DuckDB reads the file (not inside a wrapper). */
export function shapeEngines(spec: DatasetSpec, maxWorkers: number, duckdbThreads: number): Engine[] {
  const engines = maxWorkers > 1 ? [parallel(maxWorkers), parallel(1)] : [parallel(1)];
  if (readArgs(spec).length === 0) engines.push(duckdbSimplest(duckdbThreads));
  return engines;
}

/** The order of round `round` (from 0): the runs rotated by the round, so that no run always goes first, nor after the same run. */
export function roundOrder<T>(runs: readonly T[], round: number): T[] {
  return runs.map((_, i) => runs[(i + round) % runs.length]!);
}

/** A set as the report shows it. */
export interface ShapeSet {
  readonly id: string;
  readonly format: Format;
  /** `plain`, a shape, or `gzip` (plain lines in a .gz file). */
  readonly shape: string;
  /** The id of the plain set of the same records (itself for a plain set). */
  readonly plain: string;
  readonly records: number;
  /** Bytes on disk, and the plain set's bytes (the same records: the work every shape of the set does). */
  readonly diskBytes: number;
  readonly plainBytes: number;
}

export type RowStatus = 'ok' | 'mismatch' | 'failed' | 'unchecked';

/** One (set, engine): its runs' seconds and outcomes. */
export interface ShapeRow {
  readonly dataset: string;
  readonly engine: string;
  readonly kind: Engine['kind'];
  readonly workers: number | null;
  readonly seconds: number[];
  readonly outcomes: Outcome[];
  status: RowStatus;
  note: string | null;
}

/**
 * Checks every parallel row against its format's reference: the first parallel run on the
 * plain set. A row that differs is a mismatch, one with nothing to compare with (the plain
 * set's runs failed) unchecked; failed rows stay failed. DuckDB rows (timed only) get a note
 * when their sums differ from theirs on the plain set. Returns the problems, for the exit code.
 */
export function checkRows(sets: readonly ShapeSet[], rows: ShapeRow[]): string[] {
  const problems: string[] = [];
  const setOf = new Map(sets.map((s) => [s.id, s]));
  for (const row of rows) {
    if (row.status === 'failed') {
      problems.push(`${row.dataset} ${row.engine}: ${row.note ?? 'failed'}`);
      continue;
    }
    const plain = setOf.get(row.dataset)!.plain;
    const timed = row.kind === 'duckdb-simplest';
    const ref = rows.find((r) => r.dataset === plain && (r.kind === 'duckdb-simplest') === timed && r.outcomes.length > 0)?.outcomes[0];
    if (timed) {
      const differs = ref !== undefined && row.outcomes.some((o) => o.billSha256 !== ref.billSha256);
      if (differs) row.note = `its per-user sums differ from its sums on ${plain}: DuckDB read this shape otherwise`;
      continue;
    }
    if (ref === undefined) {
      row.status = 'unchecked';
      row.note = `no bill of ${plain} to check against`;
      problems.push(`${row.dataset} ${row.engine}: ${row.note}`);
      continue;
    }
    const diffs = row.outcomes.flatMap((o) => outcomeDifferences(ref, o));
    if (diffs.length > 0) {
      row.status = 'mismatch';
      row.note = `differs from the parallel bill of ${plain}: ${[...new Set(diffs)].join('; ')}`;
      problems.push(`${row.dataset} ${row.engine}: ${row.note}`);
    }
  }
  return problems;
}

const best = (row: Pick<ShapeRow, 'status' | 'seconds'> | undefined): number | null => (row === undefined || row.status !== 'ok' || row.seconds.length === 0 ? null : Math.min(...row.seconds));
const fixed = (x: number | null, digits: number) => (x === null || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const ratio = (a: number | null, b: number | null) => (a === null || b === null ? null : a / b);

export function shapeHeader(maxWorkers: number): string[] {
  const n = `${maxWorkers}w`;
  return ['dataset', 'shape', 'on disk MiB', 'records', `${n} s`, 'MiB/s', 'disk MiB/s', '× plain', '1w s', '× plain 1w', `${n}/1w`, 'DuckDB s', '× DuckDB simplest', 'status'];
}

/**
 * One line per set. MiB/s is of the plain set's bytes (the same records: every shape of a set
 * does the same work), disk MiB/s of the set's own bytes; `× plain` is the plain set's time over
 * this set's (same engine, same format; above 1: faster than plain); `Nw/1w` the 1-worker time
 * over the N-worker time; `× DuckDB simplest` DuckDB's time over the N-worker time (above 1:
 * the parallel engine is faster).
 */
export function shapeTableRows(sets: readonly ShapeSet[], rows: readonly ShapeRow[], maxWorkers: number): string[][] {
  const find = (dataset: string, pred: (r: ShapeRow) => boolean) => rows.find((r) => r.dataset === dataset && pred(r));
  const nw = (d: string) => find(d, (r) => r.kind === 'parallel' && r.workers === maxWorkers);
  const one = (d: string) => find(d, (r) => r.kind === 'parallel' && r.workers === 1);
  const duck = (d: string) => find(d, (r) => r.kind === 'duckdb-simplest');
  return sets.map((s) => {
    const [tN, t1, tD] = [best(nw(s.id)), best(one(s.id)), best(duck(s.id))];
    const bad = rows.filter((r) => r.dataset === s.id && r.status !== 'ok');
    return [
      s.id,
      s.shape,
      fixed(s.diskBytes / MiB, 1),
      String(s.records),
      fixed(tN, 2),
      fixed(ratio(s.plainBytes / MiB, tN), 1),
      fixed(ratio(s.diskBytes / MiB, tN), 1),
      fixed(ratio(best(nw(s.plain)), tN), 2),
      fixed(t1, 2),
      fixed(ratio(best(one(s.plain)), t1), 2),
      fixed(ratio(t1, tN), 2),
      fixed(tD, 2),
      fixed(ratio(tD, tN), 2),
      bad.length === 0 ? 'ok' : bad.map((r) => `${r.engine} ${r.status}`).join(', '),
    ];
  });
}

/** The dedupe case's settings (the same engines: workers, DuckDB threads; rounds, output, cache, log), and the plain sets' size. */
export interface ShapesBenchOptions extends DedupeBenchOptions {
  readonly sizeMiB: number;
}

/** Runs the case; returns false when a run failed or a bill differs. */
export async function shapesBench(o: ShapesBenchOptions): Promise<boolean> {
  const started = performance.now();
  const machine = machineInfo();
  const specs = shapeSets(o.sizeMiB);
  const datasets: Array<{ spec: DatasetSpec; ds: Dataset }> = [];
  for (const spec of specs) datasets.push({ spec, ds: await ensureDataset(spec, { regenerate: o.regenerate, log: o.log }) });
  const sets: ShapeSet[] = datasets.map(({ spec, ds }) => {
    const plain = plainOf(spec);
    const plainId = plain === null ? ds.id : datasetId(plain);
    return {
      id: ds.id,
      format: ds.format,
      shape: spec.shape ?? (spec.gzip ? 'gzip' : 'plain'),
      plain: plainId,
      records: ds.records,
      diskBytes: statSync(ds.path).size,
      plainBytes: datasets.find((d) => d.ds.id === plainId)!.ds.bytes,
    };
  });
  const runs = datasets.flatMap(({ spec, ds }) => shapeEngines(spec, o.maxWorkers, o.duckdbThreads).map((engine) => ({ ds, engine })));
  const rows: ShapeRow[] = runs.map(({ ds, engine }) => ({ dataset: ds.id, engine: engine.id, kind: engine.kind, workers: engine.workers ?? null, seconds: [], outcomes: [], status: 'ok', note: null }));
  const rowOf = (dataset: string, engine: string) => rows.find((r) => r.dataset === dataset && r.engine === engine)!;
  o.log(`shapes case: ${sets.length} sets of ${sizeLabel(o.sizeMiB)} plain, ${o.rounds} rounds of ${runs.length} runs`);
  const work = mkdtempSync(join(tmpdir(), 'mr-bench-shapes-'));
  try {
    for (let round = 0; round < o.rounds; round++) {
      let previous: string | null = null;
      for (const { ds, engine } of roundOrder(runs, round)) {
        const row = rowOf(ds.id, engine.id);
        if (row.status === 'failed') continue;
        if (ds.path !== previous) await preRead(ds.path);
        previous = ds.path;
        try {
          const run = await runEngine(engine, ds, work);
          row.seconds.push(run.child.seconds);
          row.outcomes.push(run.outcome);
          o.log(`  round ${round + 1}: ${ds.id} ${engine.id} ${run.child.seconds.toFixed(2)} s`);
        } catch (err) {
          row.status = 'failed';
          row.note = (err as Error).message;
          o.log(`  round ${round + 1}: ${ds.id} ${engine.id} failed: ${row.note}`);
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const problems = checkRows(sets, rows);
  const header = shapeHeader(o.maxWorkers);
  const body = shapeTableRows(sets, rows, o.maxWorkers);
  const notes = rows.filter((r) => r.kind === 'duckdb-simplest' && r.note !== null).map((r) => `${r.dataset} ${r.engine}: ${r.note}`);
  const minutes = (performance.now() - started) / 60000;
  const legend = `MiB/s: of the plain set's bytes (the same records); disk MiB/s: of the file's own bytes; × plain: the plain set's time / this set's (same engine, same format; above 1 = faster); ${o.maxWorkers}w/1w: 1-worker time / ${o.maxWorkers}-worker time; × DuckDB simplest: DuckDB's time / the ${o.maxWorkers}-worker time. Times: each row's fastest of ${o.rounds} interleaved rounds.`;
  process.stdout.write(`\n${textTable(header, body)}\n${legend}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  for (const p of problems) process.stdout.write(`problem: ${p}\n`);
  mkdirSync(o.out, { recursive: true });
  const json = {
    tool: 'mr bench --shapes',
    startedAt: new Date(Date.now() - minutes * 60000).toISOString(),
    minutes: Number(minutes.toFixed(1)),
    machine,
    options: { sizeMiB: o.sizeMiB, maxWorkers: o.maxWorkers, duckdbThreads: o.duckdbThreads, rounds: o.rounds },
    sets,
    rows: rows.map(({ outcomes, ...r }) => ({ ...r, bestS: best(r), billSha256: outcomes[0]?.billSha256 ?? null })),
    notes,
    problems,
  };
  writeFileSync(join(o.out, 'shapes.json'), `${JSON.stringify(json, null, 2)}\n`);
  const md = [
    `# mr bench: shapes (${sizeLabel(o.sizeMiB)} plain sets)`,
    '',
    `Machine: ${describeMachine(machine)}. Load average at start: ${machine.loadAverage1mAtStart ?? '?'}. Run took ${minutes.toFixed(1)} min.`,
    '',
    markdownTable(header, body),
    '',
    legend,
    ...notes.map((n) => `\nNote: ${n}`),
    ...problems.map((p) => `\nProblem: ${p}`),
    '',
  ].join('\n');
  writeFileSync(join(o.out, 'shapes.md'), md);
  o.log(`wrote ${join(o.out, 'shapes.json')}, shapes.md (${minutes.toFixed(1)} min)`);
  return problems.length === 0;
}
