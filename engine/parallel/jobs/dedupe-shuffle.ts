/**
 * The billing job's shuffle for duplicate deliveries (SPEC "Duplicate deliveries"): a map
 * task emits every valid record that has an identity (a request id, or with `--dedupe line`
 * the line) into one of PARTITIONS partitions by a hash of its key, with its position (shard
 * index, offset: input order) and its fields (engine/core/dedupe/records-codec.ts); the main
 * thread keeps each task's part of each partition, in memory up to a budget and in a file per
 * partition in a temporary directory beyond it; then one reduce task per partition reads its
 * parts in task order (which is input order) and keeps the first record of each key.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
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
   * (PARTITIONS + 1 entries). The records lie in a SharedArrayBuffer: the main thread gets
   * them without a copy, and without a transfer, which would slow the worker's later scans
   * (scan/partial.ts "Detached buffers").
   */
  take(): { data: Uint8Array; index: Int32Array } {
    const data = new Uint8Array(new SharedArrayBuffer(this.bytes));
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
    return { data, index };
  }
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

  /** A task's emitted records (`index` as ShuffleEmitter.take gives it). */
  add(task: number, data: Uint8Array, index: Int32Array): void {
    for (let p = 0; p < PARTITIONS; p++) {
      const from = index[p]!;
      const to = index[p + 1]!;
      // A buffer of its own per part: it is transferred to its reduce task alone.
      if (to > from) this.parts[p]!.push({ task, segment: { buf: data.slice(from, to) } });
    }
    this.held += data.byteLength;
    if (this.held > this.memoryBytes) this.spill();
  }

  /** Writes every part held in memory to its partition's file. */
  private spill(): void {
    this.dir ??= mkdtempSync(join(this.tmpParent, 'mr-shuffle-'));
    for (let p = 0; p < PARTITIONS; p++) {
      for (const part of this.parts[p]!) {
        const s = part.segment;
        if (!('buf' in s)) continue;
        if (this.fds[p] === undefined) {
          this.fds[p] = openSync(join(this.dir, `p${p}.bin`), 'w', 0o600);
          this.sizes[p] = 0;
        }
        const pos = this.sizes[p]!;
        let off = 0;
        while (off < s.buf.byteLength) off += writeSync(this.fds[p]!, s.buf, off, s.buf.byteLength - off);
        this.sizes[p] = pos + s.buf.byteLength;
        this.spilledBytes += s.buf.byteLength;
        part.segment = { file: join(this.dir, `p${p}.bin`), pos, len: s.buf.byteLength };
      }
    }
    this.held = 0;
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
