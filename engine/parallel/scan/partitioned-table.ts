/**
 * A worker's usage for a job, which stays fast as the users grow past what the CPU's caches
 * hold: one UserTable while it is small, then 256 UserTables, a user in the one named by the
 * top bits of its key's hash (a partitioned aggregation, as a MapReduce combiner does it).
 *
 * With a million users in one table nearly every line's lookup misses the caches and the TLB
 * (about 300 ns a line, most of a worker's scan). Partitioned, a line is first staged: its
 * hash, task, duration and key bytes are copied into its partition's stage, written in order.
 * A full stage is added into its partition's table, which is small (a 256th of the users):
 * its lookups find the table's memory close together, and a user met on several lines of the
 * stage costs one miss. The adds are the same adds, in another order (sums do not depend on
 * it), so the usage is the one a single table holds; sortedImage() sorts the partitions'
 * entries together (UserTable.sortedImageOf).
 *
 * At the flush the workers' partitioned tables trade partitions (takePartitions, merge;
 * jobs/usage-exchange.ts), each keeping a block of them with every worker's usage of it.
 *
 * Bounded like a UserTable (spillWhenFull): when the partitions' tables hold the bound's
 * users, or its bytes of long keys, they are spilled as one sorted run, and the worker goes on
 * with one bounded table, as below `partitionFrom` (see unpartition). Stages take 64 MiB more
 * memory per worker, only once the worker has `partitionFrom` users.
 */
import { WordReader } from '../../core/formats/words.js';
import { SpillMemory } from './spill-memory.js';
import { INLINE_KEY_BYTES, UserTable, boundEntries, recordBytes, type TableBound, type TableImage, type UsageSink } from './user-table.js';
import { TaskColumns } from './task-columns.js';

/** How a table is partitioned and staged (tests make both small). */
export interface PartitionShape {
  /** Partitions: the top `bits` bits of a key's hash name its table. */
  readonly bits: number;
  /** Lines a partition's stage holds before they are added into its table. */
  readonly stageLines: number;
}

/**
 * 256 partitions (at a million users, about 4,000 per table: 0.5 MB of records), stages of
 * 8,192 lines: 64 MiB of stages per worker. Stages of 4,096 lines took 48 MiB less per worker
 * and made the gain smaller (bench/parallel-history.md, "Many users: partitioned tables").
 */
const SHAPE: PartitionShape = { bits: 8, stageLines: 8192 };
/** Key bytes a stage holds per line (a stage whose key bytes are full is added into its table too). */
const STAGE_KEY_BYTES_PER_LINE = 16;
/** The longest key a stage holds: its length shares an int32 with the task (user ids are at most 128 bytes). */
const MAX_STAGED_KEY = 0xffff;

/**
 * Users at which a worker's table is split into partitions: below, it stays in the CPU's
 * caches and one table is faster (bench/parallel-history.md, "Many users: partitioned tables").
 */
export const PARTITION_FROM = 1 << 15;

export class PartitionedTable implements UsageSink {
  /** The one table: below partitionFrom users, and again once the bound was reached partitioned; null while partitioned. */
  private direct: UserTable | null;
  private parts: UserTable[] = [];
  /** Entries the partitions' tables hold, and their long keys' bytes. */
  private held = 0;
  private heldLong = 0;
  /** Where the tables are spilled (spillWhenFull); none by default. */
  private bound: TableBound = { entries: Infinity, longKeyBytes: Infinity };
  /** True once the bound was reached partitioned (unpartition). */
  private unpartitioned = false;
  private spill: ((img: TableImage) => void) | null = null;
  /** Where the spills' sorted images are written, the partitions' and then the one table's (UserTable.spillWhenFull). */
  private readonly spillMemory = new SpillMemory();
  /** The bounded partitions' records (newParts), then the one table's after the bound was reached (unpartition). */
  private slab: ArrayBuffer | null = null;
  // The stages (one buffer, made at partition()): partition p's lines at [p * stageLines, + lines[p]) and key bytes at [p * stageKeyBytes, keyEnd[p]).
  /** A staged line's 16 bytes, line q at [16q, 16q + 16): hash (int32 4q), task and key length (int32 4q + 1), duration (float64 2q + 1). */
  private lineWords = new Int32Array(0);
  private lineNumbers = new Float64Array(0);
  private keys = new Uint8Array(0);
  private stageKeyWords = new DataView(new ArrayBuffer(0));
  private readonly keyWords = new WordReader();
  private readonly partCount: number;
  private readonly shift: number;
  private readonly stageLines: number;
  private readonly stageKeyBytes: number;
  private readonly lines: Int32Array;
  private readonly keyEnd: Int32Array;

  /** The job's columns (UserTable). */
  readonly columns: TaskColumns;

