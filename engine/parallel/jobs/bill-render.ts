/**
 * One key range of a bill, written in a worker (the main thread's side is bill-ranges.ts):
 * the workers' sorted usage tables, cut to the range's entries, merged
 * (scan/sorted-merge.ts), billed by the shared finalize code (flat rates, or a pricing plan)
 * and written by the shared bill writers into part files beside the outputs, which the main
 * thread appends in key order.
 */
import type { BillingConfig } from '../../core/config/config.js';
import type { PricingPlan } from '../../core/pricing/plan.js';
import { writeBillFiles, type WrittenBill } from '../../core/outputs/bill.js';
import { OutputPart } from '../../core/outputs/staged.js';
import { MergedUsage, type EntryRange, type SortedTables } from '../scan/sorted-merge.js';

/** A part file, and the output it is part of (named in errors). */
export interface PartPath {
  readonly part: string;
  readonly output: string;
}

export interface BillRangeTask {
  readonly tables: readonly SortedTables[];
  /** Each table's entries in this range (MergedUsage.keyRanges). */
  readonly ranges: readonly EntryRange[];
  readonly config: BillingConfig;
  /** The pricing plan (config.rates names its tasks); absent: flat rates. */
  readonly plan?: PricingPlan;
  /** The first range's detail starts with the CSV header. */
  readonly header: boolean;
  readonly bill: PartPath;
  readonly detail: PartPath;
  /** Becomes 1 when the run is cancelled: the task stops at its next few thousand users. */
  readonly stop: SharedArrayBuffer;
}

export async function renderBillRange(task: BillRangeTask): Promise<WrittenBill> {
  const bill = new OutputPart(task.bill.part, task.bill.output);
  const detail = new OutputPart(task.detail.part, task.detail.output);
  try {
    const stop = new Int32Array(task.stop);
    const checkpoint = () => {
      if (Atomics.load(stop, 0) !== 0) throw new Error('cancelled');
    };
    // The range's first and last users come back with its totals: the main thread checks that the ranges follow each other.
    return await writeBillFiles(new MergedUsage(task.tables, task.ranges), task.config, task.plan, bill, detail, { header: task.header, checkpoint });
  } finally {
    bill.close();
    detail.close();
  }
}
