/**
 * One key range of a bill, written in a worker (the main thread's side is bill-ranges.ts):
 * the workers' sorted usage tables, cut to the range's entries, merged
 * (scan/sorted-merge.ts), billed by the shared finalize code (flat rates, or a pricing plan)
 * and written by the shared bill writers into part files beside the outputs, which the main
 * thread appends in key order.
 */
import type { BillingConfig } from '../../core/config/config.js';
import { finalizeBill, finalizePricedBill, type BillSink, type PricedBillSink } from '../../core/billing/finalize.js';
import type { BillTotals } from '../../core/billing/totals.js';
import type { PricingPlan } from '../../core/pricing/plan.js';
import { BillWriter, PricedBillWriter, type BillWriterOptions } from '../../core/outputs/bill.js';
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

export interface BillRangeResult {
  readonly totals: BillTotals;
  /** The range's first and last users billed (null: none), to check that the ranges follow each other. */
  readonly first: string | null;
  readonly last: string | null;
}

export async function renderBillRange(task: BillRangeTask): Promise<BillRangeResult> {
  const bill = new OutputPart(task.bill.part, task.bill.output);
  const detail = new OutputPart(task.detail.part, task.detail.output);
  try {
    const stop = new Int32Array(task.stop);
    const opts: BillWriterOptions = {
      header: task.header,
      checkpoint: () => {
        if (Atomics.load(stop, 0) !== 0) throw new Error('cancelled');
      },
    };
    const usage = new MergedUsage(task.tables, task.ranges);
    const seen = { first: null as string | null, last: null as string | null };
    const billed = (user: string) => {
      seen.first ??= user;
      seen.last = user;
    };
    let totals: BillTotals;
    if (task.plan === undefined) {
      const writer = new BillWriter(bill, detail, task.config, opts);
      const sink: BillSink = {
        task: (user, t, requests, d, c, r) => writer.task(user, t, requests, d, c, r),
        user: (user, d, c, r) => {
          billed(user);
          writer.user(user, d, c, r);
        },
        flush: () => writer.flush(),
      };
      totals = await finalizeBill(usage, task.config, sink);
    } else {
      const writer = new PricedBillWriter(bill, detail, task.config, opts);
      const sink: PricedBillSink = {
        task: (user, t, requests, d, charge) => writer.task(user, t, requests, d, charge),
        user: (user, total) => {
          billed(user);
          writer.user(user, total);
        },
        flush: () => writer.flush(),
      };
      totals = await finalizePricedBill(usage, task.config, task.plan, sink);
    }
    return { totals, ...seen };
  } finally {
    bill.close();
    detail.close();
  }
}
