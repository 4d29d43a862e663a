/**
 * The billing job's shuffle for duplicate deliveries (SPEC "Duplicate deliveries"): a map
 * task emits every valid record that has an identity (a request id, or with `--dedupe line`
 * the line) into one of PARTITIONS partitions by a hash of its key, with its position (shard
 * index, offset: input order) and its fields (engine/core/dedupe/records-codec.ts); the main
 * thread keeps each task's part of each partition, in memory up to a budget and in a file per
 * partition in a temporary directory beyond it; then one reduce task per partition reads its
 * parts in task order (which is input order) and keeps the first record of each key.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { makeTempDir } from '../../core/temp-dir.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ValidRecord } from '../../core/dedupe/dedupe.js';
import { fingerprint, fingerprintBytes, writeFingerprint } from '../../core/dedupe/dedupe.js';
import type { DedupeSink } from '../../core/dedupe/seen.js';
import { hashKey, hashKeyAscii, IN_WINDOW, RECORD_HEAD_BYTES, RecordBuffer, type RecordSegment } from '../../core/dedupe/records-codec.js';
import type { IdentifiedSink } from '../scan/fast-lines.js';

/** Partitions of the shuffle: one reduce task each. */
export const PARTITIONS = 64;
/** Largest shard of a run with dedupe: a map task's shuffle output (about 0.6 of its bytes for JSON lines) is held whole in the worker and then on the main thread. */
export const DEDUPE_SHARD_BYTES = 16 << 20;

/** Worker side: one map task's records, by partition (from the exact path, or as bytes from a fast path). */
export class ShuffleEmitter implements DedupeSink, IdentifiedSink {
  /** The shard being read (its index orders records across shards and files). */
  shard = 0;
  private readonly parts: RecordBuffer[] = [];
  private bytes = 0;

  /**
   * Empty, for the worker's next map task: its partitions' buffers keep their room (about
   * a 64th of a task's output each), where new ones for each task were left to the
   * collector at each task's end.
   */
  reset(): this {
    for (const b of this.parts) if (b !== undefined) b.len = 0;
    this.bytes = 0;
    this.shard = 0;
    return this;
  }

  record(key: string, offset: number, rec: ValidRecord): void {
    const p = hashKey(key, 0) % PARTITIONS;
    const b = (this.parts[p] ??= new RecordBuffer(4096));
    const before = b.len;
    b.add(rec.inWindow ? IN_WINDOW : 0, this.shard, offset, key, fingerprint(rec));
    this.bytes += b.len - before;
  }

  identified(b: Uint8Array, ks: number, ke: number, us: number, ue: number, task: number, ts: number, te: number, ss: number, se: number, ds: number, de: number, inWindow: boolean, offset: number): void {
    const p = hashKeyAscii(b, ks, ke, 0) % PARTITIONS;
    const r = (this.parts[p] ??= new RecordBuffer(4096));
    const before = r.len;
    r.reserve(RECORD_HEAD_BYTES + (ke - ks) + 4 + fingerprintBytes(ue, us, te, ts, se, ss, de, ds));
    const fp = r.addHead(inWindow ? IN_WINDOW : 0, this.shard, offset, b, ks, ke);
    r.endRecord(fp, writeFingerprint(r.buf, fp, b, us, ue, task, ts, te, ss, se, ds, de));
    this.bytes += r.len - before;
  }

  /**
   * The task's records, partition after partition, and where each partition's part starts
   * (PARTITIONS + 1 entries). The records lie in shared memory (`out`, the worker's): the
   * main thread gets them without a copy, and without a transfer, which would slow the
   * worker's later scans (scan/partial.ts "Detached buffers").
   */
  take(out: ShuffleOutput): ShuffleParts {
    const { data, done } = out.next(this.bytes);
    const index = new Int32Array(PARTITIONS + 1);
    let at = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      index[p] = at;
      const b = this.parts[p];
      if (b === undefined) continue;
      data.set(b.buf.subarray(0, b.len), at);
      at += b.len;
    }
    index[PARTITIONS] = at;
    return { data, index, done };
  }
}

/** A map task's shuffle output as the main thread gets it (ShuffleEmitter.take). */
export interface ShuffleParts {
  readonly data: Uint8Array;
  readonly index: Int32Array;
  /** Set to 1 by the main thread once it holds its own copy of `data` or has written it out (ShuffleStore.add). */
  readonly done: Int32Array;
}

/** Blocks of shuffle output a worker keeps for its next map tasks (ShuffleOutput). */
const OUTPUT_BLOCKS = 4;

interface OutputBlock {
  readonly memory: SharedArrayBuffer;
  readonly done: Int32Array;
  /** When it was last handed out (ShuffleOutput's count). */
  handed: number;
}

/**
 * A worker's shared memory for its map tasks' shuffle output: up to OUTPUT_BLOCKS blocks,
 * each used again by a later task once the main thread has said it is done with it
 * (ShuffleParts.done). A block made anew for each task (about 10 MB at 16 MiB of JSON lines)
 * stays alive until the worker's next garbage collection, and a worker that scans bytes into
 * buffers it keeps hardly ever collects: with the emitter's buffers kept between tasks and a
 * new block per task, the bench's 1 GiB dedupe run peaked at 713-738 MiB of RSS, against
 * 268-304 MiB with the blocks used again (436-536 MiB before either, when each task's new
 * emitter buffers made the worker collect now and then). When every block is still the main
 * thread's (it is behind, writing spill files), the map task waits for the oldest, up to
 * `waitMs`, before it makes a block it does not keep: the map is held back rather than
 * filling memory.
 */
