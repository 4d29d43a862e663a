/**
 * A hash table keyed by user-id bytes, holding per-task request counts and duration sums.
 * No string is made per line or per lookup.
 *
 * Built for millions of users, where every lookup is a cache miss: open addressing with
 * linear probing over slots of [hash, entry + 1], and one fixed-size record per entry that
 * holds the key (inline when it is short) next to the entry's counters, so a lookup
 * touches a slot and one record. Record layout (bytes):
 *
 *   0  key length          4  hash
 *   8  key bytes (up to INLINE), or for a longer key its offset in the overflow arena
 *   RECORD_HEAD  per column: requests (f64), duration (f64)
 *
 * A table holds the columns of the tasks it has met (scan/task-columns.ts), numbered by the
 * job's map, and widens when a line brings a new one: its records are as wide as the tasks the
 * logs use, not as the rates' list.
 *
 * Duration sums stay exact: each sum is kept below 2^52 in a float64 and anything above
 * is carried into a bigint side table.
 */
import { DURATION_CARRY, DURATION_CARRY_BIG, type UsageRows } from '../../core/billing/usage.js';
import { WordReader } from '../../core/formats/words.js';
import { SpillMemory } from './spill-memory.js';
import { NO_COLUMN, TaskColumns } from './task-columns.js';

/** Keys up to this many bytes live in their record. */
const INLINE = 24;
/** Lines whose lookups addLater() batches (see flushBatch). */
const BATCH = 64;
/**
 * addLater() batches only from this many entries on: below it the table stays in the CPU's
 * caches and batching costs more than it saves (about 12% more CPU at 1,000 users; 20-27%
 * less time at 100k and 1M users, bench/parallel-history.md).
 */
const BATCH_FROM = 8192;
const RECORD_HEAD = 8 + INLINE;
/**
 * Slots for a table: a new Int32Array, written before it is read. A large zeroed buffer is
 * mapped lazily, and a page's first access decides what it costs: read first (a probe, warm()),
 * the page is mapped to the kernel's shared zero page, and the first write then copies it and
 * flushes the TLB of every CPU the process runs on (an interprocessor interrupt, costly in a
 * virtual machine); written first, it is a plain new page. At a million users those copies were
 * about 6% of a 2-worker run's CPU (perf: do_wp_page under rehash and addStage).
 */
function writtenSlots(length: number): Int32Array {
  const slots = new Int32Array(length);
  slots.fill(0);
  return slots;
}

/** Keys byteOrder reads per round of touching loads (after its first round, in key order: at random). */
const GATHER = 32;

/** FNV-1a over bytes[start, end). */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** A table's entries as plain buffers (what a worker hands to the main thread). */
export interface TableImage {
  /** Counters per record: the columns of the job's TaskColumns its table held. */
  readonly columns: number;
  readonly size: number;
  /** size records of recordBytes(columns) bytes. */
  readonly records: Uint8Array;
  /** Keys longer than INLINE bytes. */
  readonly overflow: Uint8Array;
  /** [entry * columns + column, amount] for duration sums carried above 2^52. */
  readonly carry: Array<[number, bigint]>;
  /** True when the records are in the byte order of their keys (sortedImage). */
  readonly sorted?: boolean;
}

/** Where an image's bytes are written: new buffers, SharedArrayBuffers or not, or a spill's memory (shared). */
export type ImageMemory = 'private' | 'shared' | SpillMemory;

