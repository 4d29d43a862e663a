/**
 * Timing with tinybench: one Bench per dataset and engine, each iteration a whole child
 * process, the engines in turn. An iteration's time is the child's wall time, from its spawn
 * to its exit (tinybench's overriddenDuration). Every iteration's outputs are read and its bill
 * checked against the reference (the first engine that ran, naive by default) in tinybench's
 * afterEach hook, outside the timed region; a mismatch fails the task, so a wrong engine's
 * time never counts.
 */
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import type { Dataset } from './datasets.js';
import { EngineFailure, outcomeDifferences, readOutcome, spawnEngine, timedOnly, type Engine, type EngineChild, type EngineRun, type Outcome } from './engines.js';

export type EntryStatus = 'ok' | 'mismatch' | 'failed' | 'skipped';

export interface Entry {
  readonly dataset: string;
  readonly format: Dataset['format'];
  readonly sizeMiB: number;
  readonly users: number;
  readonly bytes: number;
  readonly records: number;
  readonly engine: string;
  readonly kind: Engine['kind'];
  readonly workers: number | null;
  readonly status: EntryStatus;
  readonly note: string | null;
  readonly samples: number;
  /** Each timed run's time: the child's wall time from spawn to exit, in seconds. */
  readonly runsS: readonly number[];
  readonly meanS: number | null;
  readonly minS: number | null;
  readonly maxS: number | null;
  /** Throughputs from the fastest sample (best of N on a shared machine). */
  readonly rowsPerS: number | null;
  readonly mibPerS: number | null;
  /** naive time / this engine's time (>1: faster than naive). */
  readonly speedupVsNaive: number | null;
  /** DuckDB time / this engine's time (>1: faster than DuckDB). */
  readonly ratioVsDuckdb: number | null;
  /** DuckDB's simplest query's time / this engine's time (>1: faster than that query). */
  readonly ratioVsDuckdbSimplest: number | null;
  /** Spark engine only: its time / the plain Spark SQL job's time on the same set in the same run (issue 12's target: at most 2). */
  readonly sparkOverPlain: number | null;
  readonly peakRssMiB: number | null;
  /** Fixed cost of a run (process start, connect, session), from a 1,000-line input. */
  readonly startupS: number | null;
  /** MiB/s with the fixed cost taken out: bytes / (min time - startup). */
  readonly steadyMibPerS: number | null;
}

/** The run every other run's bill is compared with: the first engine's, unless one is handed in. */
export interface Reference {
  current: { engine: string; outcome: Outcome } | null;
}

export interface MeasureOptions {
  readonly iterations: number;
  /**
   * Timed runs of the naive engine when fewer than the others': on the 1 GiB sets it takes
   * 10-30 times their time, and one run of it is enough for its own column and as the bill's
   * reference, while the others' ratios to each other want the best of several.
   */
  readonly naiveIterations?: number;
  readonly warmupIterations: number;
  readonly log?: (line: string) => void;
  /**
   * Shared across calls on the same dataset (e.g. a naive run in a first round, then only the
   * parallel engine in later ones): set by the first bill-checked run when empty, then compared with.
   */
  readonly reference?: Reference;
}

/** Reads a file once so every engine starts from the page cache, not the first from the disk. */
export async function preRead(path: string): Promise<void> {
  for await (const _ of createReadStream(path, { highWaterMark: 8 << 20 })) void _;
}

interface TaskState {
  /** The last timed run's child, until afterEach reads its outputs. */
  spawned: EngineChild | null;
  /** The timed runs' child wall times, seconds. */
  runsS: number[];
  peakRss: number;
  failure: { status: EntryStatus; note: string } | null;
}

