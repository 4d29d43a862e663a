/**
 * A shard's partial result in compact form: counts, the user table's entries as flat typed
 * arrays, and its rejects. It crosses from worker to main thread as transferred buffers.
 */
import { transferableSymbol, valueSymbol, move } from 'piscina';
import { MAX_REJECT_RAW_BYTES, REJECT_REASONS } from '../../core/validation/reasons.js';
import { UserTable } from './user-table.js';

export interface ShardCounts {
  records: number;
  accepted: number;
  outOfWindow: number;
  /** Indexed like REJECT_REASONS. */
  rejected: number[];
}

export function emptyShardCounts(): ShardCounts {
  return { records: 0, accepted: 0, outOfWindow: 0, rejected: REJECT_REASONS.map(() => 0) };
}

/** Rejected lines of a shard, in offset order, raw lines cut to 1 KiB. */
export class RejectCollector {
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
    this.offsets.push(offset);
    this.reasons.push(reason);
    this.lengths.push(n);
  }

  rawBytes(): Uint8Array {
    return this.raw.slice(0, this.rawEnd);
  }
}

export interface ShardPartial {
  readonly counts: ShardCounts;
  readonly tasks: number;
  readonly users: number;
  readonly keys: Uint8Array;
  readonly keyLen: Int32Array;
  readonly hashes: Int32Array;
  readonly requests: Float64Array;
  readonly duration: Float64Array;
  /** [entry * tasks + task, amount] for duration sums carried above 2^52. */
  readonly carry: Array<[number, bigint]>;
  readonly rejectOffsets: Float64Array;
  readonly rejectReasons: Uint8Array;
  readonly rejectLengths: Int32Array;
  readonly rejectRaw: Uint8Array;
}

export function toPartial(counts: ShardCounts, table: UserTable, rejects: RejectCollector): ShardPartial {
  const n = table.size;
  return {
    counts,
    tasks: table.tasks,
    users: n,
    keys: table.keys.slice(0, table.keyEnd),
    keyLen: table.keyLen.slice(0, n),
    hashes: table.hashes.slice(0, n),
    requests: table.requests.slice(0, n * table.tasks),
    duration: table.duration.slice(0, n * table.tasks),
    carry: [...table.carry.entries()],
    rejectOffsets: Float64Array.from(rejects.offsets),
    rejectReasons: Uint8Array.from(rejects.reasons),
    rejectLengths: Int32Array.from(rejects.lengths),
    rejectRaw: rejects.rawBytes(),
  };
}

/** Wraps a partial so that Piscina transfers its buffers instead of copying them. */
export function movePartial(p: ShardPartial): ShardPartial {
  const buffers = [p.keys, p.keyLen, p.hashes, p.requests, p.duration, p.rejectOffsets, p.rejectReasons, p.rejectLengths, p.rejectRaw].map(
    (a) => a.buffer as ArrayBuffer,
  );
  return move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return p;
    },
  } as never) as unknown as ShardPartial;
}

/** Adds a partial's usage into a table (main thread). */
export function mergeUsage(into: UserTable, p: ShardPartial): void {
  const T = p.tasks;
  const entryOf = new Int32Array(p.users);
  let k = 0;
  for (let e = 0; e < p.users; e++) {
    const len = p.keyLen[e]!;
    const target = into.entry(p.keys, k, k + len, p.hashes[e]! >>> 0);
    entryOf[e] = target;
    k += len;
    for (let t = 0; t < T; t++) {
      const r = p.requests[e * T + t]!;
      if (r !== 0) into.add(target, t, r, p.duration[e * T + t]!);
    }
  }
  for (const [idx, amount] of p.carry) {
    into.addCarry(entryOf[Math.floor(idx / T)]!, idx % T, amount);
  }
}