/** n new zeroed bytes, in a SharedArrayBuffer when `where` is 'shared'. */
function newBytes(n: number, where: 'private' | 'shared'): Uint8Array {
  return new Uint8Array(where === 'shared' ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
}

/** Keys up to this many bytes live in their record (a longer one's offset in the overflow bytes is there). */
export const INLINE_KEY_BYTES = INLINE;

/** What a bounded table holds at most before it is spilled (spillWhenFull). */
export interface TableBound {
  /** Entries (users) at most. */
  readonly entries: number;
  /** Bytes of records at most: fewer entries as a table widens (boundEntries); absent: no bound. */
  readonly recordBytes?: number;
  /** Bytes of the keys longer than INLINE_KEY_BYTES, which are kept beside the records. */
  readonly longKeyBytes: number;
}

/** Where a record's per-task counters start (bytes into the record). */
export const COUNTERS_AT = RECORD_HEAD;

/**
 * A user id from its key bytes: valid UTF-8 (validated before it was stored); a leading
 * U+FEFF is part of the id. One TextDecoder call for ASCII ids too: testing for ASCII first
 * and slicing a Buffer took twice as long (a million ids of 12 bytes: 938 against 460 ms).
 */
const keyDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
export function decodeKey(k: Uint8Array): string {
  return keyDecoder.decode(k);
}

export function recordBytes(columns: number): number {
  return RECORD_HEAD + 16 * columns;
}

/** The entries a table of records `columns` wide holds within `bound` (at least one). */
export function boundEntries(bound: TableBound, columns: number): number {
  return Math.max(1, Math.min(bound.entries, Math.floor((bound.recordBytes ?? Infinity) / recordBytes(columns))));
}

/** Where the scanners put the usage of the lines they accept (UserTable, PartitionedTable). */
export interface UsageSink {
  /** One request of `task` for the key bytes[start, end) (hash h); the caller calls flushBatch() before the bytes change. */
  addLater(bytes: Uint8Array, start: number, end: number, h: number, task: number, durationMs: number): void;
  /** Adds what addLater() holds that still reads the caller's bytes. */
  flushBatch(): void;
  /** Adds `requests` of `task` with their duration for the key bytes[start, end) (hash h) now. */
  addNow(bytes: Uint8Array, start: number, end: number, h: number, task: number, requests: number, durationMs: number): void;
}

export class UserTable implements UsageRows, UsageSink {
  /** Entries, numbered 0..size-1 in insertion order. */
  size = 0;
  /** Carried duration above 2^52: entry * width + column → amount. */
  carry = new Map<number, bigint>();
  /** The job's columns (TaskColumns), and how many of them the records hold. */
  readonly columns: TaskColumns;
  width: number;
  /** A task's column when the records hold it, else NO_COLUMN (column()). */
  private readonly held: Int32Array;
  private u8: Uint8Array;
  private i32: Int32Array;
  private f64: Float64Array;
  /** The records' bytes as words, and the keys looked up (sameKey). */
  private recordWords: DataView<ArrayBufferLike>;
  private readonly keyWords = new WordReader();
  private readonly overflowWords = new WordReader();
  /** Record size in bytes, in int32s and in float64s. */
  private rb: number;
  private ri: number;
  private rf: number;
  private overflow = new Uint8Array(0);
  private overflowEnd = 0;
  /** Per slot: [hash, entry + 1]; 0 marks an empty slot. */
  private slots: Int32Array;
  private mask: number;
  private ids: string[] | null = null;
  /** Lines waiting for their lookup (addLater): key ranges into pendingBytes, hash, column, duration. */
  private readonly pStart = new Int32Array(BATCH);
  private readonly pEnd = new Int32Array(BATCH);
  private readonly pHash = new Int32Array(BATCH);
  private readonly pColumn = new Int32Array(BATCH);
  private readonly pDuration = new Float64Array(BATCH);
  private readonly pSlot = new Int32Array(BATCH);
  private pending = 0;
  private pendingBytes: Uint8Array | null = null;
  /** What flushBatch's touching loads read, kept so that they are not optimized away. */
  touched = 0;
  /** Entries, and bytes of long keys, at which the table is spilled (see spillWhenFull); none by default. */
  private limit = Infinity;
  private longLimit = Infinity;
  private bound: TableBound | null = null;
  private spill: ((img: TableImage) => void) | null = null;
  /** Where the spills' sorted images are written (spillWhenFull). */
  private spillMemory: SpillMemory | null = null;
  private released = false;

  constructor(
    /** The job's columns; a number: that many tasks, each in its own column from the start (TaskColumns.everyTask). */
    columns: TaskColumns | number,
    capacity = 1024,
    /** addLater() batches from this many entries on (tests batch from 0). */
    private readonly batchFrom = BATCH_FROM,
    /**
     * The records' memory to start with, zeroed (a slice of a larger buffer that its owner
     * drops); absent: room for `capacity` entries.
     */
    records?: Uint8Array,
  ) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.slots = writtenSlots(slots * 2);
    this.mask = slots - 1;
    this.columns = TaskColumns.given(columns);
    this.held = new Int32Array(this.columns.tasks).fill(NO_COLUMN);
    this.width = this.columns.count;
    for (let t = 0; t < this.held.length; t++) {
      const c = this.columns.columnIfAny(t);
      if (c < this.width) this.held[t] = c;
    }
    this.rb = recordBytes(this.width);
    this.ri = this.rb >>> 2;
    this.rf = this.rb >>> 3;
    this.u8 = new Uint8Array(0);
    this.recordWords = new DataView(this.u8.buffer);
    this.i32 = new Int32Array(0);
    this.f64 = new Float64Array(0);
    this.setRecords(records ?? new Uint8Array((slots >>> 1) * this.rb));
  }

  /** The records' memory: as many whole records as `records` holds. */
  private setRecords(records: Uint8Array): void {
    const { buffer, byteOffset } = records;
    const entries = Math.floor(records.length / this.rb);
    this.u8 = new Uint8Array(buffer, byteOffset, entries * this.rb);
    this.recordWords = new DataView(buffer, byteOffset, entries * this.rb);
    this.i32 = new Int32Array(buffer, byteOffset, entries * this.ri);
    this.f64 = new Float64Array(buffer, byteOffset, entries * this.rf);
  }

  /** The tasks the rates name. */
  get tasks(): number {
    return this.columns.tasks;
  }

  /**
   * The column of a task, which the records hold from now on (the table widened when it did
   * not). The caller holds no entry number (a widening can spill the entries).
   */
  column(task: number): number {
    const held = this.held[task]!;
    // Not `!== NO_COLUMN`: a task out of range reads undefined, and is refused below (TaskColumns.columnOf).
    if (held < NO_COLUMN) return held;
    const c = this.columns.columnOf(task);
    if (c >= this.width) this.widen(Math.max(c + 1, this.columns.count));
    this.held[task] = c;
    return c;
  }

  /**
   * Records `width` columns wide, entry numbers kept, each record's new counters zero. In
   * place while the records' memory holds them at the new width (moved from the last one back,
   * so none is written over before it moved), else in new memory (as growRecords takes it). A
   * bounded table holding more entries than its bound allows at the new width spills them first.
   */
  widen(width: number): void {
    if (width <= this.width) return;
    if (this.spill !== null && this.size > 0 && this.size >= boundEntries(this.bound!, width)) this.spillNow();
    const carry = new Map<number, bigint>();
    for (const [k, v] of this.carry) carry.set(Math.floor(k / this.width) * width + (k % this.width), v);
    this.carry = carry;
    const memory = this.u8;
    const from = this.i32;
    const fi = this.ri;
    this.setWidth(width);
    const ri = this.ri;
    const n = this.size;
    if (n * this.rb <= memory.byteLength) {
      this.setRecords(memory);
    } else {
      const entries = Math.max(2 * n, Number.isFinite(this.limit) ? this.limit : 0, 16);
      this.setRecords(new Uint8Array(entries * this.rb));
    }
    const to = this.i32;
    for (let e = n - 1; e >= 0; e--) {
      for (let j = fi - 1; j >= 0; j--) to[e * ri + j] = from[e * fi + j]!;
      for (let j = fi; j < ri; j++) to[e * ri + j] = 0;
    }
  }

  private setWidth(width: number): void {
    this.width = width;
    this.rb = recordBytes(width);
    this.ri = this.rb >>> 2;
    this.rf = this.rb >>> 3;
    if (this.bound !== null) this.limit = boundEntries(this.bound, width);
  }

  /** A table holding an image's entries as they are (entry numbers kept), with room to grow; its columns: a task each (everyTask). */
  static fromImage(img: TableImage): UserTable {
    const t = new UserTable(img.columns, Math.max(16, img.size));
    t.u8.set(img.records);
    t.size = img.size;
    t.overflow = img.overflow.slice();
    t.overflowEnd = img.overflow.length;
    for (const [k, v] of img.carry) t.carry.set(k, v);
    t.rehash(t.slots.length);
    return t;
  }

  get taskCount(): number {
    return this.tasks;
  }

  /** The entry of the key bytes[start, end) with hash h, inserted when new. */
  entry(bytes: Uint8Array, start: number, end: number, h: number): number {
    const len = end - start;
    const slots = this.slots;
    const hash = h | 0;
    let s = h & this.mask;
    for (;;) {
      const e = slots[2 * s + 1]! - 1;
      if (e < 0) break;
      if (slots[2 * s] === hash && this.i32[e * this.ri] === len && this.sameKey(e, bytes, start, end)) return e;
      s = (s + 1) & this.mask;
    }
    return this.insert(bytes, start, end, hash, s);
  }

  private sameKey(e: number, bytes: Uint8Array, start: number, end: number): boolean {
    const len = end - start;
    // The stored key: in the record, or (longer than INLINE) in the overflow bytes.
    const inline = len <= INLINE;
    let i = inline ? e * this.rb + 8 : this.i32[e * this.ri + 2]!;
    if (len >= 4) {
      // By words (core/formats/words.ts): every fourth byte's, then the last four bytes' (overlapping).
      const r = inline ? this.recordWords : this.overflowWords.of(this.overflow);
      const v = this.keyWords.of(bytes);
      const last = len - 4;
      for (let o = 0; o < last; o += 4) if (r.getInt32(i + o, true) !== v.getInt32(start + o, true)) return false;
      return r.getInt32(i + last, true) === v.getInt32(start + last, true);
    }
    const k = this.u8;
    for (let j = start; j < end; j++, i++) if (k[i] !== bytes[j]) return false;
    return true;
  }


  /**
   * One request of `task` for the key bytes[start, end) (hash h), added at once while the
   * table is small, else at the next flushBatch() (or a spill, which adds the waiting lines
   * first), which the caller must call before the bytes change (the end of each block of lines). The lookups of a batch are done together: first every line's slot is read,
   * then every record those slots name, in loops of independent loads, so that their cache
   * and TLB misses overlap instead of following one another (with a million users nearly
   * every lookup misses); then the lookups and adds themselves find their memory in the cache.
   */
  addLater(bytes: Uint8Array, start: number, end: number, h: number, task: number, durationMs: number): void {
    // A new column widens the table here (lines that wait keep theirs: a widening only adds columns).
    let c = this.held[task]!;
    if (!(c < NO_COLUMN)) c = this.column(task);
    if (this.size < this.batchFrom) {
      this.addAt(this.entry(bytes, start, end, h >>> 0), c, 1, durationMs);
      return;
    }
    if (this.pending > 0 && this.pendingBytes !== bytes) this.flushBatch();
    const j = this.pending;
    this.pendingBytes = bytes;
    this.pStart[j] = start;
    this.pEnd[j] = end;
    this.pHash[j] = h;
    this.pColumn[j] = c;
    this.pDuration[j] = durationMs;
    if (++this.pending === BATCH) this.flushBatch();
  }

  /**
   * Reads the table's memory in order, a load per 64-byte line: its records, then its slots.
   * Before a run of adds to a table that has left the caches (a partition's, PartitionedTable
   * .addStage), the CPU fetches memory read in order ahead of the loads, where the adds' own
   * loads, at random, each wait for theirs.
   */
  warm(): void {
    const i32 = this.i32;
    const slots = this.slots;
    const records = this.size * this.ri;
    let touched = 0;
    for (let i = 0; i < records; i += 16) touched += i32[i]!;
    for (let i = 0; i < slots.length; i += 16) touched += slots[i]!;
    this.touched = touched;
  }

  /** Adds what addLater() holds (see there). */
  flushBatch(): void {
    const n = this.pending;
    if (n === 0) return;
    const slots = this.slots;
    const mask = this.mask;
    for (let j = 0; j < n; j++) this.pSlot[j] = slots[2 * (this.pHash[j]! & mask) + 1]!;
    const i32 = this.i32;
    const f64 = this.f64;
    let touched = 0;
    for (let j = 0; j < n; j++) {
      const e = this.pSlot[j]! - 1;
      if (e >= 0) touched += i32[e * this.ri]! + f64[e * this.rf + (RECORD_HEAD >>> 3) + 2 * this.pColumn[j]!]!;
    }
    this.touched = touched;
    const bytes = this.pendingBytes!;
    this.pending = 0;
    this.pendingBytes = null;
    for (let j = 0; j < n; j++) this.addAt(this.entry(bytes, this.pStart[j]!, this.pEnd[j]!, this.pHash[j]! >>> 0), this.pColumn[j]!, 1, this.pDuration[j]!);
  }

  /**
   * Adds to entry e's usage of `task`, whose column the records hold (column(task) was called
   * before the entry was looked up: a widening can spill the entries, and their numbers with them).
   */
  add(e: number, task: number, requests: number, durationMs: number): void {
    this.addAt(e, this.columnForAdd(task), requests, durationMs);
  }

  /** The column an add of `task` writes: the one column(task) gave this table (refused when it was not asked for). */
  private columnForAdd(task: number): number {
    const c = this.held[task]!;
    if (!(c < NO_COLUMN)) throw new Error(`internal: UserTable: task ${task}'s column is not held (column() before entry())`);
    return c;
  }

  /** Adds to entry e's counters of column c (which the records hold). */
  addAt(e: number, c: number, requests: number, durationMs: number): void {
    const f = this.f64;
    const k = e * this.rf + (RECORD_HEAD >>> 3) + 2 * c;
    f[k]! += requests;
    const d = f[k + 1]! + durationMs;
    if (d >= DURATION_CARRY) {
      this.addCarry(e, c, BigInt(d));
      f[k + 1] = 0;
    } else {
      f[k + 1] = d;
    }
  }

  addNow(bytes: Uint8Array, start: number, end: number, h: number, task: number, requests: number, durationMs: number): void {
    const c = this.column(task);
    this.addAt(this.entry(bytes, start, end, h >>> 0), c, requests, durationMs);
  }

  /** Adds an exact duration sum of any size (the carry rule of core's UserUsage.addBig); the task's column held, as for add(). */
  addBig(e: number, task: number, requests: number, durationMs: bigint): void {
    const c = this.columnForAdd(task);
    if (durationMs < DURATION_CARRY_BIG) return this.addAt(e, c, requests, Number(durationMs));
    this.addAt(e, c, requests, 0);
    this.addCarry(e, c, durationMs);
  }

  /** Adds a carried amount to entry e's column c. */
  addCarry(e: number, c: number, amount: bigint): void {
    const k = e * this.width + c;
    this.carry.set(k, (this.carry.get(k) ?? 0n) + amount);
  }

  /** The column a read of `task` reads: the job's column of it when the records hold it, else -1 (no usage of it here). */
  private columnForRead(task: number): number {
    const c = this.columns.columnIfAny(task);
    return c < this.width ? c : -1;
  }

  requests(e: number, task: number): number {
    const c = this.columnForRead(task);
    return c < 0 ? 0 : this.f64[e * this.rf + (RECORD_HEAD >>> 3) + 2 * c]!;
  }

  /** Exact duration sum of an entry's task. */
  duration(e: number, task: number): bigint {
    const c = this.columnForRead(task);
    if (c < 0) return 0n;
    const d = BigInt(this.f64[e * this.rf + (RECORD_HEAD >>> 3) + 2 * c + 1]!);
    const k = this.carry.get(e * this.width + c);
    return k === undefined ? d : d + k;
  }

  /** The duration sum when nothing was carried above 2^52, else -1. */
  durationNumber(e: number, task: number): number {
    const c = this.columnForRead(task);
    if (c < 0) return 0;
    if (this.carry.size !== 0 && this.carry.has(e * this.width + c)) return -1;
    return this.f64[e * this.rf + (RECORD_HEAD >>> 3) + 2 * c + 1]!;
  }

  key(e: number): Uint8Array {
    const len = this.i32[e * this.ri]!;
    if (len <= INLINE) return this.u8.subarray(e * this.rb + 8, e * this.rb + 8 + len);
    const at = this.i32[e * this.ri + 2]!;
    return this.overflow.subarray(at, at + len);
  }

  hash(e: number): number {
    return this.i32[e * this.ri + 1]! >>> 0;
  }

  /** An entry's user id as a string (all of them decoded on first use, fast when they are ASCII). */
  userId(e: number): string {
    if (this.ids === null || this.ids.length !== this.size) this.ids = this.decodeIds();
    return this.ids[e]!;
  }

  private decodeIds(): string[] {
    const ids = new Array<string>(this.size);
    for (let e = 0; e < this.size; e++) ids[e] = decodeKey(this.key(e));
    return ids;
  }

  /**
   * The entries in the byte order of their keys (the bill's order: UTF-8 byte order is code
   * point order), with no string or array per key, by the engine's native sort of 64-bit
   * integers. The keys' first INLINE bytes are first copied, in entry order, into a compact
   * array (SortKeys). Each entry's next four key bytes, from the prefix every key shares, are
   * packed with its number into one integer (each byte as 1-256, 0 past the key's end, so that
   * a key sorts before its extensions), and the integers sorted. Entries that tie on those
   * bytes form runs, which the next round sorts on their next four bytes, each run in place,
   * until no run is left (keys are distinct, so every tie ends within the longest key). At a
   * million ids a worker took 0.53-0.58 s with the byte-at-a-time radix sort this replaces.
   */
  byteOrder(): Int32Array {
    return byteOrderOf(new SortKeys([this]));
  }

  /** Entry e's key's length in bytes. */
  keyLength(e: number): number {
    return this.i32[e * this.ri]!;
  }

  /** Entry e's key: its length, and the bytes and offset it starts at (for SortKeys). */
  keyAt(e: number): [number, Uint8Array, number] {
    const len = this.i32[e * this.ri]!;
    if (len <= INLINE) return [len, this.u8, e * this.rb + 8];
    return [len, this.overflow, this.i32[e * this.ri + 2]!];
  }

  /**
   * The entries as plain buffers in the byte order of their keys (see byteOrder), for a merge
   * of sorted tables; `shared`: the records and long keys in SharedArrayBuffers, which every
   * worker can read without a copy (a bill rendered in key ranges, jobs/bill-ranges.ts).
   */
  sortedImage(shared = false): TableImage {
    return UserTable.sortedImageOf([this], shared ? 'shared' : 'private');
  }

  /**
   * The entries of `tables` (of one job's columns; no key in two of them) as one image in the
   * byte order of their keys (sortedImage): the sort of their keys together, then a copy of
   * each record from its table, into new buffers (`'shared'`: SharedArrayBuffers, see
   * sortedImage) or into a spill's memory (shared), over the last image written there. The
   * image is as wide as the widest table; a narrower one's records get zero counters beyond.
   */
  static sortedImageOf(tables: readonly UserTable[], into: ImageMemory = 'private'): TableImage {
    for (const t of tables) t.assertFlushed();
    const width = widest(tables);
    const rb = recordBytes(width);
    const ri = rb >>> 2;
    const order = byteOrderOf(new SortKeys(tables));
    const n = order.length;
    // Entries base[t] to base[t + 1] are those of tables[t]; their long keys' bytes move by overflowAt[t].
    const base = new Int32Array(tables.length + 1);
    const overflowAt = new Int32Array(tables.length + 1);
    for (let t = 0; t < tables.length; t++) {
      base[t + 1] = base[t]! + tables[t]!.size;
      overflowAt[t + 1] = overflowAt[t]! + tables[t]!.overflowEnd;
    }
    // Entry e goes to position[e] of the image.
    const position = new Int32Array(n);
    for (let i = 0; i < n; i++) position[order[i]!] = i;
    // Every byte of the records and long keys is written below (memory holds an earlier image's).
    const records = typeof into === 'string' ? newBytes(n * rb, into) : into.records(n * rb);
    // Copied as int32s (bit for bit, which float64s need not be: NaN payloads), with no subarray
    // object per record. Each table is read in its own order and its records written where they
    // go: reads in order, which the CPU fetches ahead, and writes at random, which need not wait
    // (half a million entries in 128 tables: 112-183 ms, against 231-286 ms when the records were
    // read in key order and written in order).
    const to = new Int32Array(records.buffer, 0, records.byteLength >>> 2);
    for (let t = 0; t < tables.length; t++) {
      const from = tables[t]!.i32;
      const size = tables[t]!.size;
      const start = base[t]!;
      const moved = overflowAt[t]!;
      const fi = tables[t]!.ri;
      for (let local = 0; local < size; local++) {
        const src = local * fi;
        const dst = position[start + local]! * ri;
        for (let j = 0; j < fi; j++) to[dst + j] = from[src + j]!;
        for (let j = fi; j < ri; j++) to[dst + j] = 0;
        if (to[dst]! > INLINE) to[dst + 2]! += moved;
      }
    }
    const carry: Array<[number, bigint]> = [];
    for (let t = 0; t < tables.length; t++) {
      const w = tables[t]!.width;
      for (const [k, v] of tables[t]!.carry) carry.push([position[base[t]! + Math.floor(k / w)]! * width + (k % w), v]);
    }
    // Shared like the records: a key range's worker reads the long keys without a copy of its own.
    const overflowBytes = overflowAt[tables.length]!;
    const overflow = typeof into === 'string' ? newBytes(overflowBytes, into) : into.longKeys(overflowBytes);
    for (let t = 0; t < tables.length; t++) overflow.set(tables[t]!.overflow.subarray(0, tables[t]!.overflowEnd), overflowAt[t]!);
    return { columns: width, size: n, records, overflow, carry, sorted: true };
  }

  /** Lets go of the caller's bytes last compared with (a key lookup keeps a view of them: a stage of 64 MiB, a read buffer). */
  forgetKeys(): void {
    this.keyWords.forget();
    this.overflowWords.forget();
  }

  /**
   * Drops the table's memory for the collector (never detached: scan/partial.ts "Detached
   * buffers"). The table is empty and unusable afterwards.
   */
  release(): void {
    if (this.released) return;
    this.forgetKeys();
    this.u8 = new Uint8Array(0);
    this.i32 = new Int32Array(0);
    this.f64 = new Float64Array(0);
    this.recordWords = new DataView(this.u8.buffer);
    this.size = 0;
    this.carry.clear();
    this.overflow = new Uint8Array(0);
    this.overflowEnd = 0;
    this.ids = null;
    // Any lookup now finds an empty slot, and insert() refuses.
    this.slots = new Int32Array(2);
    this.mask = 0;
    this.released = true;
  }

  /** The entries as plain buffers (copies), for transfer to another thread. */
  image(): TableImage {
    return UserTable.imageOf([this]);
  }

  /**
   * The entries of `tables` (of one job's columns) as one image, copies in table order,
   * unsorted, as wide as the widest table (sortedImageOf): a long key's offset moved to where
   * its table's long keys are in the image's, a carry's to its entry's new number. `shared`: the
   * records and long keys in SharedArrayBuffers, which another thread reads without a copy (a
   * worker's partitions handed to another, jobs/usage-exchange.ts).
   */
  static imageOf(tables: readonly UserTable[], shared = false): TableImage {
    for (const t of tables) t.assertFlushed();
    const width = widest(tables);
    const rb = recordBytes(width);
    const ri = rb >>> 2;
    const n = tables.reduce((sum, t) => sum + t.size, 0);
    const longBytes = tables.reduce((sum, t) => sum + t.overflowEnd, 0);
    const records = newBytes(n * rb, shared ? 'shared' : 'private');
    const overflow = newBytes(longBytes, shared ? 'shared' : 'private');
    const to = new Int32Array(records.buffer, 0, records.byteLength >>> 2);
    const carry: Array<[number, bigint]> = [];
    let base = 0;
    let longAt = 0;
    for (const t of tables) {
      if (t.width === width) {
        records.set(t.u8.subarray(0, t.size * t.rb), base * rb);
      } else {
        // Narrower: record by record, its further counters left zero (new memory).
        for (let e = 0; e < t.size; e++) for (let j = 0; j < t.ri; j++) to[(base + e) * ri + j] = t.i32[e * t.ri + j]!;
      }
      overflow.set(t.overflow.subarray(0, t.overflowEnd), longAt);
      if (longAt !== 0) for (let e = base; e < base + t.size; e++) if (to[e * ri]! > INLINE) to[e * ri + 2]! += longAt;
      for (const [k, v] of t.carry) carry.push([(base + Math.floor(k / t.width)) * width + (k % t.width), v]);
      base += t.size;
      longAt += t.overflowEnd;
    }
    return { columns: width, size: n, records, overflow, carry };
  }

  /** Adds an image's usage into this table. */
  merge(img: TableImage): void {
    UserTable.mergeInto(img, [this], 32);
  }

  /**
   * Adds an image's usage (its carries included) into `parts`: each entry's into the table
   * parts[hash >>> shift], or into parts[0] when there is one table.
   */
  static mergeInto(img: TableImage, parts: readonly UserTable[], shift: number): void {
    const T = img.columns;
    const rb = recordBytes(T);
    // Each table made as wide as the image before its first entry is looked up (widen() keeps entries' numbers only unbounded):
    // the one table here, each of many at its first entry (a table no entry goes to keeps its width and memory).
    const one = parts.length === 1 ? parts[0]! : null;
    one?.widen(T);
    const src = new DataView(img.records.buffer, img.records.byteOffset, img.records.byteLength);
    const entryOf = new Int32Array(img.size);
    // Each entry's table, for its carries (rare: sums above 2^52).
    const tableOf: UserTable[] | null = img.carry.length > 0 ? [] : null;
    // An image of partitions (PartitionedTable.takePartitions) holds each one's entries
    // together: each table is widened and warmed at its first entry (once, whatever the image's order).
    const met = one === null ? new Uint8Array(parts.length) : null;
    for (let e = 0; e < img.size; e++) {
      const at = e * rb;
      const len = src.getInt32(at, true);
      const hash = src.getInt32(at + 4, true) >>> 0;
      const table = one ?? parts[hash >>> shift]!;
      if (met !== null && met[hash >>> shift] === 0) {
        met[hash >>> shift] = 1;
        table.widen(T);
        table.warm();
      }
      const long = len > INLINE ? src.getInt32(at + 8, true) : 0;
      const target = len <= INLINE ? table.entry(img.records, at + 8, at + 8 + len, hash) : table.entry(img.overflow, long, long + len, hash);
      entryOf[e] = target;
      if (tableOf !== null) tableOf[e] = table;
      for (let c = 0; c < T; c++) {
        const r = src.getFloat64(at + RECORD_HEAD + 16 * c, true);
        const d = src.getFloat64(at + RECORD_HEAD + 16 * c + 8, true);
        if (r !== 0 || d !== 0) table.addAt(target, c, r, d);
      }
    }
    for (const [idx, amount] of img.carry) {
      const e = Math.floor(idx / T);
      tableOf![e]!.addCarry(entryOf[e]!, idx % T, amount);
    }
  }

  /**
   * A bounded table: when a new key would make it hold more than `bound.entries` entries, or
   * more than `bound.longKeyBytes` bytes of long keys (one long key is held whatever the bound),
   * its entries are handed to `spill` sorted by key bytes (sortedImage) and the table is emptied,
   * keeping its memory for the next entries. An entry number is valid until the next `entry` call.
   * The image is written into `memory`, which the next spill writes over: `spill` is done with
   * it when it returns (a caller keeping images copies them).
   */
  spillWhenFull(bound: TableBound, spill: (img: TableImage) => void, memory = new SpillMemory()): void {
    this.bound = bound;
    this.limit = boundEntries(bound, this.width);
    this.longLimit = bound.longKeyBytes;
    this.spill = spill;
    this.spillMemory = memory;
  }

  /** Bytes of the keys longer than INLINE_KEY_BYTES held. */
  get longKeyBytes(): number {
    return this.overflowEnd;
  }

  private assertFlushed(): void {
    if (this.pending !== 0) throw new Error('UserTable: lines added with addLater() were not flushed');
  }

  /**
   * Hands the entries to the spill function and empties the table. The lines addLater() holds
   * are added first: a spill takes every line given before it, whatever reached the bound (a
   * new user of addNow, such as a line the scanners' fast path gives up between theirs; a
   * widening). From flushBatch's own adds none waits any more.
   */
  private spillNow(): void {
    this.flushBatch();
    this.spill!(UserTable.sortedImageOf([this], this.spillMemory!));
    this.clear();
  }

  /** Empties the table, keeping its memory. */
  private clear(): void {
    this.assertFlushed();
    this.u8.fill(0, 0, this.size * this.rb);
    this.slots.fill(0);
    this.size = 0;
    this.overflowEnd = 0;
    this.carry.clear();
    this.ids = null;
  }

  /**
   * Adds every entry into `parts`: entry e's usage (its carry included) into the table
   * parts[hash(e) >>> shift] (mergeInto, reading this table's records in place). This table
   * is left as it was.
   */
  splitInto(parts: readonly UserTable[], shift: number): void {
    this.assertFlushed();
    const view: TableImage = {
      columns: this.width,
      size: this.size,
      records: this.u8.subarray(0, this.size * this.rb),
      overflow: this.overflow.subarray(0, this.overflowEnd),
      carry: [...this.carry.entries()],
    };
    UserTable.mergeInto(view, parts, shift);
  }

  private insert(bytes: Uint8Array, start: number, end: number, hash: number, slot: number): number {
    if (this.released) throw new Error('internal: UserTable used after release()');
    const len = end - start;
    if (this.size >= this.limit || (len > INLINE && this.size > 0 && this.overflowEnd + len > this.longLimit)) {
      this.spillNow();
      return this.entry(bytes, start, end, hash >>> 0);
    }
    if ((this.size + 1) * 4 > this.slots.length) {
      // At most half the slots are used: twice as many, and the entry's slot found again.
      this.rehash(this.slots.length * 2);
      return this.entry(bytes, start, end, hash >>> 0);
    }
    if ((this.size + 1) * this.rb > this.u8.length) this.growRecords();
    const e = this.size++;
    const r = e * this.ri;
    this.i32[r] = len;
    this.i32[r + 1] = hash;
    // The counters (zero) written before add() reads them: a record may start a page (writtenSlots).
    const f64 = this.f64;
    for (let k = e * this.rf + (RECORD_HEAD >>> 3), last = k + 2 * this.width; k < last; k++) f64[k] = 0;
    // The key is copied byte by byte: a subarray for set() made an object per new key, 40% of
    // an insert (a million new users: 0.61 s -> 0.37 s of inserts, growth included).
    let to: Uint8Array;
    let at: number;
    if (len <= INLINE) {
      to = this.u8;
      at = e * this.rb + 8;
    } else {
      if (this.overflowEnd + len > this.overflow.length) {
        // Twice as many bytes, but a bounded table's no more than its bound (which it spills at).
        const o = new Uint8Array(Math.max(Math.min(Math.max(this.overflow.length * 2, 4096), this.longLimit), this.overflowEnd + len));
        o.set(this.overflow.subarray(0, this.overflowEnd));
        this.overflow = o;
      }
      to = this.overflow;
      at = this.overflowEnd;
      this.i32[r + 2] = at;
      this.overflowEnd += len;
    }
    for (let j = start; j < end; j++) to[at++] = bytes[j]!;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = e + 1;
    return e;
  }

  /** Room for more records: twice as many, or for a bounded table at once room for its bound. */
  private growRecords(): void {
    // A bounded table takes room for its bound at once, so that no later growth copies the
    // records (at a million users the copies were a tenth of a worker's scan): a large zeroed
    // buffer is mapped lazily, its memory committed only as its pages are first written.
    const entries = Math.max(2 * this.size, Number.isFinite(this.limit) ? this.limit : 0, 16);
    const buf = new ArrayBuffer(entries * this.rb);
    const u8 = new Uint8Array(buf);
    u8.set(this.u8.subarray(0, this.size * this.rb));
    this.u8 = u8;
    this.recordWords = new DataView(buf);
    this.i32 = new Int32Array(buf);
    this.f64 = new Float64Array(buf);
  }

  /** Rebuilds the slots (length: twice the slot count) from the records' hashes. */
  private rehash(length: number): void {
    const slots = writtenSlots(length);
    const mask = (length >>> 1) - 1;
    for (let e = 0; e < this.size; e++) {
      const h = this.i32[e * this.ri + 1]!;
      let s = h & mask;
      while (slots[2 * s + 1] !== 0) s = (s + 1) & mask;
      slots[2 * s] = h;
      slots[2 * s + 1] = e + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** The widest of tables' widths. */
function widest(tables: readonly UserTable[]): number {
  return tables.reduce((w, t) => Math.max(w, t.width), 0);
}

/** UserTable.byteOrder over the entries SortKeys holds. */
function byteOrderOf(keys: SortKeys): Int32Array {
  const n = keys.count;
  const order = new Int32Array(n);
  for (let e = 0; e < n; e++) order[e] = e;
  if (n < 2) return order;
  if (n > PACKED_MAX_ENTRIES) throw new Error(`UserTable: ${n} entries are more than byteOrder sorts (${PACKED_MAX_ENTRIES})`);
  const packed = new BigUint64Array(n);
  const words = new Uint32Array(packed.buffer);
  // Runs still to sort, as [lo, hi) pairs: first the whole table; all keys of a run are equal before `depth`.
  let runs = [0, n];
  for (let depth = keys.commonPrefix(); runs.length > 0; depth += 4) {
    // Distinct keys differ within the longest one: a tie past it would be an endless loop.
    if (depth > keys.longest) throw new Error('internal: UserTable.byteOrder found equal keys');
    let touched = 0;
    for (let r = 0; r < runs.length; r += 2) {
      const end = runs[r + 1]!;
      for (let i = runs[r]!; i < end; i++) {
        // After the first round the entries are in key order, not entry order, and their keys'
        // bytes are read at random: in rounds of GATHER independent loads first, whose cache
        // misses overlap, then again, from the cache.
        if (i % GATHER === 0) for (let k = i; k < i + GATHER && k < end; k++) touched += keys.touch(order[k]!, depth);
        const e = order[i]!;
        const b0 = keys.byteAt(e, depth) + 1;
        const b1 = keys.byteAt(e, depth + 1) + 1;
        const b2 = keys.byteAt(e, depth + 2) + 1;
        const b3 = keys.byteAt(e, depth + 3) + 1;
        // (b0 b1 b2 b3: 9 bits each, then e: 27 bits): words[2i] the low 32 bits, words[2i + 1] the high.
        words[2 * i] = (((b3 & 31) << 27) | e) >>> 0;
        words[2 * i + 1] = ((b0 << 22) | (b1 << 13) | (b2 << 4) | (b3 >>> 5)) >>> 0;
      }
    }
    keys.touched = touched;
    const next: number[] = [];
    for (let r = 0; r < runs.length; r += 2) {
      const lo = runs[r]!;
      const hi = runs[r + 1]!;
      packed.subarray(lo, hi).sort();
      let start = lo;
      for (let i = lo; i < hi; i++) {
        order[i] = words[2 * i]! & ENTRY_MASK;
        if (i > lo && (words[2 * i + 1] !== words[2 * i - 1] || words[2 * i]! >>> 27 !== words[2 * i - 2]! >>> 27)) {
          if (i - start > 1) next.push(start, i);
          start = i;
        }
      }
      if (hi - start > 1) next.push(start, hi);
    }
    runs = next;
  }
  return order;
}

/** Entries byteOrder packs with their keys' bytes into 64-bit integers: their numbers take 27 bits. */
const PACKED_MAX_ENTRIES = 1 << 27;
const ENTRY_MASK = PACKED_MAX_ENTRIES - 1;

/**
 * Tables' keys as their sort reads them (UserTable.byteOrder, sortedImageOf), the entries
 * numbered through the tables in turn: each key's first INLINE bytes in a compact array by
 * entry number, its length beside, a longer key's further bytes copied after each other.
 */
class SortKeys {
  private readonly bytes: Uint8Array;
  private readonly lengths: Int32Array;
  /**
   * The bytes of the keys longer than INLINE past their first INLINE, key after key; entry e's
   * start at tailAt[e]: two typed arrays, where a map held an entry and a two-element array per
   * long key (a million of them in a sort of a table of UUIDs).
   */
  private readonly tails: Uint8Array;
  private readonly tailAt: Int32Array;
  /** The longest key's length. */
  readonly longest: number;
  readonly count: number;
  /** What the touching loads of byteOrderOf read, kept so that they are not optimized away. */
  touched = 0;

  constructor(tables: readonly UserTable[]) {
    const n = (this.count = tables.reduce((sum, t) => sum + t.size, 0));
    const out = (this.bytes = new Uint8Array(n * INLINE));
    this.lengths = new Int32Array(n);
    let tailBytes = 0;
    for (const table of tables) for (let local = 0; local < table.size; local++) tailBytes += Math.max(0, table.keyLength(local) - INLINE);
    this.tails = new Uint8Array(tailBytes);
    this.tailAt = new Int32Array(tailBytes > 0 ? n : 0);
    let tail = 0;
    let e = 0;
    for (const table of tables) {
      for (let local = 0; local < table.size; local++, e++) {
        const [len, src, at] = table.keyAt(local);
        this.lengths[e] = len;
        const m = len < INLINE ? len : INLINE;
        const to = e * INLINE;
        for (let j = 0; j < m; j++) out[to + j] = src[at + j]!;
        if (len > INLINE) {
          this.tailAt[e] = tail;
          for (let j = INLINE; j < len; j++) this.tails[tail++] = src[at + j]!;
        }
      }
    }
    this.longest = this.lengths.reduce((m, len) => (len > m ? len : m), 0);
  }

  /** How many leading bytes every key shares (n >= 1 keys). */
  commonPrefix(): number {
    let cp = this.lengths[0]!;
    for (let e = 1; e < this.lengths.length && cp > 0; e++) {
      let d = 0;
      while (d < cp && this.byteAt(e, d) === this.byteAt(0, d)) d++;
      cp = d;
    }
    return cp;
  }

  /** Loads what byteAt(e, depth) reads (their sum, to be kept). */
  touch(e: number, depth: number): number {
    return this.lengths[e]! + (depth < INLINE ? this.bytes[e * INLINE + depth]! : 0);
  }

  /** Byte `depth` of entry e's key, or -1 past its end. */
  byteAt(e: number, depth: number): number {
    if (depth >= this.lengths[e]!) return -1;
    if (depth < INLINE) return this.bytes[e * INLINE + depth]!;
    return this.tails[this.tailAt[e]! + depth - INLINE]!;
  }
}
