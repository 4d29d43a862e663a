/**
 * What crosses from a worker to the main thread, in compact form: per shard, its line
 * counts and rejects; per worker, at the end, its usage table's image (user-table.ts).
 *
 * Detached buffers: a worker never transfers or detaches a buffer. Transferring a buffer
 * detaches it, and the first detach in a thread invalidates V8's array-buffer-detaching
 * protector for that thread for good: from then on optimized code checks every typed array
 * access for a detached buffer, and all of it is deoptimized and compiled again. A worker
 * that handed its first task's rejects over by transfer scanned every later shard 10-25%
 * slower (16 MiB shards of the space format: 50-55 ms against 44-48 ms; 1 GiB, 1 worker:
 * 3.86-4.07 s against 3.29-3.59 s); a worker whose tables were freed by transfer after its
 * scan sorted and wrote the bill about 15% slower, and at 10M users, whose tables spill while
 * they scan, the whole run took 22.6/20.2 s against 19.7/17.7 s. So a map task's result is
 * copied (its rejects: kilobytes), its shuffle output and its usage table's image lie in
 * SharedArrayBuffers, and a table's memory is dropped for the collector (UserTable.release),
 * which V8 runs as new buffers are made: a run's peak RSS stayed within 17 MiB of what it was
 * (100k, 1M and 10M users; bench/parallel-history.md).
 */
import { MAX_REJECT_RAW_BYTES, REJECT_REASONS } from '../../core/validation/reasons.js';
import type { ConflictExample, DuplicateTally } from '../../core/dedupe/dedupe.js';

export interface ShardCounts extends DuplicateTally {
  records: number;
  accepted: number;
  outOfWindow: number;
  /** Indexed like REJECT_REASONS. */
  rejected: number[];
  /** Task name → records rejected as unknown_task (a Map survives the structured clone to the main thread). */
  unknownTasks: Map<string, number>;
}

/**
 * A task's counts, made by a constructor rather than an object literal: V8 widened the type it
 * tracks for a literal's `unknownTasks` on the second task's counts, and the space scanner's
 * optimized `judge`, which relied on it, was thrown away and compiled again in every worker
 * (`--trace-deopt`: "code dependencies"; about 10 ms of compiling on a core the other worker
 * scans on). `implements ShardCounts` makes a field it lacks a compile error.
 */
class TaskCounts implements ShardCounts {
  records = 0;
  accepted = 0;
  outOfWindow = 0;
  rejected = REJECT_REASONS.map(() => 0);
  unknownTasks = new Map<string, number>();
  duplicates = 0;
  conflictingDuplicates = 0;
  conflictExamples: ConflictExample[] = [];
}

export function emptyShardCounts(): ShardCounts {
  return new TaskCounts();
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