  constructor(
    /** The job's columns; a number: that many tasks, each in its own column (TaskColumns.everyTask). */
    columns: TaskColumns | number,
    private readonly capacity = 1024,
    /** Users at which the table is partitioned (tests: 0, partitioned from the start). */
    private readonly partitionFrom = PARTITION_FROM,
    shape: PartitionShape = SHAPE,
  ) {
    // A shift by 32 is a shift by 0 in JavaScript: at least one bit.
    if (shape.bits < 1 || shape.bits > 16) throw new Error(`internal: PartitionedTable of ${shape.bits} bits`);
    this.partCount = 1 << shape.bits;
    this.shift = 32 - shape.bits;
    this.stageLines = shape.stageLines;
    this.stageKeyBytes = Math.max(MAX_STAGED_KEY, STAGE_KEY_BYTES_PER_LINE * shape.stageLines);
    this.lines = new Int32Array(this.partCount);
    this.keyEnd = new Int32Array(this.partCount);
    this.columns = TaskColumns.given(columns);
    this.direct = new UserTable(this.columns, capacity);
    if (partitionFrom <= 0 && this.partitionable()) this.partition();
  }

  /** See UserTable.spillWhenFull; partitioned, the tables are spilled together. */
  spillWhenFull(bound: TableBound, spill: (img: TableImage) => void): void {
    this.bound = bound;
    this.spill = spill;
    this.direct?.spillWhenFull(bound, spill, this.spillMemory);
  }

  addLater(bytes: Uint8Array, start: number, end: number, h: number, task: number, durationMs: number): void {
    // Kept small, so that a scanner's loop inlines it (and the one table's addLater) below partitionFrom users.
    const d = this.direct;
    if (d !== null) d.addLater(bytes, start, end, h, task, durationMs);
    else this.stage(bytes, start, end, h, task, durationMs);
  }

  /** addLater, partitioned: the line into its partition's stage. */
  private stage(bytes: Uint8Array, start: number, end: number, h: number, task: number, durationMs: number): void {
    const len = end - start;
    // The stage keeps a key's length in 16 bits (user ids are at most 128 bytes).
    if (len > MAX_STAGED_KEY) return this.addNow(bytes, start, end, h, task, 1, durationMs);
    const p = h >>> this.shift;
    let n = this.lines[p]!;
    let k = this.keyEnd[p]!;
    if (n === this.stageLines || k + len > (p + 1) * this.stageKeyBytes) {
      this.addStage(p);
      // The bound was reached: one table from now on.
      const d = this.direct as UserTable | null;
      if (d !== null) return d.addLater(bytes, start, end, h, task, durationMs);
      n = 0;
      k = p * this.stageKeyBytes;
    }
    const q = p * this.stageLines + n;
    const w = this.lineWords;
    w[4 * q] = h;
    w[4 * q + 1] = (task << 16) | len;
    this.lineNumbers[2 * q + 1] = durationMs;
    if (end + 3 <= bytes.length && k + len + 3 <= (p + 1) * this.stageKeyBytes) {
      // By words (core/formats/words.ts): up to three bytes past the key are read from its line and
      // written into the stage's room, where the next key's bytes go.
      const from = this.keyWords.of(bytes);
      const to = this.stageKeyWords;
      for (let o = 0; o < len; o += 4) to.setInt32(k + o, from.getInt32(start + o, true), true);
      k += len;
    } else {
      const keys = this.keys;
      for (let j = start; j < end; j++) keys[k++] = bytes[j]!;
    }
    this.keyEnd[p] = k;
    this.lines[p] = n + 1;
  }

  flushBatch(): void {
    const d = this.direct;
    if (d === null) return; // staged lines hold copies of their keys
    d.flushBatch();
    if (d.size >= this.partitionFrom && this.partitionable()) this.partition();
  }

  addNow(bytes: Uint8Array, start: number, end: number, h: number, task: number, requests: number, durationMs: number): void {
    if (this.direct !== null) {
      this.direct.addNow(bytes, start, end, h, task, requests, durationMs);
      return;
    }
    const t = this.parts[h >>> this.shift]!;
    const before = t.size;
    t.addNow(bytes, start, end, h, task, requests, durationMs);
    if (t.size !== before && this.added(end - start)) this.unpartition(-1, 0, 0);
  }

  /** Adds an exact duration sum of any size (UserTable.addBig) for the key bytes[start, end) now. */
  addBigNow(bytes: Uint8Array, start: number, end: number, h: number, task: number, requests: number, durationMs: bigint): void {
    const t = this.direct ?? this.parts[h >>> this.shift]!;
    // The column before the entry: a widening can spill the one table's entries (UserTable.add).
    t.column(task);
    const before = t.size;
    t.addBig(t.entry(bytes, start, end, h >>> 0), task, requests, durationMs);
    if (this.direct === null && t.size !== before && this.added(end - start)) this.unpartition(-1, 0, 0);
  }