export class ShuffleOutput {
  private readonly blocks: OutputBlock[] = [];
  private handed = 0;

  constructor(private readonly waitMs = 2000) {}

  /** Room for `bytes` of output, and the flag the main thread sets when it is done with it. */
  next(bytes: number): { data: Uint8Array; done: Int32Array } {
    let block = this.free(bytes);
    if (block === undefined && this.blocks.length === OUTPUT_BLOCKS && !this.blocks.some(isDone)) {
      const oldest = this.blocks.reduce((a, b) => (a.handed <= b.handed ? a : b));
      Atomics.wait(oldest.done, 0, 0, this.waitMs);
      block = this.free(bytes);
    }
    if (block === undefined) {
      // Room for a next task's output a little larger than this one's; it replaces a free
      // block too small, or is kept while there is room, else left to the collector.
      block = { memory: new SharedArrayBuffer(Math.ceil(bytes * 1.25)), done: new Int32Array(new SharedArrayBuffer(4)), handed: 0 };
      const free = this.blocks.findIndex(isDone);
      if (free >= 0) this.blocks[free] = block;
      else if (this.blocks.length < OUTPUT_BLOCKS) this.blocks.push(block);
    }
    block.handed = ++this.handed;
    Atomics.store(block.done, 0, 0);
    return { data: new Uint8Array(block.memory, 0, bytes), done: block.done };
  }

  private free(bytes: number): OutputBlock | undefined {
    return this.blocks.find((b) => isDone(b) && b.memory.byteLength >= bytes);
  }
}

function isDone(b: OutputBlock): boolean {
  return Atomics.load(b.done, 0) === 1;
}

interface Part {
  readonly task: number;
  segment: RecordSegment;
}

/** Main-thread side: every task's part of every partition, held in memory up to `memoryBytes`, spilled to files beyond. */
export class ShuffleStore {
  private readonly parts: Part[][] = Array.from({ length: PARTITIONS }, () => []);
  private held = 0;
  private dir: string | null = null;
  private readonly fds: number[] = [];
  private readonly sizes: number[] = [];
  /** Bytes written to spill files (for the run's log). */
  spilledBytes = 0;

  constructor(
    private readonly memoryBytes: number,
    private readonly tmpParent: string = tmpdir(),
  ) {}

  /**
   * A task's emitted records (`index` as ShuffleEmitter.take gives it): kept in memory while
   * the budget holds them, else, with every part held so far, written to the partitions' files
   * from where they lie (no copy is made of what is spilled).
   */
  add(task: number, { data, index, done }: ShuffleParts): void {
    this.keep(task, data, index);
    Atomics.store(done, 0, 1);
    Atomics.notify(done, 0);
  }

  private keep(task: number, data: Uint8Array, index: Int32Array): void {
    const spilling = this.held + data.byteLength > this.memoryBytes;
    if (spilling) this.spill();
    else this.held += data.byteLength;
    for (let p = 0; p < PARTITIONS; p++) {
      const from = index[p]!;
      const to = index[p + 1]!;
      if (to === from) continue;
      // Held: a buffer of its own per part, transferred to its reduce task alone.
      this.parts[p]!.push({ task, segment: spilling ? this.write(p, data.subarray(from, to)) : { buf: data.slice(from, to) } });
    }
  }

  /** Writes every part held in memory to its partition's file. */
  private spill(): void {
    for (let p = 0; p < PARTITIONS; p++) {
      for (const part of this.parts[p]!) {
        const s = part.segment;
        if ('buf' in s) part.segment = this.write(p, s.buf);
      }
    }
    this.held = 0;
  }

  /** Appends a part's bytes to its partition's file: where they lie there. */
  private write(p: number, buf: Uint8Array): RecordSegment {
    this.dir ??= makeTempDir('mr-shuffle-', 'request ids shuffled between workers', this.tmpParent);
    const file = join(this.dir, `p${p}.bin`);
    if (this.fds[p] === undefined) {
      this.fds[p] = openSync(file, 'w', 0o600);
      this.sizes[p] = 0;
    }
    const pos = this.sizes[p]!;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(this.fds[p]!, buf, off, buf.byteLength - off);
    this.sizes[p] = pos + buf.byteLength;
    this.spilledBytes += buf.byteLength;
    return { file, pos, len: buf.byteLength };
  }

  /** Each non-empty partition's parts in task order (input order). */
  partitions(): Array<{ partition: number; segments: RecordSegment[] }> {
    for (const fd of this.fds) if (fd !== undefined) closeSync(fd);
    this.fds.length = 0;
    const out: Array<{ partition: number; segments: RecordSegment[] }> = [];
    this.parts.forEach((parts, partition) => {
      if (parts.length === 0) return;
      parts.sort((a, b) => a.task - b.task);
      out.push({ partition, segments: parts.map((p) => p.segment) });
    });
    return out;
  }

  /** Removes the spill files. */
  dispose(): void {
    for (const fd of this.fds) if (fd !== undefined) closeSync(fd);
    this.fds.length = 0;
    if (this.dir !== null) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}
