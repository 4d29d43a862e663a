import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RANGE_CELLS, boundedRanges, rangeCount } from './bill-ranges.js';
import { MergedUsage } from '../scan/sorted-merge.js';
import { UserTable, hashBytes, type TableImage } from '../scan/user-table.js';
import { sortedUsageEntries } from '../../core/billing/usage.js';

describe('rangeCount', () => {
  it('cuts a bill into ranges of at most the cells given, a multiple of the workers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e8 }), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 1 << 20 }), (entries, tasks, workers, cells) => {
        const n = rangeCount(entries, tasks, workers, cells);
        expect(n % workers).toBe(0);
        expect(n).toBeGreaterThanOrEqual(workers);
        expect(n * cells).toBeGreaterThanOrEqual(entries * Math.max(1, tasks));
        // No more ranges than needed, rounded up to the workers (an empty bill: one range per worker).
        if (n > workers) expect((n - workers) * cells).toBeLessThan(entries * Math.max(1, tasks));
      }),
    );
  });

  it('a million users of 5 tasks on 2 workers: 20 ranges of about 50,000 users', () => {
    expect(rangeCount(1_000_000, 5, 2, RANGE_CELLS)).toBe(20);
  });
});

describe('boundedRanges', () => {
  /** A table of one task holding `ids`, sorted, as a worker hands it over. */
  function image(ids: readonly string[]): TableImage {
    const t = new UserTable(1);
    for (const id of ids) {
      const b = Buffer.from(id, 'utf8');
      t.addNow(b, 0, b.length, hashBytes(b, 0, b.length), 0, 1, 5);
    }
    return t.sortedImage(true);
  }
  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

  it('cuts again a range that a narrow largest table leaves too large, until every range holds at most the cells, in key order, every user once', async () => {
    // The largest table spans few keys ("m…"); the others' keys lie below and above all of them.
    const tables = [image(ids('m', 1000)), image(ids('a', 900)), image([...ids('z', 300), ...ids('m', 10)])];
    const usage = new MergedUsage(tables);
    const cells = 400;
    // Cut at the largest table's keys alone, the first range holds the 900 "a" users and more.
    const plain = usage.keyRanges(2);
    expect(plain[0]!.reduce((n, [from, to]) => n + to - from, 0)).toBeGreaterThan(900);
    const ranges = boundedRanges(usage, 2, 1, cells);
    expect(ranges.length).toBeGreaterThan(5);
    for (const r of ranges) expect(r.reduce((n, [from, to]) => n + to - from, 0)).toBeLessThanOrEqual(cells);
    // Each table's entries, range after range, follow each other from the first to the last.
    tables.forEach((t, i) => {
      expect(ranges[0]![i]![0]).toBe(0);
      for (let k = 1; k < ranges.length; k++) expect(ranges[k]![i]![0]).toBe(ranges[k - 1]![i]![1]);
      expect(ranges[ranges.length - 1]![i]![1]).toBe(t.size);
    });
    const joined = [];
    for (const r of ranges) joined.push(...(await sortedUsageEntries(new MergedUsage(tables, r))));
    expect(joined).toEqual([...(await sortedUsageEntries(new MergedUsage(tables)))]);
    expect(joined).toHaveLength(2200);
  });

  it('leaves a range of one user per table whole, however many cells it holds', () => {
    const tables = [image(['u1']), image(['u1']), image(['u1'])];
    expect(boundedRanges(new MergedUsage(tables), 1, 5, 1)).toEqual([[[0, 1], [0, 1], [0, 1]]]);
  });
});
