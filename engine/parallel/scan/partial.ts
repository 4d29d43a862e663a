/**
 * What crosses from a worker to the main thread, in compact form: per shard, its line
 * counts and rejects; per worker, at the end, its usage table's image (user-table.ts). All
 * of it travels as transferred buffers, never copied.
 */
import { MessagePort } from 'node:worker_threads';
import { transferableSymbol, valueSymbol, move } from 'piscina';
import { MAX_REJECT_RAW_BYTES, REJECT_REASONS } from '../../core/validation/reasons.js';
import type { SortedTables } from './sorted-merge.js';
import { emptyTally, type DuplicateTally } from '../../core/dedupe/dedupe.js';

export interface ShardCounts extends DuplicateTally {
  records: number;
  accepted: number;
  outOfWindow: number;
  /** Indexed like REJECT_REASONS. */
  rejected: number[];
  /** Task name → records rejected as unknown_task (a Map survives the structured clone to the main thread). */
  unknownTasks: Map<string, number>;
}

export function emptyShardCounts(): ShardCounts {
  return { records: 0, accepted: 0, outOfWindow: 0, rejected: REJECT_REASONS.map(() => 0), unknownTasks: new Map(), ...emptyTally() };
}

/** Rejected lines of a task's shards, in shard then offset order, raw lines cut to 1 KiB. */
export class RejectCollector {
  /** The shard (index within the task) that rejects are added for. */
  shard = 0;
  shards: number[] = [];
  offsets: number[] = [];
  reasons: number[] = [];
  lengths: number[] = [];
  private raw = new Uint8Array(64 * 1024);
  private rawEnd = 0;

  add(offset: number, reason: number, b: Uint8Array, start: number, end: number): void {
    const n = Math.min(end - start, MAX_REJECT_RAW_BYTES);
    if (this.rawEnd + n > this.raw.length) {
      const raw = new Uint8Array(Math.max(this.raw.length * 2, this.rawEnd + n));
      raw.set(this.raw.subarray(0, this.rawEnd));
      this.raw = raw;
    }
    this.raw.set(b.subarray(start, start + n), this.rawEnd);
    this.rawEnd += n;
    this.shards.push(this.shard);
    this.offsets.push(offset);
    this.reasons.push(reason);
    this.lengths.push(n);
  }

  rawBytes(): Uint8Array {
    return this.raw.slice(0, this.rawEnd);
  }
}

/** A task's result: its shards' counts and rejects (their usage stays in the worker's table). */
export interface ShardResult {
  readonly counts: ShardCounts;
  /** For each reject, the index of its shard within the task. */
  readonly rejectShards: Int32Array;
  readonly rejectOffsets: Float64Array;
  readonly rejectReasons: Uint8Array;
  readonly rejectLengths: Int32Array;
  readonly rejectRaw: Uint8Array;
}

export function shardResult(counts: ShardCounts, rejects: RejectCollector): ShardResult {
  return {
    counts,
    rejectShards: Int32Array.from(rejects.shards),
    rejectOffsets: Float64Array.from(rejects.offsets),
    rejectReasons: Uint8Array.from(rejects.reasons),
    rejectLengths: Int32Array.from(rejects.lengths),
    rejectRaw: rejects.rawBytes(),
  };
}

/** Wraps a value so that Piscina transfers the given typed arrays' buffers (and message ports) instead of copying them. */
export function moveWith<T extends object>(value: T, arrays: readonly (ArrayBufferView | MessagePort)[]): T {
  const buffers = arrays.map((a) => (a instanceof MessagePort ? a : (a.buffer as ArrayBuffer)));
  return move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return value;
    },
  } as never) as unknown as T;
}

/** A task's result, its buffers (and any `more`) transferred. */
export function moveShardResult<R extends ShardResult>(r: R, more: ArrayBufferView[] = []): R {
  return moveWith(r, [r.rejectShards, r.rejectOffsets, r.rejectReasons, r.rejectLengths, r.rejectRaw, ...more]);
}

/** A worker's sorted tables, the last table's buffers transferred (shared records are shared, not transferred). */
export function moveSortedTables(t: SortedTables): SortedTables {
  return moveWith(t, t.image.records.buffer instanceof SharedArrayBuffer ? [t.image.overflow] : [t.image.records, t.image.overflow]);
}
