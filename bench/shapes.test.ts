/**
 * The shapes case's logic (bench/shapes.ts) and the dataset names it adds (datasets.ts),
 * without timing anything: the sets and their cache names (the existing sets' names kept, so
 * their cached files stay valid), what each set is read with, the engines of a set, the
 * rotation of the rounds, the bill check and the table's ratios.
 */
import { describe, expect, it } from 'vitest';
import { datasetFileName, datasetId, plainOf, readArgs } from './datasets.js';
import { commandFor, duckdbSimplest } from './engines.js';
import type { Outcome } from './engines.js';
import { checkRows, roundOrder, shapeEngines, shapeHeader, shapeSets, shapeTableRows, type ShapeRow, type ShapeSet } from './shapes.js';

describe('the shapes case’s sets', () => {
  it('every format’s plain set, then its shapes of the same records; ids and cache names say shape and gzip', () => {
    const sets = shapeSets(256);
    expect(sets.map(datasetId)).toEqual([
      'csv-256MiB-1kusers',
      'csv-256MiB-1kusers-quote-all',
      'csv-256MiB-1kusers-quote-text',
      'csv-256MiB-1kusers-gzip',
      'jsonl-256MiB-1kusers',
      'jsonl-256MiB-1kusers-nested',
      'jsonl-256MiB-1kusers-gzip',
      'jsonl-256MiB-1kusers-fluent-bit',
      'space-256MiB-1kusers',
      'space-256MiB-1kusers-gzip',
      'space-256MiB-1kusers-fluent-bit',
      'space-256MiB-1kusers-cloudwatch',
    ]);
    expect(sets.map((s) => datasetFileName(s))).toContain('csv-256MiB-1kusers-gzip-seed1.csv.gz');
    expect(datasetFileName(sets[10]!, true)).toBe('space-256MiB-1kusers-fluent-bit-seed1.partial.log');
    for (const s of sets) expect(plainOf(s) === null ? datasetId(s) : datasetId(plainOf(s)!)).toBe(`${s.format}-256MiB-1kusers`);
  });

  it('keeps the names of the sets cached before shapes existed', () => {
    expect(datasetFileName({ format: 'space', sizeMiB: 1024, users: 1_000_000 })).toBe('space-1GiB-1Musers-seed1.log');
    expect(datasetFileName({ format: 'jsonl', sizeMiB: 1024, users: 1000, redeliver: { share: 0.01, conflicts: 0.01 } })).toBe('jsonl-1GiB-1kusers-ids-redeliver0.01-conflicts0.01-seed1.jsonl');
    expect(datasetFileName({ format: 'csv', sizeMiB: 0, users: 100, lines: 1000 })).toBe('csv-1000lines-100users-seed1.csv');
    expect(datasetFileName({ format: 'csv', sizeMiB: 64, users: 1000, shape: 'plain', gzip: false })).toBe('csv-64MiB-1kusers-seed1.csv');
  });

  it('the wrapped sets are read with --wrapped and their inner format; the others by their names', () => {
    expect(readArgs({ format: 'space', shape: 'fluent-bit' })).toEqual(['--wrapped', 'fluent-bit', '--format', 'space']);
    expect(readArgs({ format: 'jsonl', shape: 'cloudwatch' })).toEqual(['--wrapped', 'cloudwatch', '--format', 'jsonl']);
    expect(readArgs({ format: 'csv', shape: 'quote-all' })).toEqual([]);
    // DuckDB cannot read the wrapper: asked to, the bench fails rather than time a misread.
    expect(() => commandFor(duckdbSimplest(2), 'x.log', 'b.txt', readArgs({ format: 'space', shape: 'fluent-bit' }))).toThrow(/cannot read x\.log/);
    expect(commandFor(duckdbSimplest(2), 'x.csv.gz', 'b.txt', [])).toContain('--simplest');
  });

  it('the parallel engine at N and 1 workers, DuckDB’s simplest query except on the wrapped sets', () => {
    const sets = shapeSets(16);
    const [csv] = sets;
    expect(shapeEngines(csv!, 4, 2).map((e) => e.id)).toEqual(['parallel-4w', 'parallel-1w', 'duckdb-simplest']);
    for (const s of sets.filter((x) => x.shape === 'fluent-bit' || x.shape === 'cloudwatch')) expect(shapeEngines(s, 4, 2).map((e) => e.id)).toEqual(['parallel-4w', 'parallel-1w']);
    expect(shapeEngines(csv!, 1, 2).map((e) => e.id)).toEqual(['parallel-1w', 'duckdb-simplest']);
  });

  it('rotates each round’s order by one, every run once a round', () => {
    const runs = ['a', 'b', 'c', 'd'];
    expect(roundOrder(runs, 0)).toEqual(['a', 'b', 'c', 'd']);
    expect(roundOrder(runs, 1)).toEqual(['b', 'c', 'd', 'a']);
    expect(roundOrder(runs, 5)).toEqual(['b', 'c', 'd', 'a']);
  });
});