  /**
   * The usage, sorted by key bytes (UserTable.sortedImage); staged lines are added first.
   * Partitioned, the tables are released on the way: the table is unusable afterwards. Once
   * the table has spilled, the image is written where the spills' were (SpillMemory, shared
   * whatever `shared` says): the table spills no more.
   */
  sortedImage(shared = false): TableImage {
    this.addStages();
    // After a spill, into the spills' memory (shared), which no later spill writes over.
    const into = this.spillMemory.used ? this.spillMemory : shared ? 'shared' : 'private';
    if (this.direct !== null) return UserTable.sortedImageOf([this.direct], into);
    const image = UserTable.sortedImageOf(this.parts, into);
    this.releaseParts();
    this.releaseStages();
    return image;
  }

  /** Adds every staged line into its partition's table (or, once the bound is reached, into the one table). */
  addStages(): void {
    for (let p = 0; p < this.partCount && this.direct === null; p++) this.addStage(p);
  }

  /** True while the usage is in the partitions' tables (not in the one table). */
  get partitioned(): boolean {
    return this.direct === null;
  }

  /** How many partitions a partitioned table has. */
  get partitions(): number {
    return this.partCount;
  }

  /**
   * Partitions [from, to) handed over (jobs/usage-exchange.ts): their usage as one unsorted
   * image in shared memory (UserTable.imageOf), and their tables given back; a key of theirs
   * added later throws. Partitioned only, with every stage added (addStages).
   */
  takePartitions(from: number, to: number): TableImage {
    this.assertStaged();
    const parts = this.parts.slice(from, to);
    // An empty block (more workers than partitions) hands over nothing.
    if (parts.length === 0) return { columns: 0, size: 0, records: new Uint8Array(0), overflow: new Uint8Array(0), carry: [] };
    const image = UserTable.imageOf(parts, true);
    for (const t of parts) t.release();
    return image;
  }

  /** Adds another table's usage of this table's partitions (takePartitions' image) into them. */
  merge(img: TableImage): void {
    this.assertStaged();
    UserTable.mergeInto(img, this.parts, this.shift);
  }

  private assertStaged(): void {
    if (this.direct !== null) throw new Error('internal: PartitionedTable is not partitioned');
    if (this.lines.some((n) => n !== 0)) throw new Error('internal: PartitionedTable has staged lines');
  }

  /** Drops the memory for the collector (UserTable.release); the table is unusable afterwards. */
  release(): void {
    this.direct?.release();
    this.releaseParts();
    this.releaseStages();
  }

  private releaseStages(): void {
    this.lineWords = new Int32Array(0);
    this.lineNumbers = new Float64Array(0);
    this.keys = new Uint8Array(0);
    this.stageKeyWords = new DataView(new ArrayBuffer(0));
  }

  /** Whether the one table may be split: not when it holds the bound's users, nor ever again once partitions reached the bound. */
  private partitionable(): boolean {
    // A task index and a key length share an int32 in a stage.
    // The bound at the columns the job has numbered, as added() reads it.
    return !this.unpartitioned && this.columns.tasks < 1 << 15 && this.direct!.size < boundEntries(this.bound, this.columns.count) && this.direct!.longKeyBytes < this.bound.longKeyBytes;
  }

  /** Splits the one table into the partitions' tables and makes the stages. */
  private partition(): void {
    const d = this.direct!;
    d.flushBatch();
    this.parts = this.newParts();
    d.splitInto(this.parts, this.shift);
    this.held = d.size;
    this.heldLong = d.longKeyBytes;
    d.release();
    this.direct = null;
    const lines = this.partCount * this.stageLines;
    const memory = new ArrayBuffer(16 * lines + this.partCount * this.stageKeyBytes);
    this.lineWords = new Int32Array(memory, 0, 4 * lines);
    this.lineNumbers = new Float64Array(memory, 0, 2 * lines);
    this.keys = new Uint8Array(memory, 16 * lines, this.partCount * this.stageKeyBytes);
    this.stageKeyWords = new DataView(memory, 16 * lines, this.partCount * this.stageKeyBytes);
    for (let p = 0; p < this.partCount; p++) this.keyEnd[p] = p * this.stageKeyBytes;
  }

