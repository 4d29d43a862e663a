import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UserTable, hashBytes } from './user-table.js';
import { MergedUsage, writeRun, type SortedTables, type SpilledRun } from './sorted-merge.js';
import type { TableImage } from './user-table.js';
import { UsageTable, sortedUsageEntries, usageEntries } from '../../core/billing/usage.js';
import { compareUtf8 } from '../../core/billing/order.js';
import { collectBill } from '../../core/billing/finalize.js';
import { billText } from '../../core/outputs/bill.js';
import { billingConfigFromEnv } from '../../core/config/config.js';
import { TaskColumns } from './task-columns.js';
import { billBytes } from '../../../fixtures/table-images.js';

function addBig(t: UserTable, user: string, task: number, requests: number, duration: bigint): void {
  const b = Buffer.from(user, 'utf8');
  t.addBig(t.entry(b, 0, b.length, hashBytes(b, 0, b.length)), task, requests, duration);
}

// Ids of every kind the bill's order must place: ASCII, prefixes of each other, non-ASCII in
// two, three and four UTF-8 bytes (the last a surrogate pair in UTF-16), a leading U+FEFF,
// longer than the 24 key bytes a record holds inline.
const id = fc.oneof(
  fc.constantFrom('a', 'ab', 'abc', 'b', 'user1', 'user10', 'user2', 'é', '\uFEFFbob', 'bob', '\u{1F600}x', '\uFFFDz', 'ｚ', 'Z'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).filter((s) => !/[\s\p{Cc}]/u.test(s)),
  fc.nat(40).map((n) => `${'long-user-id-'.repeat(3)}${n}`),
);
/** Ids of 120 to 122 bytes, near the longest a line may hold (128 bytes). */
const longId = fc.nat(200).map((n) => `${'a-user-id-of-one-hundred-and-twenty-bytes-'.repeat(3).slice(0, 119)}-${n}`);
const amount = fc.oneof(fc.bigInt({ min: 0n, max: 10_000n }), fc.constantFrom(2n ** 52n - 1n, 2n ** 52n, 2n ** 60n));

/**
 * The merge cut into 1 to 5 key ranges (keyRanges), each merged on its own: the ranges, one
 * after the other, give every user of the whole merge once, in its order, with its sums.
 */
async function expectRangesCover(tables: readonly (TableImage | SortedTables)[], whole: Map<string, unknown>, readBytes?: number): Promise<void> {
  for (let parts = 1; parts <= 5; parts++) {
    const ranges = new MergedUsage(tables).keyRanges(parts);
    expect(ranges.length).toBeLessThanOrEqual(parts);
    expect(ranges.length).toBeGreaterThanOrEqual(1);
    const joined: Array<[string, unknown]> = [];
    for (const r of ranges) joined.push(...(await sortedUsageEntries(new MergedUsage(tables, r, readBytes))));
    expect(joined).toEqual([...whole]);
    // Each range cut again, within itself (as a bill's too large range is): the same users.
    const nested: Array<[string, unknown]> = [];
    for (const r of ranges) {
      const inner = new MergedUsage(tables).keyRanges(parts, r);
      expect(inner.length).toBeLessThanOrEqual(parts);
      for (const sub of inner) {
        sub.forEach(([from, to], i) => expect(from >= r[i]![0] && to <= r[i]![1] && from <= to).toBe(true));
        nested.push(...(await sortedUsageEntries(new MergedUsage(tables, sub, readBytes))));
      }
    }
    expect(nested).toEqual([...whole]);
  }
}

