import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareWithBaseline, formatComparison, median, RATIOS, ratiosFromRounds, roundRatios, type Baseline } from './compare.js';
import { textTable, markdownTable } from './report.js';
import { outcomeDifferences } from './engines.js';
import { billingSql, fixedPlaces } from './duckdb-sql.js';
import { hostPort } from './spark.js';

const baseline: Baseline = {
  tolerance: 0.25,
  ratios: { 'parallel2/naive': 2.4, 'parallel2/duckdb': 1.5, 'parallel2/parallel1': 1.3 },
};

describe('compareWithBaseline', () => {
  it('passes a result at or near the baseline, and one that is better', () => {
    const c = compareWithBaseline({ 'parallel2/naive': 2.3, 'parallel2/duckdb': 1.6, 'parallel2/parallel1': 1.0 }, baseline);
    expect(c.ok).toBe(true);
    expect(c.rows.map((r) => r.verdict)).toEqual(['ok', 'ok', 'ok']);
    const better = compareWithBaseline({ 'parallel2/naive': 4, 'parallel2/duckdb': 1.5, 'parallel2/parallel1': 1.3 }, baseline);
    expect(better.ok).toBe(true);
    expect(better.rows[0]!.verdict).toBe('better');
  });

  it('fails a regressed result: a ratio below baseline × (1 − tolerance)', () => {
    // parallel at 2 workers became no faster than at 1 worker (1.3 → 0.9, floor 0.975).
    const c = compareWithBaseline({ 'parallel2/naive': 2.4, 'parallel2/duckdb': 1.5, 'parallel2/parallel1': 0.9 }, baseline);
    expect(c.ok).toBe(false);
    const row = c.rows.find((r) => r.ratio === 'parallel2/parallel1')!;
    expect(row.verdict).toBe('REGRESSION');
    expect(row.floor).toBeCloseTo(0.975, 10);
    expect(formatComparison(c, 0.25)).toMatch(/parallel2\/parallel1\s+0\.90\s+1\.30\s+0\.98\s+REGRESSION/);
  });

  it('treats the floor itself as passing and just below it as a regression', () => {
    const floor = 2.4 * 0.75;
    expect(compareWithBaseline({ ...baseline.ratios, 'parallel2/naive': floor }, baseline).ok).toBe(true);
    expect(compareWithBaseline({ ...baseline.ratios, 'parallel2/naive': floor - 1e-9 }, baseline).ok).toBe(false);
  });

  it('fails when a ratio could not be measured (an engine failed)', () => {
    const c = compareWithBaseline({ 'parallel2/naive': 2.4, 'parallel2/duckdb': null }, baseline);
    expect(c.ok).toBe(false);
    expect(c.rows.map((r) => r.verdict)).toEqual(['ok', 'MISSING', 'MISSING']);
  });

  it('honours an explicit tolerance and rejects a nonsensical one', () => {
    const m = { 'parallel2/naive': 2.0, 'parallel2/duckdb': 1.5, 'parallel2/parallel1': 1.3 };
    expect(compareWithBaseline(m, baseline, 0.25).ok).toBe(true);
    expect(compareWithBaseline(m, baseline, 0.1).ok).toBe(false);
    expect(() => compareWithBaseline(m, baseline, 1)).toThrow(RangeError);
  });
});

describe('the other shapes’ ratios (CSV, JSON lines, 1M users)', () => {
  it('are the check set’s parallel-2w time over that shape’s, from every round that has both', () => {
    expect(roundRatios({ naive: 5, parallel1: 2, parallel2: 1, duckdb: 1.5, csv2: 1.25, jsonl2: 1, users1M2: 2 })).toEqual({
      'parallel2/naive': 5,
      'parallel2/duckdb': 1.5,
      'parallel2/parallel1': 2,
      'csv/space': 0.8,
      'jsonl/space': 1,
      'users1M/users1k': 0.5,
    });
    const r = ratiosFromRounds([
      { naive: 3, parallel1: 1, parallel2: 1, duckdb: 2, csv2: 1.25, jsonl2: 1, users1M2: 2 },
      { naive: 3, parallel1: null, parallel2: 1, duckdb: 2, csv2: 1, jsonl2: 1, users1M2: 4 }, // counts for the shapes, not for the check set's ratios
      { naive: 3, parallel1: 1, parallel2: 1, duckdb: 2, csv2: 1, jsonl2: null, users1M2: 2.5 },
    ]);
    expect(r).toEqual({ 'parallel2/naive': 3, 'parallel2/duckdb': 2, 'parallel2/parallel1': 1, 'csv/space': 1, 'jsonl/space': 1, 'users1M/users1k': 0.4 });
  });

  it('a ratio missing from an older baseline is not compared; one the baseline has is', () => {
    const c = compareWithBaseline({ ...baseline.ratios, 'csv/space': 0.1 }, baseline);
    expect(c.ok).toBe(true);
    expect(c.rows.map((x) => x.ratio)).toEqual(['parallel2/naive', 'parallel2/duckdb', 'parallel2/parallel1']);
    const withShapes: Baseline = { ...baseline, ratios: { ...baseline.ratios, 'csv/space': 0.8, 'users1M/users1k': 0.3 } };
    const d = compareWithBaseline({ ...baseline.ratios, 'csv/space': 0.5, 'users1M/users1k': 0.3 }, withShapes);
    expect(d.ok).toBe(false);
    expect(d.rows.find((x) => x.ratio === 'csv/space')!.verdict).toBe('REGRESSION');
  });
});