  /**
   * Adds partition p's staged lines, from line `from` (its key at `keyAt`), into its table, or
   * into the one table once the bound was reached (unpartition), and empties its stage.
   */
  private addStage(p: number, from = p * this.stageLines, keyAt = p * this.stageKeyBytes): void {
    const partitioned = this.direct === null;
    const t = this.direct ?? this.parts[p]!;
    const w = this.lineWords;
    const numbers = this.lineNumbers;
    const keys = this.keys;
    let k = keyAt;
    const end = p * this.stageLines + this.lines[p]!;
    // The other partitions' adds since this one's last stage have pushed its table out of the caches.
    if (partitioned && end > from) t.warm();
    for (let q = from; q < end; q++) {
      const x = w[4 * q + 1]!;
      const len = x & 0xffff;
      const before = t.size;
      // The column before the entry: a widening can spill the one table's entries (UserTable.add).
      const c = t.column(x >>> 16);
      t.addAt(t.entry(keys, k, k + len, w[4 * q]! >>> 0), c, 1, numbers[2 * q + 1]!);
      k += len;
      if (partitioned && t.size !== before && this.added(len)) return this.unpartition(p, q + 1, k);
    }
    this.lines[p] = 0;
    this.keyEnd[p] = p * this.stageKeyBytes;
  }

  /** A new entry, of a key of `keyLength` bytes, in a partition's table; true when the tables hold the bound's users or long keys' bytes. */
  private added(keyLength: number): boolean {
    if (keyLength > INLINE_KEY_BYTES) this.heldLong += keyLength;
    // As wide as any partition's table may be (the columns the job has numbered).
    return ++this.held >= boundEntries(this.bound, this.columns.count) || this.heldLong >= this.bound.longKeyBytes;
  }

  /**
   * The bound is reached: the partitions' tables are spilled as one sorted run and given back,
   * and the worker goes on with one bounded table (which spills on its own), into which every
   * staged line not yet added goes: from line `from` (its key at `keyAt`) of partition p's stage
   * (p < 0: none), then the other stages.
   *
   * Past its bound a worker spends its time spilling and merging runs, where partitions gained
   * nothing (10M users: 42.3 s against 42.9 s) and cost memory: filled a stage at a time, the
   * tables grew to about twice their share of the bound between spills (at 10M users a worker's
   * records went from 117 MB in one table to 258 MB in 256).
   */
  private unpartition(p: number, from: number, keyAt: number): void {
    this.spill!(UserTable.sortedImageOf(this.parts, this.spillMemory));
    // The one table's records take the partitions' memory: it is neither given back nor taken
    // again while the worker scans on (a table's memory freed in a task comes back only after it).
    const slab = this.slab;
    this.slab = null;
    this.releaseParts();
    const width = this.columns.count;
    const bound = boundEntries(this.bound, width) * recordBytes(width);
    let d: UserTable;
    if (slab !== null && slab.byteLength >= bound) {
      const records = new Uint8Array(slab, 0, bound);
      records.fill(0);
      d = new UserTable(this.columns, this.capacity, undefined, records);
      this.slab = slab;
    } else {
      d = new UserTable(this.columns, this.capacity);
    }
    this.direct = d;
    d.spillWhenFull(this.bound, this.spill!, this.spillMemory);
    this.unpartitioned = true;
    if (p >= 0) this.addStage(p, from, keyAt);
    for (let r = 0; r < this.partCount; r++) if (r !== p) this.addStage(r);
    // The one table's lookups read the stages last: it would keep them alive through the flush's sort.
    d.forgetKeys();
    this.releaseStages();
  }

  /**
   * The partitions' tables. Bounded, their records are slices of one buffer with room for
   * twice each one's share of the bound: filled a stage at a time, a table holds up to about
   * twice its share before the bound is reached. One buffer of that size is mapped lazily
   * (only the pages written take memory) and is dropped whole (sortedImage) or kept for the
   * one table (unpartition);
   * the tables' own buffers, of a megabyte each, were kept by the allocator once freed (at 10M
   * users the run's peak RSS went from 795 to 1,348 MiB).
   */
  private newParts(): UserTable[] {
    if (!Number.isFinite(this.bound.entries)) {
      const capacity = Math.max(16, Math.ceil((2 * this.partitionFrom) / this.partCount));
      return Array.from({ length: this.partCount }, () => new UserTable(this.columns, capacity));
    }
    // As wide as the columns numbered now (a table widened later leaves its slice for memory of its own: UserTable.widen).
    const width = this.columns.count;
    const room = Math.ceil((2 * boundEntries(this.bound, width)) / this.partCount) + 16;
    const rb = recordBytes(width);
    const slab = (this.slab = new ArrayBuffer(this.partCount * room * rb));
    const capacity = Math.max(16, Math.ceil((2 * this.partitionFrom) / this.partCount));
    return Array.from({ length: this.partCount }, (_, p) => new UserTable(this.columns, capacity, undefined, new Uint8Array(slab, p * room * rb, room * rb)));
  }

  /** Drops the partitions' tables' memory for the collector. */
  private releaseParts(): void {
    for (const t of this.parts) t.release();
    this.parts = [];
    this.held = 0;
    this.heldLong = 0;
    this.slab = null;
  }
}
