/**
 * Timing with tinybench: for each dataset, rounds of one run of each engine (one Bench per
 * round, the engines taking turns: roundOrder), each run a whole child process. A run's time
 * is the child's wall time, from its spawn to its exit (tinybench's overriddenDuration). Every
 * run's outputs are read and its bill checked against the reference (the first engine that
 * ran, naive by default) in tinybench's afterEach hook, outside the timed region; a mismatch
 * fails the engine, so a wrong engine's time never counts.
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
  /** The last run's child, until afterEach reads its outputs. */
  spawned: EngineChild | null;
  /** The timed runs' child wall times, seconds. */
  runsS: number[];
  /** The last run's time (warm-up or timed), seconds. */
  lastS: number;
  peakRss: number;
  failure: { status: EntryStatus; note: string } | null;
}

/**
 * The engines of round r (0-based, warm-up rounds first): those with a run left, in turn from
 * the r-th engine on, so that no engine always runs first or right after the same one. Round 0
 * keeps the given order: its first engine's bill is the reference.
 */
export function roundOrder<E>(engines: readonly E[], runs: (e: E) => number, warmups: number, r: number): E[] {
  const here = engines.filter((e) => r < warmups + runs(e));
  return here.map((_, i) => here[(i + r) % here.length]!);
}

/**
 * Times every engine over one dataset. `reference` is shared across calls only within a dataset.
 * The engines take turns, one run each per round (roundOrder): a slow spell of a shared
 * machine, which lasts a few runs, then slows every engine's runs alike, and the ratios between
 * them (what the targets are) do not depend on which engine it fell on. Timed one engine after
 * the other, all three of an engine's runs could fall in one such spell.
 */
export async function measureDataset(dataset: Dataset, engines: readonly Engine[], opts: MeasureOptions, startup: ReadonlyMap<string, number>): Promise<Entry[]> {
  const workDir = mkdtempSync(join(tmpdir(), 'mr-bench-'));
  const ref: Reference = opts.reference ?? { current: null };
  const states = new Map<string, TaskState>(engines.map((e) => [e.id, { spawned: null, runsS: [], lastS: 0, peakRss: 0, failure: null }]));
  const runs = (engine: Engine) => (engine.kind === 'naive' ? (opts.naiveIterations ?? opts.iterations) : opts.iterations);
  const rounds = opts.warmupIterations + Math.max(0, ...engines.map(runs));
  const naiveRuns = opts.naiveIterations !== undefined && engines.some((e) => e.kind === 'naive') ? `, naive ${opts.naiveIterations}` : '';
  opts.log?.(`  ${dataset.id}: ${engines.map((e) => e.id).join(', ')} (${opts.warmupIterations} warm-up + ${opts.iterations} timed runs each${naiveRuns}, in turn)`);
  for (let r = 0; r < rounds; r++) {
    const warmup = r < opts.warmupIterations;
    const here = roundOrder(engines, runs, opts.warmupIterations, r).filter((e) => states.get(e.id)!.failure === null);
    if (here.length === 0) break;
    const bench = new Bench({ name: `${dataset.id} round ${r + 1}`, iterations: 1, time: 0, warmup: false, throws: false });
    for (const engine of here) addRun(bench, engine, dataset, workDir, states.get(engine.id)!, ref, warmup);
    await bench.run();
    const times = here.map((e) => `${e.id} ${states.get(e.id)!.failure === null ? `${states.get(e.id)!.lastS.toFixed(2)} s` : 'failed'}`);
    opts.log?.(`    round ${r + 1}/${rounds}${warmup ? ' (warm-up)' : ''}: ${times.join(', ')}`);
  }
  rmSync(workDir, { recursive: true, force: true });

  const minOf = (id: string) => {
    const st = states.get(id);
    return st !== undefined && st.failure === null && st.runsS.length > 0 ? Math.min(...st.runsS) : null;
  };
  const naiveMin = minOf('naive');
  const duckMin = minOf('duckdb');
  const duckSimplestMin = minOf('duckdb-simplest');
  const sparkPlainMin = minOf('spark-plain');
  return engines.map((engine) => {
    const state = states.get(engine.id)!;
    const ok = state.failure === null && state.runsS.length > 0;
    const failure = state.failure ?? (ok ? null : { status: 'failed' as const, note: `${engine.id}: no timed run` });
    const runsS = ok ? state.runsS : [];
    const minS = ok ? Math.min(...runsS) : null;
    const startupS = startup.get(engine.id) ?? null;
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
      samples: runsS.length,
      runsS,
      meanS: ok ? runsS.reduce((a, b) => a + b, 0) / runsS.length : null,
      minS,
      maxS: ok ? Math.max(...runsS) : null,
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
 * One run of `engine` added to a round's Bench: timed as its child's wall time (tinybench's
 * overriddenDuration); its outputs read and its bill checked against the reference in the
 * afterEach hook, outside the timed region (the first bill read becomes the reference). A
 * failure or a mismatch is kept in `state` and ends the engine's runs.
 */
function addRun(bench: Bench, engine: Engine, dataset: Dataset, workDir: string, state: TaskState, ref: Reference, warmup: boolean): void {
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
      afterEach() {
        const spawned = state.spawned;
        if (spawned === null) return;
        state.spawned = null;
        state.lastS = spawned.child.seconds;
        if (!warmup) state.runsS.push(spawned.child.seconds);
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