describe('workers’ tables sorted by key bytes, merged as they stream (MergedUsage)', () => {
  it('gives every user once, in UTF-8 byte order, with the sums of one table holding every record', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Up to 16 tables: merges of more than 8 find the smallest key with a heap.
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.tuple(id, fc.nat(2), fc.nat(3), amount, fc.nat(3)), { maxLength: 120, size: 'medium' }),
        async (workers, ops) => {
          const whole = new UsageTable(3);
          const tables = Array.from({ length: workers }, () => new UserTable(3, 4));
          for (const [user, task, requests, d, w] of ops) {
            whole.row(user).addBig(task, requests, d);
            addBig(tables[w % workers]!, user, task, requests, d);
          }
          const merged = new MergedUsage(tables.map((t) => t.sortedImage()));
          const got = await sortedUsageEntries(merged);
          expect(got).toEqual(usageEntries(whole));
          const users = [...got.keys()];
          expect(users).toEqual([...users].sort(compareUtf8));
          // Read twice: the stream can be iterated again.
          expect([...(await sortedUsageEntries(merged)).keys()]).toEqual(users);
          // Read synchronously (one usage object, refilled at each step): the same users and sums.
          const viaSync = new Map<string, Array<{ requests: number; durationMs: bigint }>>();
          for (const { user, usage } of merged.usersSync()) {
            viaSync.set(user, Array.from(usage.requests, (requests, t) => ({ requests, durationMs: usage.durationOf(t) })));
          }
          expect(viaSync).toEqual(got);
          await expectRangesCover(tables.map((t) => t.sortedImage(true)), got);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('bills exactly as one table does (finalize checks the order as it streams)', async () => {
    const config = billingConfigFromEnv({ RATE_a: '0.005', RATE_b: '0.0123' });
    const a = new UserTable(2, 4);
    const b = new UserTable(2, 4);
    const one = new UserTable(2, 4);
    for (let i = 0; i < 5000; i++) {
      const user = i % 7 === 0 ? `ü${i}` : `user${i % 3000}`;
      addBig(i % 2 === 0 ? a : b, user, i % 2, 1, BigInt(i));
      addBig(one, user, i % 2, 1, BigInt(i));
    }
    const merged = new MergedUsage([a.sortedImage(), b.sortedImage()]);
    expect(billText(await collectBill(merged, config))).toBe(billText(await collectBill(one, config)));
  });

  it('writes the bill and its detail from the key bytes as from one table’s ids (BillWriter, keyed)', async () => {
    const config = billingConfigFromEnv({ RATE_a: '0.005', RATE_b: '0.0123', RATE_c: '123456.789' });
    // Ids whose detail field is quoted (a quote, a comma) besides the others.
    const anyId = fc.oneof(id, fc.constantFrom('a,b', 'q"t', '"', ',', 'x""y'));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.tuple(anyId, fc.nat(2), fc.integer({ min: 1, max: 3 }), amount, fc.nat(11)), { maxLength: 80, size: 'medium' }),
        fc.integer({ min: 1, max: 4 }),
        async (workers, ops, parts) => {
          const one = new UserTable(3, 4);
          const tables = Array.from({ length: workers }, () => new UserTable(3, 4));
          for (const [user, task, requests, d, w] of ops) {
            addBig(one, user, task, requests, d);
            addBig(tables[w % workers]!, user, task, requests, d);
          }
          const expected = await billBytes(one, config);
          const images = tables.map((t) => t.sortedImage(true));
          // Shared: the workers writing key ranges read the records and long keys without a copy each.
          for (const img of images) {
            expect(img.records.buffer).toBeInstanceOf(SharedArrayBuffer);
            expect(img.overflow.buffer).toBeInstanceOf(SharedArrayBuffer);
          }
          // The whole merge, and its key ranges one after the other (each range's detail without the header but the first's).
          expect(await billBytes(new MergedUsage(images), config)).toEqual(expected);
          const ranges = new MergedUsage(images).keyRanges(parts);
          const pieces = await Promise.all(ranges.map((r, k) => billBytes(new MergedUsage(images, r), config, k === 0)));
          expect({
            bill: pieces.map((p) => p.bill).join(''),
            detail: pieces.map((p) => p.detail).join(''),
            first: pieces.find((p) => p.first !== null)?.first ?? null,
            last: [...pieces].reverse().find((p) => p.last !== null)?.last ?? null,
          }).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses an unsorted image', () => {
    const t = new UserTable(1);
    addBig(t, 'b', 0, 1, 1n);
    addBig(t, 'a', 0, 1, 1n);
    expect(() => new MergedUsage([t.image()])).toThrow(/not sorted/);
  });
});

describe('a bounded table spills sorted runs to files; the merge reads them back in chunks', () => {
  const config = billingConfigFromEnv({ RATE_a: '0.005', RATE_b: '0.0123', RATE_c: '123456.789' });
  it('gives what one unbounded table gives, for any bound', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        // Bytes of long ids a table holds: unbounded, about three ids of 120 bytes, one id at a time.
        fc.constantFrom(Infinity, 400, 1),
        // Bytes the merge reads from its runs at once: the default, or chunks of a few records and long ids down to one record.
        fc.constantFrom(undefined, 5_000, 1_000, 1),
        fc.array(fc.tuple(fc.oneof(id, longId), fc.nat(2), fc.integer({ min: 1, max: 3 }), amount), { maxLength: 150, size: 'medium' }),
        async (bound, longBound, readBytes, ops) => {
          const dir = mkdtempSync(join(tmpdir(), 'mr-runs-'));
          try {
            const whole = new UsageTable(3);
            const t = new UserTable(3, 4);
            const runs: SpilledRun[] = [];
            t.spillWhenFull({ entries: bound, longKeyBytes: longBound }, (img) => runs.push(writeRun(join(dir, `run-${runs.length}`), img)));
            for (const [user, task, requests, d] of ops) {
              whole.row(user).addBig(task, requests, d);
              addBig(t, user, task, requests, d);
              expect(t.size).toBeLessThanOrEqual(bound);
            }
            if (new Set(ops.map((o) => o[0])).size > bound) expect(runs.length).toBeGreaterThan(0);
            const tables = [{ image: t.sortedImage(), runs, columns: TaskColumns.everyTask(3).columns() }];
            const merged = new MergedUsage(tables, undefined, readBytes);
            const got = await sortedUsageEntries(merged);
            expect(got).toEqual(usageEntries(whole));
            const users = [...got.keys()];
            expect(users).toEqual([...users].sort(compareUtf8));
            await expectRangesCover(tables, got, readBytes);
            // The keyed bill (users handed over as key bytes, read from the runs) is the one table's.
            expect(await billBytes(merged, config)).toEqual(await billBytes(whole, config));
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes the keyed bill of runs read back chunk after chunk, through the heap merge, as one table writes it', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'mr-runs-'));
    try {
      // 10 workers' tables (more than 8: the heap), each of 90,000 users spilling runs of 35,000:
      // more than a chunk (the 20 runs share the merge's MERGE_READ_BYTES, about 21,000 records each).
      const one = new UserTable(3, 4);
      const tables: SortedTables[] = [];
      // A third of the ids are longer than a record's inline bytes, and sort among the others: a
      // run's long keys are read back with each chunk of its records.
      const ids = (i: number) =>
        i % 997 === 0 ? `q"${i},x` : i % 991 === 0 ? `é${i}\u{1F600}` : `user-${(i * 7919) % 90_000}${i % 3 === 1 ? '@accounts.example-corp.example' : ''}`;
      for (let w = 0; w < 10; w++) {
        const t = new UserTable(3, 4);
        const runs: SortedTables['runs'][number][] = [];
        t.spillWhenFull({ entries: 35_000, longKeyBytes: Infinity }, (img) => runs.push(writeRun(join(dir, `w${w}-run-${runs.length}`), img)));
        for (let i = w * 1_000; i < 90_000 + w * 1_000; i++) {
          // Durations near 2^52 make carries; a user in several tables is summed across them.
          const d = i % 50_000 === 0 ? 2n ** 52n - 1n : BigInt(i % 1_000);
          addBig(t, ids(i), i % 3, 1 + (i % 2), d);
          addBig(one, ids(i), i % 3, 1 + (i % 2), d);
        }
        expect(runs.length).toBe(2);
        tables.push({ image: t.sortedImage(), runs, columns: TaskColumns.everyTask(3).columns() });
      }
      const expected = await billBytes(one, config);
      expect(await billBytes(new MergedUsage(tables), config)).toEqual(expected);
      const ranges = new MergedUsage(tables).keyRanges(3);
      const pieces = [];
      for (const [k, r] of ranges.entries()) pieces.push(await billBytes(new MergedUsage(tables, r), config, k === 0));
      expect(pieces.map((p) => p.bill).join('')).toBe(expected.bill);
      expect(pieces.map((p) => p.detail).join('')).toBe(expected.detail);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
