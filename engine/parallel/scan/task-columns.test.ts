/**
 * Usage records as wide as the tasks met (task-columns.ts): one map of columns shared by a
 * job's tables, which widen as lines bring new tasks, and the bill read through the map.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NO_COLUMN, TaskColumns } from './task-columns.js';
import { UserTable, hashBytes, recordBytes, type TableImage } from './user-table.js';
import { PartitionedTable } from './partitioned-table.js';
import { MergedUsage, writeRun, type SortedTables, type SpilledRun } from './sorted-merge.js';
import { UsageTable, sortedUsageEntries, usageEntries } from '../../core/billing/usage.js';
import { billingConfigFromEnv } from '../../core/config/config.js';
import { workerFile } from '../runtime/pool.js';
import { billBytes, kept } from '../../../fixtures/table-images.js';
import { cleanupTempDirs, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

describe('TaskColumns', () => {
  it('numbers a column for each task in the order they are met, once; everyTask puts task t in column t', () => {
    const c = TaskColumns.of(TaskColumns.sharedMap(5));
    expect(c.count).toBe(0);
    expect(c.columnIfAny(3)).toBe(NO_COLUMN);
    expect([3, 0, 3, 4, 0].map((t) => c.columnOf(t))).toEqual([0, 1, 0, 2, 1]);
    expect(c.count).toBe(3);
    expect([...c.columns()]).toEqual([1, NO_COLUMN, NO_COLUMN, 0, 2]);
    for (const t of [5, -1]) expect(() => c.columnOf(t)).toThrow(RangeError);
    // A table refuses a task out of range too (it would read no column of its own).
    expect(() => new UserTable(c, 4).column(-1)).toThrow(RangeError);
    const every = TaskColumns.everyTask(4);
    expect([...every.columns()]).toEqual([0, 1, 2, 3]);
    expect(every.count).toBe(4);
  });

  it('threads numbering one map at once give each task one column, the columns 0 to n-1, and agree', async () => {
    const tasks = 200;
    const buffer = TaskColumns.sharedMap(tasks);
    const module = pathToFileURL(join(dirname(workerFile()), 'scan/task-columns.js')).href;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.module).then(({ TaskColumns }) => {
        const c = TaskColumns.of(workerData.buffer);
        const seen = workerData.order.map((t) => c.columnOf(t));
        parentPort.postMessage({ seen, order: workerData.order });
      }).catch((e) => parentPort.postMessage({ error: String(e) }));
    `;
    // Four threads, each meeting every task, in orders that collide.
    const orders = [0, 1, 2, 3].map((w) => Array.from({ length: tasks }, (_, i) => (w % 2 === 0 ? i : tasks - 1 - i)).map((t) => (t * [7, 11, 13, 17][w]!) % tasks));
    for (const o of orders) expect(new Set(o).size).toBe(tasks);
    const results = await Promise.all(
      orders.map(
        (order) =>
          new Promise<{ seen: number[]; order: number[] }>((resolve, reject) => {
            const w = new Worker(code, { eval: true, workerData: { module, buffer, order } });
            w.once('message', (m: { error?: string; seen: number[]; order: number[] }) => {
              void w.terminate();
              if (m.error !== undefined) reject(new Error(m.error));
              else resolve(m);
            });
            w.once('error', reject);
          }),
      ),
    );
    const columns = TaskColumns.of(buffer).columns();
    expect([...columns].sort((a, b) => a - b)).toEqual(Array.from({ length: tasks }, (_, i) => i));
    for (const { seen, order } of results) order.forEach((t, i) => expect(seen[i]).toBe(columns[t]));
  });
});

/** Six tasks configured; the lines name some of them, met at any time by any table. */
const TASKS = 6;
const config = billingConfigFromEnv(Object.fromEntries(Array.from({ length: TASKS }, (_, t) => [`RATE_t${t}`, `0.00${t + 1}`])));
const user = fc.oneof(
  fc.integer({ min: 0, max: 60 }).map((i) => `user${i}`),
  fc.integer({ min: 0, max: 10 }).map((i) => `a-user-id-longer-than-a-record-holds-${i}`),
  fc.constantFrom('é', '\u{1F600}x', 'Z'),
);
const amount = fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.constant(2 ** 52 - 3));
// A line added later may still wait when the next comes (flush false): a widening, a spill or an add now meets it.
const line = fc.record({ user, task: fc.nat(TASKS - 1), duration: amount, table: fc.nat(3), how: fc.constantFrom('later', 'later', 'now', 'big'), flush: fc.boolean() });
type Line = { user: string; task: number; duration: number; table: number; how: string; flush: boolean };

/** A table of the job's map as a worker has one: a UserTable or a PartitionedTable (partitioned from the start), bounded or not. */
function tableOf(kind: number, columns: TaskColumns, bound: number, runs: SpilledRun[], dir: string, name: number): UserTable | PartitionedTable {
  const spill = (img: TableImage) => runs.push(writeRun(join(dir, `run-${name}-${runs.length}`), img));
  // The records' bytes bound the entries by width: 8 entries at 2 columns, fewer as the table widens.
  const limit = { entries: bound, longKeyBytes: Infinity, recordBytes: 8 * recordBytes(2) };
  if (kind === 0) return new UserTable(columns, 4, 0);
  if (kind === 1) {
    const t = new UserTable(columns, 4, 0);
    t.spillWhenFull(limit, spill);
    return t;
  }
  const t = new PartitionedTable(columns, 4, kind === 2 ? 0 : 3, { bits: 2, stageLines: 3 });
  t.spillWhenFull(limit, spill);
  return t;
}

