import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PartitionedTable, type PartitionShape } from './partitioned-table.js';
import { COUNTERS_AT, INLINE_KEY_BYTES, UserTable, hashBytes, recordBytes, type TableImage } from './user-table.js';
import { TaskColumns } from './task-columns.js';
import { kept } from '../../../fixtures/table-images.js';

const TASKS = 3;

/**
 * An image's usage, entry by entry in its order: key (latin1), then per column requests and the
 * exact duration sum; `width`: as many columns, those the image lacks zero (tables of a shared
 * TaskColumns map may be narrower than others).
 */
function usageOf(img: TableImage, width = img.columns): Array<[string, ...Array<number | bigint>]> {
  const rb = recordBytes(img.columns);
  const v = new DataView(img.records.buffer, img.records.byteOffset, img.records.byteLength);
  const carry = new Map(img.carry);
  const out: Array<[string, ...Array<number | bigint>]> = [];
  for (let e = 0; e < img.size; e++) {
    const at = e * rb;
    const len = v.getInt32(at, true);
    const key = len <= INLINE_KEY_BYTES ? img.records.subarray(at + 8, at + 8 + len) : img.overflow.subarray(v.getInt32(at + 8, true), v.getInt32(at + 8, true) + len);
    const row: [string, ...Array<number | bigint>] = [Buffer.from(key).toString('latin1')];
    for (let t = 0; t < img.columns; t++) {
      row.push(v.getFloat64(at + COUNTERS_AT + 16 * t, true));
      row.push(BigInt(v.getFloat64(at + COUNTERS_AT + 16 * t + 8, true)) + (carry.get(e * img.columns + t) ?? 0n));
    }
    for (let t = img.columns; t < width; t++) row.push(0, 0n);
    out.push(row);
  }
  return out;
}

/** Runs' usage added up by key, in key byte order (`width` as usageOf's). */
function total(images: TableImage[], width?: number): Array<[string, ...Array<number | bigint>]> {
  const sums = new Map<string, Array<number | bigint>>();
  for (const img of images) {
    for (const [key, ...v] of usageOf(img, width)) {
      const s = sums.get(key);
      if (s === undefined) sums.set(key, v);
      else for (let i = 0; i < v.length; i++) s[i] = i % 2 === 0 ? (s[i] as number) + (v[i] as number) : (s[i] as bigint) + (v[i] as bigint);
    }
  }
  return [...sums]
    .sort((a, b) => Buffer.compare(Buffer.from(a[0], 'latin1'), Buffer.from(b[0], 'latin1')))
    .map(([k, v]) => [k, ...v]);
}

// Keys: short ones, ones past the inline bytes, shared prefixes, bytes above 0x7f.
const key = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map((i) => `user${i}`),
  fc.integer({ min: 0, max: 40 }).map((i) => `a-long-user-id-beyond-the-inline-bytes-${i}`),
  fc.uint8Array({ minLength: 1, maxLength: 30 }).map((b) => Buffer.from(b.map((x) => (x < 0x21 ? x + 0x21 : x))).toString('latin1')),
);
const op = fc.record({
  key,
  task: fc.integer({ min: 0, max: TASKS - 1 }),
  how: fc.constantFrom('later', 'later', 'later', 'now', 'big'),
  duration: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constant(2 ** 52 - 3)),
  flush: fc.boolean(),
});

/** Applies the operations to a table as the scanners do; the bytes addLater read are overwritten after each flushBatch. */
function apply(t: PartitionedTable | UserTable, ops: ReadonlyArray<{ key: string; task: number; how: string; duration: number; flush: boolean }>): void {
  const buf = Buffer.alloc(4096);
  let at = 0;
  for (const o of ops) {
    const k = Buffer.from(o.key, 'latin1');
    if (at + k.length > buf.length) {
      t.flushBatch();
      buf.fill(0x7a);
      at = 0;
    }
    k.copy(buf, at);
    const h = hashBytes(buf, at, at + k.length);
    if (o.how === 'later') t.addLater(buf, at, at + k.length, h, o.task, o.duration);
    else if (o.how === 'now') t.addNow(buf, at, at + k.length, h, o.task, 2, o.duration);
    else if (t instanceof PartitionedTable) t.addBigNow(buf, at, at + k.length, h, o.task, 1, BigInt(o.duration) * 3n);
    else t.addBig((t.column(o.task), t.entry(buf, at, at + k.length, h)), o.task, 1, BigInt(o.duration) * 3n);
    at += k.length;
    if (o.flush) {
      t.flushBatch();
      buf.fill(0x7a);
      at = 0;
    }
  }
  t.flushBatch();
}

