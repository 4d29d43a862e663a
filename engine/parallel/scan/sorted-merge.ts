/**
 * The workers' usage tables, each sorted by key bytes in its worker (UserTable.sortedImage),
 * merged as they stream into finalize: a k-way merge by key bytes, summing a user's counters
 * across tables, one user at a time. The main thread never builds a merged table, an array
 * of every id, or sorts them: finalize reads the users in the bill's order (UTF-8 byte order,
 * which is the order of the key bytes) as a SortedUsage stream and checks that order.
 *
 * The merge can be cut into key ranges (keyRanges), each merged on its own, by another
 * thread: a large bill is rendered that way by the workers, in ranges of a bounded size
 * (jobs/bill-ranges.ts).
 *
 * A table that outgrew its worker's bound was spilled to a file as a sorted run (writeRun: its
 * records, then its long keys in record order; only its carried sums, which are few, stay in
 * memory): those runs are read here a chunk of records and their long keys at a time, the
 * chunks' bytes bounded across the runs (MERGE_READ_BYTES), so the merge's memory does not grow
 * with their number.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { UserUsage, UserUsageAccess, type KeyedUsers, type SortedUsage, type UsageAccess } from '../../core/billing/usage.js';
import { compareUtf8Bytes } from '../../core/billing/order.js';
import { COUNTERS_AT, INLINE_KEY_BYTES, decodeKey, recordBytes, type TableImage } from './user-table.js';
import { NO_COLUMN } from './task-columns.js';

/**
 * A sorted table written to a file by a worker (writeRun): its `size` records, then the bytes
 * of its keys longer than INLINE_KEY_BYTES, in record order (a long key's record holds its
 * offset among them). Its carried sums (above 2^52, rare) are kept here.
 */
export interface SpilledRun {
  readonly path: string;
  /** Counters per record (TableImage.columns). */
  readonly columns: number;
  readonly size: number;
  readonly carry: Array<[number, bigint]>;
}

/** writeRun writes a run's long keys through a buffer of this many bytes (user ids are at most 128 bytes). */
const LONG_KEYS_WRITE_BYTES = 1 << 20;

/** Writes all of b at fd's position. */
function writeFully(fd: number, b: Uint8Array): void {
  for (let at = 0; at < b.length; ) at += writeSync(fd, b, at, b.length - at);
}

/** Reads `length` bytes of a run file at `position` into b. */
function readFully(fd: number, b: Uint8Array, length: number, position: number, path: string): void {
  for (let got = 0; got < length; ) {
    const k = readSync(fd, b, got, length - got, position + got);
    if (k === 0) throw new Error(`usage run ${path} ends early, at byte ${position + got}`);
    got += k;
  }
}

/**
 * Writes a sorted table image to a new file at `path` (mode 0600) as a run: its records, then
 * its long keys in record order, each long key's record given its offset among them (the
 * image's records are changed so). A merge then reads a chunk of records and their long keys
 * as two contiguous reads, and no key stays in memory. With ids longer than the inline bytes
 * (UUIDs, e-mail addresses) the runs' long keys used to stay in memory, and were copied to
 * every worker writing a key range: a 10M-user file of 36-byte ids peaked at 4.1 GiB of RSS.
 */
