/**
 * One key range of a bill, rendered in a worker (the main thread's side is bill-ranges.ts):
 * the workers' sorted usage tables, cut to the range's entries, merged
 * (scan/sorted-merge.ts), billed by the shared finalize code (flat rates, or a pricing plan)
 * and encoded by the shared bill writers into shared memory, which the main thread writes
 * into the staged outputs in key order: the range's bytes are written to disk once, by the
 * thread that owns the outputs, while the workers render the next ranges.
 */
import type { BillingConfig } from '../../core/config/config.js';
import type { PricingPlan } from '../../core/pricing/plan.js';
import { writeBillFiles, type WrittenBill } from '../../core/outputs/bill.js';
import type { ByteSink } from '../../core/outputs/staged.js';
import { MergedUsage, type EntryRange, type SortedTables } from '../scan/sorted-merge.js';

export interface BillRangeTask {
  readonly tables: readonly SortedTables[];
  /** Each table's entries in this range (MergedUsage.keyRanges). */
  readonly ranges: readonly EntryRange[];
  readonly config: BillingConfig;
  /** The pricing plan (config.rates names its tasks); absent: flat rates. */
  readonly plan?: PricingPlan;
  /** The first range's detail starts with the CSV header. */
  readonly header: boolean;
  /** Becomes 1 when the run is cancelled: the task stops at its next few thousand users. */
  readonly stop: SharedArrayBuffer;
  /** Blocks of earlier ranges, written out: filled first (SharedBytes). */
  readonly spare: readonly Uint8Array[];
}

/** A range's bill: its totals, first and last users (WrittenBill), the bytes of its billing.txt and detail CSV, and the spare blocks it did not fill. */
export interface RenderedRange extends WrittenBill {
  readonly bill: readonly Uint8Array[];
  readonly detail: readonly Uint8Array[];
  readonly spare: readonly Uint8Array[];
}

/** Bytes of a block of shared memory a range's output is kept in (the bill writers hand over about a MiB at a time). */
export const BLOCK_BYTES = 1 << 20;
/** Less room than this left in a block: the next bytes go into another one. */
const LEAST_ROOM = 64 << 10;

/**
 * Bytes kept in blocks of shared memory, which reach the main thread with no copy and leave
 * this worker's buffers attached (a transfer would detach them: scan/partial.ts "Detached
 * buffers"). The bill writers encode into the blocks in place (room, filled). Blocks the
 * main thread has written out come back with the next task (`spare`) and are filled again,
 * those left unfilled go back with the range: new memory costs a page fault per page at its
 * first write, and freed memory a flush of every core's TLB; and a block lives until every
 * thread that held it has collected its garbage, which the main thread, writing, seldom does.
 */
export class SharedBytes implements ByteSink {
  private readonly full: Uint8Array[] = [];
  private block: Uint8Array = new Uint8Array(0);
  private used = 0;

  constructor(private readonly spare: Uint8Array[]) {}

  write(data: string | Uint8Array): void {
    let bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    while (bytes.length > 0) {
      if (this.used === this.block.length) this.next(1);
      const n = Math.min(bytes.length, this.block.length - this.used);
      this.block.set(n === bytes.length ? bytes : bytes.subarray(0, n), this.used);
      this.used += n;
      bytes = bytes.subarray(n);
    }
  }

  room(bytes: number): Buffer {
    const left = this.block.length - this.used;
    if (left < bytes || left < LEAST_ROOM) this.next(bytes);
    return Buffer.from(this.block.buffer, this.block.byteOffset + this.used, this.block.length - this.used);
  }

  filled(bytes: number): void {
    if (this.used + bytes > this.block.length) throw new Error('internal: SharedBytes filled past its block');
    this.used += bytes;
  }

  /** A block with room for `bytes` bytes at least (a spare one if it has), the current one kept if it holds any. */
  private next(bytes: number): void {
    if (this.used > 0) this.full.push(this.block.subarray(0, this.used));
    const spare = this.spare.length > 0 && this.spare[this.spare.length - 1]!.length >= bytes ? this.spare.pop()! : undefined;
    this.block = spare ?? new Uint8Array(new SharedArrayBuffer(Math.max(BLOCK_BYTES, bytes)));
    this.used = 0;
  }

  /** The bytes written, block after block. */
  blocks(): Uint8Array[] {
    return this.used === 0 ? [...this.full] : [...this.full, this.block.subarray(0, this.used)];
  }
}

export async function renderBillRange(task: BillRangeTask): Promise<RenderedRange> {
  const spare = [...task.spare];
  const bill = new SharedBytes(spare);
  const detail = new SharedBytes(spare);
  const stop = new Int32Array(task.stop);
  const checkpoint = () => {
    if (Atomics.load(stop, 0) !== 0) throw new Error('cancelled');
  };
  // The range's first and last users come back with its totals: the main thread checks that the ranges follow each other.
  const written = await writeBillFiles(new MergedUsage(task.tables, task.ranges), task.config, task.plan, bill, detail, { header: task.header, checkpoint });
  return { ...written, bill: bill.blocks(), detail: detail.blocks(), spare };
}