// Few partitions and short stages, so that stages fill and spills fall between a stage's lines; and the product's shape.
const shape: fc.Arbitrary<PartitionShape | undefined> = fc.oneof(fc.record({ bits: fc.integer({ min: 1, max: 3 }), stageLines: fc.integer({ min: 1, max: 40 }) }), fc.constant(undefined));

describe('PartitionedTable', () => {
  it('holds the usage one UserTable holds, from any size on which it is partitioned, sorted by key bytes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600, size: 'medium' }), fc.constantFrom(0, 1, 7, 100, 100_000), shape, (ops, partitionFrom, sh) => {
        const want = new UserTable(TASKS, 4, 0);
        apply(want, ops);
        const t = new PartitionedTable(TASKS, 4, partitionFrom, sh);
        apply(t, ops);
        const img = t.sortedImage();
        expect(img.size).toBe(want.size);
        expect(usageOf(img)).toEqual(usageOf(want.sortedImage()));
        t.release();
      }),
      { numRuns: 200 },
    );
  });

  it('bounded: spills sorted runs of at most the bound, which with the last image add up to the usage', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 600, size: 'medium' }),
        fc.integer({ min: 1, max: 60 }),
        // Bytes of long keys (past the inline bytes): none, a few keys' worth, less than one key.
        fc.constantFrom(Infinity, 200, 45, 1),
        fc.constantFrom(0, 5, 30),
        shape,
        (ops, bound, longBound, partitionFrom, sh) => {
          const want = new UserTable(TASKS, 4, 0);
          apply(want, ops);
          const runs: TableImage[] = [];
          const t = new PartitionedTable(TASKS, 4, partitionFrom, sh);
          t.spillWhenFull({ entries: bound, longKeyBytes: longBound }, (img) => runs.push(kept(img)));
          apply(t, ops);
          // A table spills when a new key would pass the bound of long keys' bytes; partitioned, once the key reached it.
          const longest = Math.max(...ops.map((o) => Buffer.byteLength(o.key, 'latin1')));
          const held = (img: TableImage) => {
            expect(img.size).toBeLessThanOrEqual(bound);
            expect(img.overflow.length).toBeLessThan(longBound + longest);
          };
          for (const r of runs) {
            held(r);
            const keys = usageOf(r).map(([k]) => Buffer.from(k, 'latin1'));
            expect(keys).toEqual([...keys].sort(Buffer.compare));
          }
          const last = t.sortedImage();
          held(last);
          // Below one key's bytes, a table holds one long key at a time: two of them make a run.
          const longKeys = new Set(ops.map((o) => o.key).filter((k) => Buffer.byteLength(k, 'latin1') > INLINE_KEY_BYTES)).size;
          if (longBound === 1 && longKeys >= 2) expect(runs.length).toBeGreaterThan(0);
          expect(total([...runs, last])).toEqual(usageOf(want.sortedImage()));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('partitions handed between tables (takePartitions, merge) hold each user once, in the table keeping its partition', () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { maxLength: 300, size: 'medium' }), { minLength: 2, maxLength: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), (opsByTable, bits, stageLines, shared) => {
        // Shared: the job's one map of columns, numbered as tasks are met, so that a partition's table may be narrower than the image merged into it.
        const columns = shared ? TaskColumns.of(TaskColumns.sharedMap(TASKS)) : TASKS;
        // Every table made before any line is added, as the workers' are: a partition no line reached keeps the width it was made at
        // (and the table of the whole usage meets its tasks after them, so that it numbers none first).
        const tables = opsByTable.map(() => new PartitionedTable(columns, 4, 0, { bits, stageLines }));
        tables.forEach((t, w) => {
          apply(t, opsByTable[w]!);
          t.addStages();
        });
        const want = new UserTable(columns, 4, 0);
        for (const ops of opsByTable) apply(want, ops);
        const n = tables.length;
        const P = tables[0]!.partitions;
        const block = (w: number): [number, number] => [Math.floor((w * P) / n), Math.floor(((w + 1) * P) / n)];
        // Every table hands each other table's block over before any merges (as the workers do).
        const handed = tables.map((t, w) => tables.map((_, v) => (v === w ? null : t.takePartitions(...block(v)))));
        tables.forEach((t, v) => handed.forEach((from) => from[v] !== null && t.merge(from[v]!)));
        const images = tables.map((t) => t.sortedImage());
        const keys = images.flatMap((img) => usageOf(img).map(([k]) => k));
        expect(new Set(keys).size).toBe(keys.length);
        for (const [w, img] of images.entries()) {
          for (const [k] of usageOf(img)) {
            const b = Buffer.from(k, 'latin1');
            const p = hashBytes(b, 0, b.length) >>> (32 - bits);
            expect(p >= block(w)[0] && p < block(w)[1]).toBe(true);
          }
        }
        const width = want.width;
        expect(total(images, width)).toEqual(usageOf(want.sortedImage(), width));
      }),
      { numRuns: 200 },
    );
  });

  it('a partition handed over refuses new keys; an unpartitioned table is neither handed over nor merged into', () => {
    const t = new PartitionedTable(1, 4, 0, { bits: 1, stageLines: 4 });
    const b = Buffer.from('user1');
    const h = hashBytes(b, 0, b.length);
    t.addLater(b, 0, b.length, h, 0, 5);
    t.flushBatch();
    expect(() => t.takePartitions(0, 2)).toThrow(/staged lines/);
    t.addStages();
    const gone = t.takePartitions(h >>> 31, (h >>> 31) + 1);
    expect(usageOf(gone)).toEqual([['user1', 1, 5n]]);
    expect(() => t.addNow(b, 0, b.length, h, 0, 1, 1)).toThrow(/after release/);
    const one = new PartitionedTable(1, 4, 100);
    expect(one.partitioned).toBe(false);
    expect(() => one.takePartitions(0, 1)).toThrow(/not partitioned/);
    expect(() => one.merge(gone)).toThrow(/not partitioned/);
  });

  it('a staged line of a key longer than a stage holds is added at once', () => {
    const t = new PartitionedTable(1, 4, 0, { bits: 1, stageLines: 2 });
    const long = Buffer.alloc(70_000, 0x61);
    t.addLater(long, 0, long.length, hashBytes(long, 0, long.length), 0, 5);
    t.addLater(long, 0, long.length, hashBytes(long, 0, long.length), 0, 6);
    t.flushBatch();
    expect(usageOf(t.sortedImage())).toEqual([['a'.repeat(70_000), 2, 11n]]);
  });

  it('nothing a table releases is detached, mid-scan or after (partial.ts "Detached buffers")', () => {
    // Room for every user before the partitioning: the records seen below are the ones released then.
    const t = new PartitionedTable(TASKS, 256, 64);
    const buf = Buffer.alloc(16);
    const add = (i: number) => {
      const n = buf.write(`user${i}`, 'latin1');
      t.addLater(buf, 0, n, hashBytes(buf, 0, n), i % TASKS, 10);
      t.flushBatch();
    };
    add(0);
    const key = (t as unknown as { direct: UserTable }).direct.key(0);
    for (let i = 1; !t.partitioned && i < 1000; i++) add(i);
    expect(t.partitioned).toBe(true);
    expect(Buffer.from(key).toString('latin1')).toBe('user0');
    const partKey = (t as unknown as { parts: UserTable[] }).parts.find((p) => p.size > 0)!.key(0);
    const keyBytes = partKey.byteLength;
    t.sortedImage();
    t.release();
    expect(partKey.byteLength).toBe(keyBytes);
    const u = new UserTable(TASKS, 16);
    const k = Buffer.from('user0');
    u.addNow(k, 0, 5, hashBytes(k, 0, 5), 0, 1, 10);
    const held = u.key(0);
    u.release();
    expect(Buffer.from(held).toString('latin1')).toBe('user0');
    // Bounded: the partitions spilled at the bound, the worker going on with one table in their slab.
    const b = new PartitionedTable(TASKS, 16, 0, { bits: 2, stageLines: 4 });
    const runs: TableImage[] = [];
    b.spillWhenFull({ entries: 10, longKeyBytes: Infinity }, (img) => runs.push(kept(img)));
    const stage = (b as unknown as { keys: Uint8Array }).keys;
    const stageBytes = stage.byteLength;
    const addTo = (i: number) => {
      const n = buf.write(`user${i}`, 'latin1');
      b.addLater(buf, 0, n, hashBytes(buf, 0, n), i % TASKS, 10);
      b.flushBatch();
    };
    for (let i = 0; runs.length === 0 && i < 1000; i++) addTo(i);
    expect(runs.length).toBe(1);
    expect(b.partitioned).toBe(false);
    expect(stage.byteLength).toBe(stageBytes);
    b.sortedImage();
    b.release();
    expect(stage.byteLength).toBe(stageBytes);
    expect(usageOf(runs[0]!).length).toBe(10);
  });

  it("writes every spill's image into the same memory: the partitions' spill, the one table's, then the last image", () => {
    const t = new PartitionedTable(TASKS, 16, 0, { bits: 2, stageLines: 4 });
    const buffers: ArrayBufferLike[] = [];
    const users: string[] = [];
    t.spillWhenFull({ entries: 10, longKeyBytes: Infinity }, (img) => {
      buffers.push(img.records.buffer);
      users.push(...usageOf(img).map(([k]) => k));
    });
    const buf = Buffer.alloc(16);
    for (let i = 0; i < 45; i++) {
      const n = buf.write(`user${i}`, 'latin1');
      t.addLater(buf, 0, n, hashBytes(buf, 0, n), i % TASKS, 10);
      t.flushBatch();
    }
    // Ten users a spill: the partitions' (partitioned from the start), then the one table's three.
    expect(buffers.length).toBe(4);
    expect(new Set(buffers).size).toBe(1);
    // The last image, after the spills, in their memory too.
    const last = t.sortedImage();
    expect(last.records.buffer).toBe(buffers[0]);
    users.push(...usageOf(last).map(([k]) => k));
    expect(users.sort()).toEqual(Array.from({ length: 45 }, (_, i) => `user${i}`).sort());
  });

  it('a released table refuses new keys', () => {
    const t = new UserTable(1, 4);
    t.release();
    const b = Buffer.from('u');
    expect(() => t.entry(b, 0, 1, hashBytes(b, 0, 1))).toThrow(/after release/);
  });

  it('sortedImageOf several tables equals the sorted image of one table holding their keys', () => {
    const a = new UserTable(1, 4);
    const b = new UserTable(1, 4);
    const one = new UserTable(1, 4);
    const keys = ['user9', 'user10', 'a-long-user-id-beyond-the-inline-bytes-1', 'b', 'a-long-user-id-beyond-the-inline-bytes-0', 'user1'];
    keys.forEach((k, i) => {
      const buf = Buffer.from(k);
      for (const t of [i % 2 === 0 ? a : b, one]) t.addBig(t.entry(buf, 0, buf.length, hashBytes(buf, 0, buf.length)), 0, i + 1, 2n ** 60n + BigInt(i));
    });
    expect(usageOf(UserTable.sortedImageOf([a, b]))).toEqual(usageOf(one.sortedImage()));
  });
});