describe('ratios', () => {
  it('are the other engine time over parallel 2 workers time', () => {
    expect(roundRatios({ naive: 3, parallel1: 1.2, parallel2: 0.6, duckdb: 0.9 })).toEqual({
      'parallel2/naive': 5,
      'parallel2/duckdb': 1.5,
      'parallel2/parallel1': 2,
    });
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([NaN])).toBeNull();
  });

  it('take the median over rounds of the ratio within each round, skipping incomplete rounds', () => {
    const r = ratiosFromRounds([
      { naive: 3, parallel1: 1, parallel2: 1, duckdb: 2 },
      { naive: 6, parallel1: 1, parallel2: 2, duckdb: 2 }, // a slow round for parallel 2
      { naive: 4, parallel1: 1.5, parallel2: 1, duckdb: 1.5 },
      { naive: 4, parallel1: null, parallel2: 1, duckdb: 1.5 }, // parallel 1 failed: not counted
    ]);
    expect(r).toEqual({ 'parallel2/naive': 3, 'parallel2/duckdb': 1.5, 'parallel2/parallel1': 1 });
    expect(ratiosFromRounds([])).toEqual({ 'parallel2/naive': null, 'parallel2/duckdb': null, 'parallel2/parallel1': null });
  });
});

describe('result checks and presentation', () => {
  it('reports every difference between two outcomes', () => {
    const ref = { billSha256: 'a', users: 2, accepted: 10, rejected: { bad_user: 1 } };
    expect(outcomeDifferences(ref, { ...ref })).toEqual([]);
    expect(outcomeDifferences(ref, { billSha256: 'b', users: 2, accepted: 9, rejected: { bad_user: 2 } })).toHaveLength(3);
    // DuckDB does not classify rejects: only the bill and the accepted count are compared.
    expect(outcomeDifferences(ref, { billSha256: 'a', users: 2, accepted: 10 })).toEqual([]);
  });

  it('formats DuckDB decimals with exactly the currency places', () => {
    expect(fixedPlaces('12.3', 2)).toBe('12.30');
    expect(fixedPlaces('12.345', 2)).toBe('12.34');
    expect(fixedPlaces('7', 2)).toBe('7.00');
    expect(fixedPlaces('7.00', 0)).toBe('7');
  });

  it('quotes paths and rates in the DuckDB SQL', () => {
    const sql = billingSql({ file: "/tmp/o'brien.log", format: 'space' }, [['login', '0.005']], 2, 86400000);
    expect(sql).toContain("'/tmp/o''brien.log'");
    expect(sql).toContain("('login', CAST('0.005' AS DECIMAL(38,12)))");
    expect(sql).toContain('GROUP BY usr, task');
  });

  it('parses Spark Connect endpoints', () => {
    expect(hostPort('sc://127.0.0.1:15002')).toEqual({ host: '127.0.0.1', port: 15002 });
    expect(hostPort('sc://spark-connect/;user_id=x')).toEqual({ host: 'spark-connect', port: 15002 });
    expect(hostPort('http://x')).toBeNull();
  });

  it('lays out tables', () => {
    expect(textTable(['a', 'n'], [['x', '1.5'], ['yy', '10.25']])).toBe('a       n\n--  -----\nx     1.5\nyy  10.25');
    expect(markdownTable(['a', 'n'], [['x', '1']])).toBe('| a | n |\n|---|---:|\n| x | 1 |');
  });
});

// The check as CI runs it, handed a stored result instead of measuring: exit 1 on a
// regression, 0 otherwise. Needs the build (npm test builds first).
const CHECK = join(import.meta.dirname, '..', 'dist', 'bench', 'check.js');
describe.skipIf(!existsSync(CHECK))('npm run bench:check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mr-bench-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const baselineFile = join(dir, 'baseline.json');
  writeFileSync(baselineFile, JSON.stringify(baseline));
  const run = (ratios: Record<string, number>) => {
    const result = join(dir, `result-${Object.values(ratios).join('-')}.json`);
    writeFileSync(result, JSON.stringify({ ratios }));
    return spawnSync(process.execPath, [CHECK, '--baseline', baselineFile, '--result', result], { encoding: 'utf8' });
  };

  it('exits 1 and says REGRESSION when handed a regressed result', () => {
    const r = run({ 'parallel2/naive': 1.2, 'parallel2/duckdb': 1.5, 'parallel2/parallel1': 1.3 });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/parallel2\/naive\s+1\.20\s+2\.40\s+1\.80\s+REGRESSION/);
    expect(r.stdout).toContain('bench:check FAILED');
  });

  it('exits 0 when handed a good result', () => {
    const r = run({ 'parallel2/naive': 2.5, 'parallel2/duckdb': 1.4, 'parallel2/parallel1': 1.25 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('bench:check passed');
  });

  it('the committed baseline is well formed', () => {
    const committed = JSON.parse(readFileSync(join(import.meta.dirname, 'baseline.json'), 'utf8')) as Baseline;
    expect(committed.tolerance).toBeGreaterThan(0);
    expect(committed.tolerance).toBeLessThan(1);
    for (const v of Object.values(committed.ratios)) expect(v).toBeGreaterThan(0);
    // Every ratio the check measures has a baseline.
    expect(Object.keys(committed.ratios).sort()).toEqual(Object.keys(RATIOS).sort());
  });
});