const outcome = (sha: string, accepted = 100, rejected: Record<string, number> = { bad_user: 1 }): Outcome => ({ billSha256: sha, users: 3, accepted, rejected });
const set = (id: string, plain: string, diskMiB: number, shape = 'plain'): ShapeSet => ({ id, format: 'csv', shape, plain, records: 1000, diskBytes: diskMiB * 1048576, plainBytes: 16 * 1048576 });
function row(dataset: string, engine: string, seconds: number[], outcomes: Outcome[]): ShapeRow {
  const kind = engine === 'duckdb-simplest' ? 'duckdb-simplest' : 'parallel';
  return { dataset, engine, kind, workers: kind === 'parallel' ? Number(/(\d+)w/.exec(engine)![1]) : null, seconds, outcomes, status: 'ok', note: null };
}

describe('the bill check', () => {
  const sets = [set('p', 'p', 16), set('q', 'p', 20, 'quote-all'), set('z', 'p', 4, 'gzip')];

  it('passes shapes whose every parallel bill and counts are the plain set’s', () => {
    const rows = [row('p', 'parallel-2w', [1], [outcome('A')]), row('q', 'parallel-2w', [1, 2], [outcome('A'), outcome('A')]), row('z', 'parallel-1w', [1], [outcome('A')])];
    expect(checkRows(sets, rows)).toEqual([]);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
  });

  it('a shape whose bill, accepted or reject counts differ in any round is a mismatch', () => {
    const rows = [
      row('p', 'parallel-2w', [1], [outcome('A')]),
      row('q', 'parallel-2w', [1, 2], [outcome('A'), outcome('B')]),
      row('z', 'parallel-2w', [1], [outcome('A', 100, { bad_user: 2 })]),
    ];
    const problems = checkRows(sets, rows);
    expect(rows.map((r) => r.status)).toEqual(['ok', 'mismatch', 'mismatch']);
    expect(problems).toHaveLength(2);
    expect(rows[1]!.note).toMatch(/billing\.txt differs/);
    expect(rows[2]!.note).toMatch(/rejected bad_user: 2 vs 1/);
  });

  it('with no plain bill (its runs failed) the shapes are unchecked, and the failure is a problem too', () => {
    const failed = { ...row('p', 'parallel-2w', [], []), status: 'failed' as const, note: 'exited with 1' };
    const rows = [failed, row('q', 'parallel-2w', [1], [outcome('A')])];
    const problems = checkRows(sets, rows);
    expect(rows.map((r) => r.status)).toEqual(['failed', 'unchecked']);
    expect(problems).toEqual(['p parallel-2w: exited with 1', 'q parallel-2w: no bill of p to check against']);
  });

  it('DuckDB’s simplest query is never a problem, but a note says when its sums on a shape differ from the plain set’s', () => {
    const rows = [row('p', 'parallel-2w', [1], [outcome('A')]), row('p', 'duckdb-simplest', [1], [outcome('D')]), row('q', 'duckdb-simplest', [1], [outcome('E')]), row('z', 'duckdb-simplest', [1], [outcome('D')])];
    expect(checkRows(sets, rows)).toEqual([]);
    expect(rows.map((r) => r.note)).toEqual([null, null, expect.stringMatching(/differ from its sums on p/), null]);
  });
});

describe('the table', () => {
  it('rates of the plain bytes and of the disk bytes, × plain against the same engine on the plain set, N/1 workers, × DuckDB', () => {
    const sets = [set('p', 'p', 16), set('q', 'p', 32, 'quote-all'), set('w', 'p', 64, 'fluent-bit')];
    const rows = [
      row('p', 'parallel-2w', [2, 1], [outcome('A'), outcome('A')]),
      row('p', 'parallel-1w', [3], [outcome('A')]),
      row('p', 'duckdb-simplest', [4], [outcome('D')]),
      row('q', 'parallel-2w', [2], [outcome('A')]),
      row('q', 'parallel-1w', [6], [outcome('A')]),
      row('q', 'duckdb-simplest', [1], [outcome('D')]),
      row('w', 'parallel-2w', [4], [outcome('B')]),
      row('w', 'parallel-1w', [8], [outcome('A')]),
    ];
    checkRows(sets, rows);
    const header = shapeHeader(2);
    const table = shapeTableRows(sets, rows, 2).map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
    expect(table[0]).toMatchObject({ '2w s': '1.00', 'MiB/s': '16.0', 'disk MiB/s': '16.0', '× plain': '1.00', '1w s': '3.00', '2w/1w': '3.00', 'DuckDB s': '4.00', '× DuckDB simplest': '4.00', status: 'ok' });
    expect(table[1]).toMatchObject({ '2w s': '2.00', 'MiB/s': '8.0', 'disk MiB/s': '16.0', '× plain': '0.50', '× plain 1w': '0.50', '2w/1w': '3.00', '× DuckDB simplest': '0.50' });
    // A mismatch's time does not count; no DuckDB on the wrapped set.
    expect(table[2]).toMatchObject({ '2w s': '–', 'MiB/s': '–', '× plain': '–', '1w s': '8.00', '× plain 1w': '0.38', 'DuckDB s': '–', status: 'parallel-2w mismatch' });
  });
});