export function writeRun(path: string, img: TableImage): SpilledRun {
  const rb = recordBytes(img.columns);
  const records = img.records.subarray(0, img.size * rb);
  const v = new DataView(records.buffer, records.byteOffset, records.byteLength);
  // Where each long key lies in the image's long keys (in record order), read again as they are written below.
  const from: number[] = [];
  let longKeyBytes = 0;
  for (let e = 0; e < img.size; e++) {
    const len = v.getInt32(e * rb, true);
    if (len <= INLINE_KEY_BYTES) continue;
    from.push(v.getInt32(e * rb + 8, true));
    v.setInt32(e * rb + 8, longKeyBytes, true);
    longKeyBytes += len;
  }
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeFully(fd, records);
    // The long keys in record order, through a buffer of about a MiB: a run of a million UUIDs would otherwise take 36 MB more at once.
    const out = new Uint8Array(Math.min(longKeyBytes, LONG_KEYS_WRITE_BYTES));
    let n = 0;
    let k = 0;
    for (let e = 0; e < img.size; e++) {
      const len = v.getInt32(e * rb, true);
      if (len <= INLINE_KEY_BYTES) continue;
      if (n + len > out.length) {
        writeFully(fd, out.subarray(0, n));
        n = 0;
      }
      const at = from[k++]!;
      out.set(img.overflow.subarray(at, at + len), n);
      n += len;
    }
    writeFully(fd, out.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { path, columns: img.columns, size: img.size, carry: img.carry };
}

/**
 * What a worker hands over at the end: its last table, sorted, and the runs it spilled before,
 * their columns numbered by the job's TaskColumns: each task's column (NO_COLUMN: none; its
 * length is the rates' tasks), as the map stood when every worker was done with the input.
 */
export interface SortedTables {
  readonly image: TableImage;
  readonly runs: readonly SpilledRun[];
  readonly columns: Int32Array;
}

/**
 * A merge reads its runs in chunks of at most this many bytes of records in all, and at most
 * as many bytes of long keys (a run's chunk ends before the long key that would pass its
 * share), each run's chunk at most RUN_CHUNK_BYTES of each. Each key range of a bill merges
 * every run (72 at 10M users of 128-byte ids), and chunks of 32,768 records (3.5 MiB with five
 * tasks) and their long keys (4 MiB) would take about 540 MiB per merge, in each worker
 * writing a range.
 */
export const MERGE_READ_BYTES = 32 << 20;
const RUN_CHUNK_BYTES = 4 << 20;
/** Merges of up to this many tables find the smallest key by comparing them all, not by a heap. */
const LINEAR_MERGE_MAX = 8;

/** Entries [from, to) of one sorted table: its part of a key range of the merge (MergedUsage.keyRanges). */
export type EntryRange = readonly [from: number, to: number];

/** Restores the heap order below heap[i] (a min-heap of cursors by their current keys). */
function siftDown(heap: Cursor[], i: number): void {
  const n = heap.length;
  const x = heap[i]!;
  for (;;) {
    let m = 2 * i + 1;
    if (m >= n) break;
    if (m + 1 < n && before(heap[m + 1]!, heap[m]!)) m++;
    if (!before(heap[m]!, x)) break;
    heap[i] = heap[m]!;
    i = m;
  }
  heap[i] = x;
}

/** Restores the heap order above heap[i]. */
function siftUp(heap: Cursor[], i: number): void {
  const x = heap[i]!;
  while (i > 0) {
    const p = (i - 1) >>> 1;
    if (!before(x, heap[p]!)) break;
    heap[i] = heap[p]!;
    i = p;
  }
  heap[i] = x;
}

/** True when a's current key comes before b's. */
function before(a: Cursor, b: Cursor): boolean {
  return compareUtf8Bytes(a.keyBytes, a.keyAt, a.keyLen, b.keyBytes, b.keyAt, b.keyLen) < 0;
}

/** The next entry of one sorted table: in memory, or read from its run file a chunk at a time. */
class Cursor {
  /** The next entry, and the window of records held: entries [first, end). */
  e = 0;
  private first = 0;
  private end = 0;
  private u8: Uint8Array;
  private i32: Int32Array;
  f64: Float64Array;
  private fd: number | null = null;
  readonly carries = new Map<number, Array<[number, bigint]>>();
  keyBytes: Uint8Array = new Uint8Array(0);
  keyAt = 0;
  keyLen = 0;

  /** A run's long keys of the records held: bytes [longFrom, longFrom + length) of its long keys. */
  private longKeys = new Uint8Array(0);
  private longFrom = 0;

  private readonly rb: number;

  constructor(
    /** The end of the entries read: entries [e, size). */
    readonly size: number,
    /** An image's long keys; null for a run, whose long keys are read with its records. */
    private readonly overflow: Uint8Array | null,
    carry: Array<[number, bigint]>,
    /** Counters per record. */
    readonly width: number,
    records: Uint8Array | null,
    private readonly path: string | null,
    /** The first entry read (a run's window starts empty there). */
    from = 0,
    /** Where a run's long keys start in its file (after its records). */
    private readonly longKeysAt = 0,
    /** A run's chunk: at most this many bytes of records, and as many of long keys (at least one record). */
    private readonly chunkBytes = RUN_CHUNK_BYTES,
  ) {
    this.rb = recordBytes(width);
    const rb = this.rb;
    this.e = from;
    this.first = from;
    this.end = from;
    for (const [k, v] of carry) {
      const e = Math.floor(k / width);
      let l = this.carries.get(e);
      if (l === undefined) this.carries.set(e, (l = []));
      l.push([k % width, v]);
    }
    // Records are 8-byte aligned in their buffer unless the image was cut from a larger one. A
    // run's window holds a chunk, or the entries read if fewer (a key range of a bill is small).
    const r = records === null ? new Uint8Array(Math.max(1, Math.min(Math.floor(chunkBytes / rb), size - from)) * rb) : records.byteOffset % 8 === 0 ? records : records.slice();
    this.u8 = r;
    this.i32 = new Int32Array(r.buffer, r.byteOffset, r.byteLength >>> 2);
    this.f64 = new Float64Array(r.buffer, r.byteOffset, r.byteLength >>> 3);
    if (records !== null) {
      this.first = 0;
      this.end = size;
    }
  }

  /** False when every entry was read; else the current entry's key is in keyBytes[keyAt, keyAt + keyLen). */
  head(): boolean {
    if (this.e >= this.size) {
      this.close();
      return false;
    }
    if (this.e >= this.end) this.load();
    const base = (this.e - this.first) * this.rb;
    const len = this.i32[base >>> 2]!;
    this.keyLen = len;
    if (len <= INLINE_KEY_BYTES) {
      this.keyBytes = this.u8;
      this.keyAt = base + 8;
    } else if (this.overflow !== null) {
      this.keyBytes = this.overflow;
      this.keyAt = this.i32[(base >>> 2) + 2]!;
    } else {
      this.keyBytes = this.longKeys;
      this.keyAt = this.i32[(base >>> 2) + 2]! - this.longFrom;
    }
    return true;
  }

  /** Index into f64 of the current entry's first counter. */
  counters(): number {
    return ((this.e - this.first) * this.rb + COUNTERS_AT) >>> 3;
  }

  private load(): void {
    this.fd ??= openSync(this.path!, 'r');
    let n = Math.min(this.u8.length / this.rb, this.size - this.e);
    readFully(this.fd, this.u8, n * this.rb, this.e * this.rb, this.path!);
    // The chunk's long keys lie after each other in the file (writeRun): from its first long key
    // to its last one's end. The chunk ends before a long key that would make them more than
    // chunkBytes (its records are read again with the next chunk).
    const ri = this.rb >>> 2;
    let from = -1;
    let to = 0;
    for (let i = 0; i < n; i++) {
      const len = this.i32[i * ri]!;
      if (len <= INLINE_KEY_BYTES) continue;
      const at = this.i32[i * ri + 2]!;
      if (from < 0) from = at;
      else if (at + len - from > this.chunkBytes) {
        n = i;
        break;
      }
      to = at + len;
    }
    this.first = this.e;
    this.end = this.e + n;
    if (from < 0) return;
    if (this.longKeys.length < to - from) this.longKeys = new Uint8Array(Math.max(to - from, Math.min(2 * this.longKeys.length, this.chunkBytes)));
    readFully(this.fd, this.longKeys, to - from, this.longKeysAt + from, this.path!);
    this.longFrom = from;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export class MergedUsage implements SortedUsage {
  readonly taskCount: number;
  private readonly images: TableImage[] = [];
  private readonly runs: SpilledRun[] = [];
  /** Each task's column (NO_COLUMN: none), and each column's task. */
  private readonly columnOf: Int32Array;
  private readonly taskOf: Int32Array;

  /**
   * `ranges`: the entries of each table to merge (the images' tables first, then the runs, in
   * the order given; default all of them), one key range of the whole (keyRanges). Bare images
   * (no SortedTables): a task in each column, as many as the first image's.
   */
  constructor(
    tables: readonly (TableImage | SortedTables)[],
    private readonly ranges?: readonly EntryRange[],
    /** The bytes of records, and again of long keys, read from the runs at once (default MERGE_READ_BYTES; tests make it small). */
    private readonly readBytes = MERGE_READ_BYTES,
  ) {
    let columnOf: Int32Array | null = null;
    for (const t of tables) {
      if ('image' in t) {
        this.images.push(t.image);
        this.runs.push(...t.runs);
        if (columnOf !== null && !sameColumns(columnOf, t.columns)) throw new RangeError('MergedUsage: tables of different columns');
        columnOf = t.columns;
      } else {
        this.images.push(t);
      }
    }
    if (this.images.length === 0) throw new RangeError('MergedUsage: no table');
    if (columnOf !== null && this.images.length !== tables.length) throw new RangeError('MergedUsage: bare images with sorted tables');
    for (const img of this.images) if (img.sorted !== true && img.size > 1) throw new RangeError('MergedUsage: a table image is not sorted');
    this.columnOf = columnOf ?? Int32Array.from({ length: this.images[0]!.columns }, (_, t) => t);
    this.taskCount = this.columnOf.length;
    // Every column a table holds is a task's: else its counters would go unbilled.
    const width = Math.max(...this.images.map((i) => i.columns), ...this.runs.map((r) => r.columns));
    this.taskOf = new Int32Array(width).fill(-1);
    for (let t = 0; t < this.taskCount; t++) if (this.columnOf[t] !== NO_COLUMN && this.columnOf[t]! < width) this.taskOf[this.columnOf[t]!] = t;
    if (this.taskOf.includes(-1)) throw new RangeError(`MergedUsage: a column of ${width} is no task's`);
    if (ranges !== undefined && ranges.length !== this.images.length + this.runs.length) throw new RangeError('MergedUsage: a range per table is needed');
  }

  /** The tasks the tables hold a column for (the widest table's columns): at most this many of a user's tasks have usage. */
  get columns(): number {
    return this.taskOf.length;
  }

  /** Users held across the tables, counting a user once per table that holds them. */
  get entries(): number {
    return this.images.reduce((n, t) => n + t.size, 0) + this.runs.reduce((n, r) => n + r.size, 0);
  }

  /**
   * The merge cut into at most `parts` key ranges of about equal size, in key order: for each,
   * every table's entries in it (the argument of the constructor's `ranges`). The cuts are
   * keys of the largest table at equal steps, each table cut where its keys reach them, so a
   * user's entries in every table fall in one range. `within`: a key range of the merge (one
   * of keyRanges') cut the same way, by its own largest table's entries in it.
   */
  keyRanges(parts: number, within?: readonly EntryRange[]): EntryRange[][] {
    const tables: KeyedTable[] = [
      ...this.images.map((img) => new KeyedTable(img.size, recordBytes(img.columns), img.overflow, img.records, null)),
      ...this.runs.map((r) => new KeyedTable(r.size, recordBytes(r.columns), null, null, r.path)),
    ];
    if (within !== undefined && within.length !== tables.length) throw new RangeError('MergedUsage: a range per table is needed');
    const slice = (i: number): EntryRange => within?.[i] ?? [0, tables[i]!.size];
    try {
      let largest = 0;
      const length = (i: number) => slice(i)[1] - slice(i)[0];
      for (let i = 1; i < tables.length; i++) if (length(i) > length(largest)) largest = i;
      const [from, to] = slice(largest);
      const n = Math.max(1, Math.min(parts, to - from));
      const cuts: Uint8Array[] = [];
      for (let k = 1; k < n; k++) cuts.push(tables[largest]!.key(from + Math.floor((k * (to - from)) / n)));
      const at = tables.map((t, i) => [slice(i)[0], ...cuts.map((c) => t.lowerBound(c, ...slice(i))), slice(i)[1]]);
      return Array.from({ length: n }, (_, k) => at.map((b): EntryRange => [b[k]!, b[k + 1]!]));
    } finally {
      for (const t of tables) t.close();
    }
  }

  /**
   * The merge as an async iterable (SortedUsage's contract; finalize reads usersSync) without an
   * async generator's cost per step: each step is the synchronous merge's next user in a
   * resolved promise.
   */
  users(): AsyncIterable<{ readonly user: string; readonly usage: UserUsage }> {
    return {
      [Symbol.asyncIterator]: () => {
        const it = this.merged(true);
        return {
          next: () => Promise.resolve(it.next()),
          return: () => Promise.resolve(it.return(undefined)),
        };
      },
    };
  }

  /**
   * The merge itself, synchronous (what finalize reads: SortedUsage.usersSync). Each step's
   * usage object is the same one, refilled: it is valid until the next step (finalize keeps
   * none; a million users took two typed arrays each).
   */
  usersSync(): Iterable<{ readonly user: string; readonly usage: UserUsage }> {
    return { [Symbol.iterator]: () => this.merged(false) };
  }

  /** The merge itself, synchronous; `keep`: a new usage object per user (else one, refilled). */
  private *merged(keep: boolean): Generator<{ user: string; usage: UserUsage }, undefined> {
    const T = this.taskCount;
    const walk = this.walk();
    const reused = new UserUsage(T);
    try {
      while (walk.next()) {
        const first = walk.same[0]!;
        const user = decodeKey(first.keyBytes.subarray(first.keyAt, first.keyAt + first.keyLen));
        yield { user, usage: walk.sum(keep ? new UserUsage(T) : reused.clear()) };
      }
    } finally {
      walk.close();
    }
  }

  /**
   * The merge by the users' key bytes (SortedUsage.keyed): a user held by one table, with no
   * carried sum, is read in that table's record; a user of several tables (or with a carried
   * sum) is summed into one reused usage first.
   */
  keyed(): KeyedUsers {
    return new KeyedMerge(this.walk(), this.taskCount, this.columnOf);
  }

  private walk(): MergeWalk {
    const range = (i: number, size: number): EntryRange => this.ranges?.[i] ?? [0, size];
    const I = this.images.length;
    const chunkBytes = Math.max(1, Math.min(RUN_CHUNK_BYTES, Math.floor(this.readBytes / Math.max(1, this.runs.length))));
    return new MergeWalk(this.taskOf, [
      ...this.images.map((img, i) => {
        const [from, to] = range(i, img.size);
        return new Cursor(to, img.overflow, img.carry, img.columns, img.records, null, from);
      }),
      ...this.runs.map((r, i) => {
        const [from, to] = range(I + i, r.size);
        return new Cursor(to, null, r.carry, r.columns, null, r.path, from, r.size * recordBytes(r.columns), chunkBytes);
      }),
    ]);
  }
}

/**
 * The k-way merge of sorted tables' cursors, a key at a time: next() finds the cursors at the
 * smallest key, same[0, n), by comparing every cursor's key, or with many tables (spilled
 * runs) by a binary min-heap of the cursors by their keys, where a user costs a few
 * comparisons per table holding them: at 10M users a worker's merge of 18 tables spent 8.2 s,
 * and 6.5 s with the heap; with 2 to 8 tables the scan was faster. The next call moves those
 * cursors on.
 */
class MergeWalk {
  readonly same: Cursor[] = [];
  n = 0;
  private readonly heap: Cursor[] | null;
  private started = false;

  constructor(
    /** Each column's task. */
    private readonly taskOf: Int32Array,
    private readonly cursors: readonly Cursor[],
  ) {
    this.heap = cursors.length > LINEAR_MERGE_MAX ? [] : null;
  }

  next(): boolean {
    const heap = this.heap;
    const same = this.same;
    if (!this.started) {
      this.started = true;
      if (heap !== null) {
        for (const c of this.cursors) if (c.head()) heap.push(c);
        for (let i = (heap.length >>> 1) - 1; i >= 0; i--) siftDown(heap, i);
      }
    } else {
      // The cursors of the last key move on (back onto the heap at their next keys).
      for (let j = 0; j < this.n; j++) {
        const c = same[j]!;
        c.e++;
        if (heap !== null && c.head()) siftUp(heap, heap.push(c) - 1);
      }
    }
    let n = 0;
    if (heap === null) {
      const cursors = this.cursors;
      let best: Cursor | null = null;
      for (let w = 0; w < cursors.length; w++) {
        const c = cursors[w]!;
        if (!c.head()) continue;
        const d = best === null ? -1 : compareUtf8Bytes(c.keyBytes, c.keyAt, c.keyLen, best.keyBytes, best.keyAt, best.keyLen);
        if (d < 0) {
          best = c;
          n = 0;
        }
        if (d <= 0) same[n++] = c;
      }
    } else {
      // Taken off the heap while none moves on: their keys stay where they are until then.
      while (heap.length > 0 && (n === 0 || compareUtf8Bytes(heap[0]!.keyBytes, heap[0]!.keyAt, heap[0]!.keyLen, same[0]!.keyBytes, same[0]!.keyAt, same[0]!.keyLen) === 0)) {
        same[n++] = heap[0]!;
        const last = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = last;
          siftDown(heap, 0);
        }
      }
    }
    this.n = n;
    return n > 0;
  }

  /** The current key's usage summed over the cursors at it (their carries included) into `usage`, by task. */
  sum(usage: UserUsage): UserUsage {
    const taskOf = this.taskOf;
    for (let j = 0; j < this.n; j++) {
      const c = this.same[j]!;
      const f = c.f64;
      const base = c.counters();
      const W = c.width;
      for (let k = 0; k < W; k++) {
        const r = f[base + 2 * k]!;
        const d = f[base + 2 * k + 1]!;
        if (r !== 0 || d !== 0) usage.add(taskOf[k]!, r, d);
      }
      const carried = c.carries.size === 0 ? undefined : c.carries.get(c.e);
      if (carried !== undefined) for (const [k, v] of carried) usage.addBig(taskOf[k]!, 0, v);
    }
    return usage;
  }

  close(): void {
    for (const c of this.cursors) c.close();
  }
}

/**
 * A table record's counters read in place (UsageAccess), a task through its column: `i` is
 * the index of its first counter in f64, `width` its counters; no sum of it was carried.
 */
class RecordRows implements UsageAccess {
  f64: Float64Array = new Float64Array(0);
  width = 0;
  constructor(private readonly columnOf: Int32Array) {}
  requests(i: number, t: number): number {
    const c = this.columnOf[t]!;
    return c < this.width ? this.f64[i + 2 * c]! : 0;
  }
  durationNumber(i: number, t: number): number {
    const c = this.columnOf[t]!;
    return c < this.width ? this.f64[i + 2 * c + 1]! : 0;
  }
  duration(i: number, t: number): bigint {
    return BigInt(this.durationNumber(i, t));
  }
}

/** MergedUsage.keyed: the walk's current key and its usage, in place when one table holds it. */
class KeyedMerge implements KeyedUsers {
  bytes: Uint8Array = new Uint8Array(0);
  at = 0;
  length = 0;
  rows: UsageAccess;
  row = 0;
  private readonly inPlace: RecordRows;
  private readonly summed: UserUsageAccess;

  constructor(
    private readonly walk: MergeWalk,
    tasks: number,
    columnOf: Int32Array,
  ) {
    this.inPlace = new RecordRows(columnOf);
    this.summed = new UserUsageAccess(new UserUsage(tasks));
    this.rows = this.inPlace;
  }

  next(): boolean {
    const walk = this.walk;
    if (!walk.next()) return false;
    const c = walk.same[0]!;
    this.bytes = c.keyBytes;
    this.at = c.keyAt;
    this.length = c.keyLen;
    if (walk.n === 1 && (c.carries.size === 0 || !c.carries.has(c.e))) {
      this.inPlace.f64 = c.f64;
      this.inPlace.width = c.width;
      this.rows = this.inPlace;
      this.row = c.counters();
    } else {
      walk.sum(this.summed.u.clear());
      this.rows = this.summed;
      this.row = 0;
    }
    return true;
  }

  close(): void {
    this.walk.close();
  }
}

/** Whether two tables' task columns are the same. */
function sameColumns(a: Int32Array, b: Int32Array): boolean {
  return a.length === b.length && a.every((c, t) => c === b[t]);
}

/** A sorted table's keys by entry number, in memory or read from its run file: where keyRanges cuts it. */
class KeyedTable {
  private fd: number | null = null;
  private readonly head = new Uint8Array(8 + INLINE_KEY_BYTES);

  constructor(
    readonly size: number,
    private readonly rb: number,
    /** An image's long keys; null for a run, whose long keys follow its records in its file. */
    private readonly overflow: Uint8Array | null,
    private readonly records: Uint8Array | null,
    private readonly path: string | null,
  ) {}

  /** Entry e's key bytes (a copy). */
  key(e: number): Uint8Array {
    let head: Uint8Array;
    if (this.records !== null) {
      head = this.records.subarray(e * this.rb, e * this.rb + this.head.length);
    } else {
      this.fd ??= openSync(this.path!, 'r');
      const n = readSync(this.fd, this.head, 0, this.head.length, e * this.rb);
      if (n !== this.head.length) throw new Error(`usage run ${this.path} ends early at entry ${e} of ${this.size}`);
      head = this.head;
    }
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const len = view.getInt32(0, true);
    if (len <= INLINE_KEY_BYTES) return head.slice(8, 8 + len);
    const at = view.getInt32(8, true);
    if (this.overflow !== null) return this.overflow.slice(at, at + len);
    const key = new Uint8Array(len);
    readFully(this.fd!, key, len, this.size * this.rb + at, this.path!);
    return key;
  }

  /** The first entry of [from, to) whose key is at or after `key` (`to` when none is). */
  lowerBound(key: Uint8Array, from = 0, to = this.size): number {
    let lo = from;
    let hi = to;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.key(mid);
      if (compareUtf8Bytes(k, 0, k.length, key, 0, key.length) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