function add(t: UserTable | PartitionedTable, l: Line): void {
  const b = Buffer.from(l.user, 'utf8');
  const h = hashBytes(b, 0, b.length);
  if (l.how === 'later') t.addLater(b, 0, b.length, h, l.task, l.duration);
  else if (l.how === 'now') t.addNow(b, 0, b.length, h, l.task, 2, l.duration);
  else if (t instanceof PartitionedTable) t.addBigNow(b, 0, b.length, h, l.task, 1, BigInt(l.duration) * 5n);
  else t.addBig((t.column(l.task), t.entry(b, 0, b.length, h)), l.task, 1, BigInt(l.duration) * 5n);
  if (l.flush) t.flushBatch();
}

function addWhole(whole: UsageTable, l: Line): void {
  if (l.how === 'later') whole.row(l.user).add(l.task, 1, l.duration);
  else if (l.how === 'now') whole.row(l.user).add(l.task, 2, l.duration);
  else whole.row(l.user).addBig(l.task, 1, BigInt(l.duration) * 5n);
}

describe('tables as wide as the tasks they met', () => {
  it('bill what one table of every task bills, whatever order and table the tasks are met in, spilled or not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 200, size: 'medium' }), fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 12 }), async (lines, kinds, bound) => {
        const dir = tempDir('mr-columns-');
        const columns = TaskColumns.of(TaskColumns.sharedMap(TASKS));
        const runs = kinds.map((): SpilledRun[] => []);
        const tables = kinds.map((k, i) => tableOf(k, columns, bound, runs[i]!, dir, i));
        const whole = new UsageTable(TASKS);
        for (const l of lines) {
          add(tables[l.table]!, l);
          addWhole(whole, l);
        }
        for (const t of tables) t.flushBatch();
        const images = tables.map((t) => t.sortedImage(true));
        // A table no wider than the tasks met (and one met by no line holds no column); staged lines meet theirs when added.
        const met = new Set(lines.map((l) => l.task)).size;
        expect(columns.count).toBe(met);
        const sorted: SortedTables[] = images.map((image, i) => ({ image, runs: runs[i]!, columns: columns.columns() }));
        for (const s of sorted) {
          expect(s.image.columns).toBeLessThanOrEqual(met);
          for (const r of s.runs) expect(r.columns).toBeLessThanOrEqual(met);
        }
        const merged = new MergedUsage(sorted);
        expect(merged.taskCount).toBe(TASKS);
        expect(await sortedUsageEntries(merged)).toEqual(usageEntries(whole));
        // The bill (users read in place or summed, through the map), whole and in key ranges.
        const expected = await billBytes(whole, config);
        expect(await billBytes(merged, config)).toEqual(expected);
        const ranges = merged.keyRanges(3);
        const pieces = await Promise.all(ranges.map((r, k) => billBytes(new MergedUsage(sorted, r), config, k === 0)));
        expect(pieces.map((p) => p.bill).join('')).toBe(expected.bill);
        expect(pieces.map((p) => p.detail).join('')).toBe(expected.detail);
      }),
      { numRuns: 200 },
    );
  });

  it('widen in place, into new memory, or after spilling what the bound no longer holds, keeping every sum', () => {
    const columns = TaskColumns.of(TaskColumns.sharedMap(TASKS));
    const spilled: TableImage[] = [];
    const t = new UserTable(columns, 4, 0);
    // 4 entries at 1 column; 2 at 4 columns (records of 96 bytes in 256).
    t.spillWhenFull({ entries: 100, longKeyBytes: Infinity, recordBytes: 4 * recordBytes(1) }, (img) => spilled.push(kept(img)));
    const put = (u: string, task: number, d: number) => {
      const b = Buffer.from(u);
      t.addNow(b, 0, b.length, hashBytes(b, 0, b.length), task, 1, d);
    };
    put('a', 5, 2 ** 52 - 1);
    put('a', 5, 7);
    put('b', 5, 1);
    expect(t.width).toBe(1);
    // A second column: 3 entries at 2 columns fit the bound (160 of 192 bytes): no spill.
    put('c', 2, 3);
    expect(spilled).toHaveLength(0);
    expect(t.width).toBe(2);
    expect([t.requests(0, 5), t.duration(0, 5), t.duration(0, 2), t.duration(2, 2), t.requests(2, 5)]).toEqual([2, 2n ** 52n + 6n, 0n, 3n, 0]);
    // A fourth task: 3 entries of 4 columns pass the bound (2 at most): spilled first, as they were, 2 columns wide.
    put('d', 0, 4);
    put('e', 3, 5);
    expect(spilled).toHaveLength(1);
    expect(spilled[0]!.columns).toBe(2);
    expect(spilled[0]!.size).toBe(3);
    expect(t.width).toBe(4);
    expect(t.size).toBe(2);
    expect([t.duration(0, 0), t.duration(1, 3), t.requests(1, 0), t.requests(0, 1)]).toEqual([4n, 5n, 0, 0]);
  });
});
