/**
 * The regression rule of `npm run bench:check`, as pure functions: each machine-independent
 * ratio measured in one run (time of the slower engine / time of parallel at 2 workers, so
 * higher is better) is compared with the committed baseline; a ratio below
 * baseline × (1 − tolerance) is a regression.
 */

/** The ratios the check measures; each is "how many times faster parallel-2w is than X". */
export const RATIOS = {
  'parallel2/naive': 'naive time / parallel 2 workers time',
  'parallel2/duckdb': 'DuckDB time / parallel 2 workers time',
  'parallel2/parallel1': 'parallel 1 worker time / parallel 2 workers time',
} as const;
export type RatioName = keyof typeof RATIOS;

export interface Baseline {
  /** Allowed relative drop before a ratio counts as a regression, e.g. 0.25. */
  readonly tolerance: number;
  readonly ratios: Readonly<Record<RatioName, number>>;
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

/** Per-round ratios from per-round times (seconds) of the four engines. */
export function roundRatios(t: { naive: number; parallel1: number; parallel2: number; duckdb: number }): Record<RatioName, number> {
  return {
    'parallel2/naive': t.naive / t.parallel2,
    'parallel2/duckdb': t.duckdb / t.parallel2,
    'parallel2/parallel1': t.parallel1 / t.parallel2,
  };
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
  const rows = (Object.keys(RATIOS) as RatioName[]).map((ratio): ComparisonRow => {
    const base = baseline.ratios[ratio];
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
}

/**
 * The measured ratios: for each ratio, the median over the rounds of the ratio computed
 * within the round (its engines ran back to back, under the same load). A round in which an
 * engine failed contributes nothing; no complete round gives null (the check fails).
 */
export function ratiosFromRounds(rounds: readonly RoundTimes[]): Record<RatioName, number | null> {
  const complete = rounds.filter((r): r is { naive: number; parallel1: number; parallel2: number; duckdb: number } =>
    [r.naive, r.parallel1, r.parallel2, r.duckdb].every((t) => typeof t === 'number' && t > 0),
  );
  const per = complete.map(roundRatios);
  return Object.fromEntries((Object.keys(RATIOS) as RatioName[]).map((k) => [k, median(per.map((p) => p[k]))])) as Record<RatioName, number | null>;
}

/** Compares the spark ratio with its baseline; `null` measured while Spark answered is MISSING (the check fails). */
export function compareSparkRatio(measured: number | null, baseline: number, tolerance: number): ComparisonRow {
  const floor = baseline * (1 - tolerance);
  const value = measured === null || !Number.isFinite(measured) ? null : measured;
  const verdict: Verdict = value === null ? 'MISSING' : value < floor ? 'REGRESSION' : value > baseline * (1 + tolerance) ? 'better' : 'ok';
  return { ratio: SPARK_RATIO, measured: value, baseline, floor, verdict };
}