/** Times every engine over one dataset. `reference` is shared across calls only within a dataset. */
export async function measureDataset(dataset: Dataset, engines: readonly Engine[], opts: MeasureOptions, startup: ReadonlyMap<string, number>): Promise<Entry[]> {
  const workDir = mkdtempSync(join(tmpdir(), 'mr-bench-'));
  const ref: Reference = opts.reference ?? { current: null };
  const states = new Map<string, TaskState>();
  const benches = engines.map((engine) => {
    const iterations = engine.kind === 'naive' ? (opts.naiveIterations ?? opts.iterations) : opts.iterations;
    const bench = new Bench({
      name: `${dataset.id} ${engine.id}`,
      iterations,
      time: 0,
      warmup: opts.warmupIterations > 0,
      warmupIterations: opts.warmupIterations,
      warmupTime: 0,
      throws: false,
      retainSamples: true,
    });
    const state: TaskState = { spawned: null, runsS: [], peakRss: 0, failure: null };
    states.set(engine.id, state);
    bench.add(
      engine.id,
      async () => {
        state.spawned = null;
        try {
          state.spawned = await spawnEngine(engine, dataset, workDir);
          return { overriddenDuration: state.spawned.child.seconds * 1000 };
        } catch (err) {
          const e = err as Error;
          state.failure = {
            status: e instanceof EngineFailure && e.notBuilt ? 'skipped' : 'failed',
            note: e instanceof EngineFailure && e.notBuilt ? `${engine.id}: not built yet (exit ${e.exitCode})` : e.message,
          };
          throw err;
        }
      },
      {
        afterEach(mode) {
          const spawned = state.spawned;
          if (spawned === null) return;
          state.spawned = null;
          if (mode !== 'warmup') state.runsS.push(spawned.child.seconds);
          let run: EngineRun;
          try {
            run = { child: spawned.child, outcome: readOutcome(engine, spawned.child, spawned.outBill) };
          } catch (err) {
            state.failure = { status: 'failed', note: `${engine.id}: its outputs could not be read: ${(err as Error).message}` };
            throw err;
          }
          state.peakRss = Math.max(state.peakRss, run.child.peakRssBytes ?? 0);
          // The plain Spark SQL job is a timing reference: its output is not a bill.
          if (timedOnly(engine)) return;
          const reference = ref.current;
          if (reference === null) {
            ref.current = { engine: engine.id, outcome: run.outcome };
            return;
          }
          // DuckDB does not classify rejects; compare those only between mr engines.
          const diffs = outcomeDifferences(reference.outcome, run.outcome);
          if (diffs.length > 0) {
            state.failure = { status: 'mismatch', note: `${engine.id} differs from ${reference.engine}: ${diffs.join('; ')}` };
            throw new Error(state.failure.note);
          }
        },
      },
    );
    bench.addEventListener('cycle', (ev) => {
      const task = (ev as unknown as { task?: { name: string; result: { state: string; latency?: { mean: number } } } }).task;
      if (task === undefined) return;
      const r = task.result;
      opts.log?.(`    ${task.name}: ${r.state === 'completed' && r.latency ? `${(r.latency.mean / 1000).toFixed(2)} s mean` : r.state}`);
    });
    return bench;
  });
  const naiveRuns = opts.naiveIterations !== undefined && engines.some((e) => e.kind === 'naive') ? `, naive ${opts.naiveIterations}` : '';
  opts.log?.(`  ${dataset.id}: ${engines.map((e) => e.id).join(', ')} (${opts.warmupIterations} warm-up + ${opts.iterations} timed runs each${naiveRuns})`);
  // In turn, the engines' order (the first checked run is the bill's reference).
  for (const bench of benches) await bench.run();
  rmSync(workDir, { recursive: true, force: true });

  const raw = benches.map((bench, i) => {
    const task = bench.tasks[0]!;
    const engine = engines[i]!;
    const state = states.get(engine.id)!;
    const r = task.result;
    const ok = r.state === 'completed' && state.failure === null;
    const lat = ok && 'latency' in r ? r.latency : null;
    return { engine, state, r, lat, ok };
  });
  const minOf = (id: string) => {
    const x = raw.find((t) => t.engine.id === id);
    return x?.lat ? x.lat.min / 1000 : null;
  };
  const naiveMin = minOf('naive');
  const duckMin = minOf('duckdb');
  const duckSimplestMin = minOf('duckdb-simplest');
  const sparkPlainMin = minOf('spark-plain');
  return raw.map(({ engine, state, r, lat, ok }) => {
    const minS = lat ? lat.min / 1000 : null;
    const startupS = startup.get(engine.id) ?? null;
    const failure = state.failure ?? (ok ? null : { status: 'failed' as const, note: r.state === 'errored' ? r.error.message : r.state });
    return {
      dataset: dataset.id,
      format: dataset.format,
      sizeMiB: dataset.sizeMiB,
      users: dataset.users,
      bytes: dataset.bytes,
      records: dataset.records,
      engine: engine.id,
      kind: engine.kind,
      workers: engine.workers ?? engine.threads ?? null,
      status: failure?.status ?? 'ok',
      note: failure?.note ?? null,
      samples: lat?.samplesCount ?? 0,
      runsS: ok ? state.runsS : [],
      meanS: lat ? lat.mean / 1000 : null,
      minS,
      maxS: lat ? lat.max / 1000 : null,
      rowsPerS: minS ? dataset.records / minS : null,
      mibPerS: minS ? dataset.bytes / 1048576 / minS : null,
      speedupVsNaive: minS && naiveMin ? naiveMin / minS : null,
      ratioVsDuckdb: minS && duckMin ? duckMin / minS : null,
      ratioVsDuckdbSimplest: minS && duckSimplestMin ? duckSimplestMin / minS : null,
      sparkOverPlain: engine.kind === 'spark' && minS && sparkPlainMin ? minS / sparkPlainMin : null,
      peakRssMiB: ok && state.peakRss > 0 ? state.peakRss / 1048576 : null,
      startupS,
      steadyMibPerS: minS && startupS !== null && minS > startupS ? dataset.bytes / 1048576 / (minS - startupS) : null,
    } satisfies Entry;
  });
}

/**
 * Fixed cost of each engine: the best of `runs` runs over a 1,000-line input. For Spark this
 * is connect + session + a trivial job; for the others, process start-up and module loading.
 */
export async function measureStartup(tiny: Dataset, engines: readonly Engine[], runs: number): Promise<Map<string, number>> {
  const workDir = mkdtempSync(join(tmpdir(), 'mr-bench-startup-'));
  const out = new Map<string, number>();
  const bench = new Bench({ name: 'startup', iterations: runs, time: 0, warmup: false, throws: false });
  for (const engine of engines) {
    bench.add(engine.id, async () => ({ overriddenDuration: (await spawnEngine(engine, tiny, workDir)).child.seconds * 1000 }));
  }
  await bench.run();
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state === 'completed') out.set(task.name, r.latency.min / 1000);
  }
  rmSync(workDir, { recursive: true, force: true });
  return out;
}
