import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RANGE_CELLS, rangeCount } from './bill-ranges.js';

describe('rangeCount', () => {
  it('cuts a bill into ranges of at most the cells given, a multiple of the workers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e8 }), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 1 << 20 }), (entries, tasks, workers, cells) => {
        const n = rangeCount(entries, tasks, workers, cells);
        expect(n % workers).toBe(0);
        expect(n).toBeGreaterThanOrEqual(workers);
        expect(n * cells).toBeGreaterThanOrEqual(entries * Math.max(1, tasks));
        // No more ranges than needed, rounded up to the workers.
        expect((n - workers) * cells).toBeLessThan(entries * Math.max(1, tasks));
      }),
    );
  });

  it('a million users of 5 tasks on 2 workers: 20 ranges of about 50,000 users', () => {
    expect(rangeCount(1_000_000, 5, 2, RANGE_CELLS)).toBe(20);
  });
});
