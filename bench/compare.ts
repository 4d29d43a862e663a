/**
 * The regression rule of `npm run bench:check`, as pure functions: each machine-independent
 * ratio measured in one run (time of the slower engine / time of parallel at 2 workers, so
 * higher is better) is compared with the committed baseline; a ratio below
 * baseline × (1 − tolerance) is a regression.
 */

/**
 * The ratios the check measures, each a time over another measured in the same round (higher
 * is better): how many times faster parallel-2w is than another engine on the check set, and
 * the parallel engine's throughput on another shape of input (CSV, JSON lines, 1M users; files
 * of the same size) as a share of its throughput on the check set.
 */
export const RATIOS = {
  'parallel2/naive': 'naive time / parallel 2 workers time',
  'parallel2/duckdb': 'DuckDB time / parallel 2 workers time',
  'parallel2/parallel1': 'parallel 1 worker time / parallel 2 workers time',
  'csv/space': 'parallel 2 workers: time on the check set / time on CSV of the same size (CSV throughput as a share of the original format\'s)',
  'jsonl/space': 'parallel 2 workers: time on the check set / time on JSON lines of the same size (their throughput as a share of the original format\'s)',
  'users1M/users1k': 'parallel 2 workers: time on the check set (1k users) / time on the same size with 1M users (throughput at 1M users as a share of 1k users\')',
} as const;
export type RatioName = keyof typeof RATIOS;

/** Each ratio as [the time on top, the time below] of a round. */
const RATIO_TIMES: Readonly<Record<RatioName, readonly [keyof RoundTimes, keyof RoundTimes]>> = {
  'parallel2/naive': ['naive', 'parallel2'],
  'parallel2/duckdb': ['duckdb', 'parallel2'],
  'parallel2/parallel1': ['parallel1', 'parallel2'],
  'csv/space': ['parallel2', 'csv2'],
  'jsonl/space': ['parallel2', 'jsonl2'],
  'users1M/users1k': ['parallel2', 'users1M2'],
};

/** The ratios of the check set's four engines; a round counts for them only when all four ran. */
const MAIN_RATIOS: readonly RatioName[] = ['parallel2/naive', 'parallel2/duckdb', 'parallel2/parallel1'];

export interface Baseline {
  /** Allowed relative drop before a ratio counts as a regression, e.g. 0.25. */
  readonly tolerance: number;
  /** A ratio absent here is measured and shown, not compared (a baseline older than the ratio). */
  readonly ratios: Readonly<Partial<Record<RatioName, number>>>;
  readonly [extra: string]: unknown;
}

export type Verdict = 'ok' | 'better' | 'REGRESSION' | 'MISSING';

/**
 * The spark engine's ratio, measured only when a Spark Connect endpoint answers: the plain
 * Spark SQL job's time / the spark engine's time on the check set, in the same round (higher
 * is better; its inverse is how many times Spark's own parsing cost the engine takes).
 */
export const SPARK_RATIO = 'sparkplain/spark' as const;
export const SPARK_RATIO_DESCRIBES = 'plain Spark SQL job time / spark engine time (same cluster, same round)';

export interface ComparisonRow {
  readonly ratio: RatioName | typeof SPARK_RATIO;
  readonly measured: number | null;
  readonly baseline: number;
  readonly floor: number;
  readonly verdict: Verdict;
}

export interface Comparison {
  readonly rows: readonly ComparisonRow[];
  readonly ok: boolean;
}

/** Per-round ratios from per-round times (seconds): each ratio whose two times the round has. */
export function roundRatios(t: RoundTimes): Partial<Record<RatioName, number>> {
  const out: Partial<Record<RatioName, number>> = {};
  for (const [name, [top, below]] of Object.entries(RATIO_TIMES) as Array<[RatioName, readonly [keyof RoundTimes, keyof RoundTimes]]>) {
    const a = t[top];
    const b = t[below];
    if (typeof a === 'number' && typeof b === 'number' && a > 0 && b > 0) out[name] = a / b;
  }
  return out;
}

export function median(xs: readonly number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Compares measured ratios with the baseline. A ratio that could not be measured fails the check. */
export function compareWithBaseline(measured: Partial<Record<RatioName, number | null>>, baseline: Baseline, tolerance: number = baseline.tolerance): Comparison {
  if (!(tolerance >= 0 && tolerance < 1)) throw new RangeError(`tolerance ${tolerance} must be in [0, 1)`);
  const rows = (Object.keys(RATIOS) as RatioName[]).filter((r) => baseline.ratios[r] !== undefined).map((ratio): ComparisonRow => {
    const base = baseline.ratios[ratio]!;
    const floor = base * (1 - tolerance);
    const m = measured[ratio];
    const value = m === undefined || m === null || !Number.isFinite(m) ? null : m;
    const verdict: Verdict = value === null ? 'MISSING' : value < floor ? 'REGRESSION' : value > base * (1 + tolerance) ? 'better' : 'ok';
    return { ratio, measured: value, baseline: base, floor, verdict };
  });
  return { rows, ok: rows.every((r) => r.verdict === 'ok' || r.verdict === 'better') };
}

export function formatComparison(c: Comparison, tolerance: number): string {
  const header = ['ratio', 'measured', 'baseline', `floor (−${Math.round(tolerance * 100)}%)`, 'verdict'];
  const body = c.rows.map((r) => [r.ratio, r.measured === null ? '–' : r.measured.toFixed(2), r.baseline.toFixed(2), r.floor.toFixed(2), r.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 || i === 4 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Engine times (seconds) of one round; null when that engine failed in the round. */
export interface RoundTimes {
  readonly naive: number | null;
  readonly parallel1: number | null;
  readonly parallel2: number | null;
  readonly duckdb: number | null;
  /** parallel 2 workers on the other shapes: CSV, JSON lines, 1M users (absent: not measured). */
  readonly csv2?: number | null;
  readonly jsonl2?: number | null;
  readonly users1M2?: number | null;
}

/**
 * The measured ratios: for each ratio, the median over the rounds of the ratio computed
 * within the round (its engines ran back to back, under the same load). A round in which an
 * engine failed contributes nothing; no complete round gives null (the check fails).
 */
export function ratiosFromRounds(rounds: readonly RoundTimes[]): Partial<Record<RatioName, number | null>> {
  const complete = rounds.filter((r) => [r.naive, r.parallel1, r.parallel2, r.duckdb].every((t) => typeof t === 'number' && t > 0));
  const out: Partial<Record<RatioName, number | null>> = {};
  for (const k of MAIN_RATIOS) out[k] = median(complete.map((r) => roundRatios(r)[k] ?? NaN));
  // The other shapes' ratios: from every round that measured both of their times.
  for (const k of (Object.keys(RATIOS) as RatioName[]).filter((x) => !MAIN_RATIOS.includes(x))) {
    if (!rounds.some((r) => r[RATIO_TIMES[k][1]] !== undefined)) continue;
    out[k] = median(rounds.map((r) => roundRatios(r)[k] ?? NaN));
  }
  return out;
}

/** Compares the spark ratio with its baseline; `null` measured while Spark answered is MISSING (the check fails). */
export function compareSparkRatio(measured: number | null, baseline: number, tolerance: number): ComparisonRow {
  const floor = baseline * (1 - tolerance);
  const value = measured === null || !Number.isFinite(measured) ? null : measured;
  const verdict: Verdict = value === null ? 'MISSING' : value < floor ? 'REGRESSION' : value > baseline * (1 + tolerance) ? 'better' : 'ok';
  return { ratio: SPARK_RATIO, measured: value, baseline, floor, verdict };
}
