/**
 * A large bill written by the workers: the merge of their sorted usage tables is cut into one
 * key range per worker (MergedUsage.keyRanges), each range merged, billed and written into
 * part files by a worker (bill-render.ts), and the parts appended to the staged outputs in
 * key order, their totals summed exactly. The bytes are those the main thread writes alone
 * (finalizeBill with a BillWriter, or under a pricing plan finalizePricedBill with a
 * PricedBillWriter), which it still does for small bills, where the hand-over would cost
 * more than it saves.
 */
import { rmSync } from 'node:fs';
import type { BillingConfig } from '../../core/config/config.js';
import { compareUtf8 } from '../../core/billing/order.js';
import { sumTotals, type BillTotals } from '../../core/billing/totals.js';
import { RunFailure } from '../../core/errors.js';
import { writeBillFiles, type WrittenBill } from '../../core/outputs/bill.js';
import type { PricingPlan } from '../../core/pricing/plan.js';
import { stagingPath, type StagedFile } from '../../core/outputs/staged.js';
import type { TaskPool } from '../runtime/mapreduce.js';
import { MergedUsage, type SortedTables } from '../scan/sorted-merge.js';
import { UserTable } from '../scan/user-table.js';
import type { BillRangeTask } from './bill-render.js';
import type { WorkerFunctionName } from '../worker.js';

/**
 * Bills of fewer users than this (counted once per worker table holding them) are written by
 * the main thread: a million users' bill took it 3-4 s, a few thousand's a few milliseconds.
 */
export const BILL_IN_WORKERS_FROM = 1 << 16;

export interface BillInRanges {
  readonly pool: TaskPool;
  readonly tables: readonly SortedTables[];
  readonly config: BillingConfig;
  /** The pricing plan (config.rates names its tasks); absent: flat rates. */
  readonly plan?: PricingPlan;
  readonly bill: StagedFile;
  readonly detail: StagedFile;
  readonly signal: AbortSignal;
  /** The job's stop flag (set to 1 on abort). */
  readonly stop: SharedArrayBuffer;
  /** Bills of fewer entries are written here, on the main thread. */
  readonly fromEntries: number;
}

const RENDER: WorkerFunctionName = 'renderBill';

/** Whether the bill of `usage` is rendered by the workers (else by the main thread: small bills, or one worker). */
export function rendersInWorkers(usage: MergedUsage | null, workers: number, fromEntries: number): usage is MergedUsage {
  return usage !== null && workers >= 2 && usage.entries >= fromEntries;
}

export async function writeBillInRanges(b: BillInRanges): Promise<BillTotals> {
  const { config, plan, signal } = b;
  const usage = b.tables.length === 0 ? null : new MergedUsage(b.tables);
  if (!rendersInWorkers(usage, b.pool.workers, b.fromEntries)) {
    const rows = usage ?? new UserTable(config.rates.length, 16);
    return (await writeBillFiles(rows, config, plan, b.bill, b.detail, { checkpoint: () => signal.throwIfAborted() })).totals;
  }
  signal.throwIfAborted();
  const ranges = usage.keyRanges(b.pool.workers);
  const parts = ranges.map(() => ({ bill: stagingPath(b.bill.finalPath), detail: stagingPath(b.detail.finalPath) }));
  const stop = () => Atomics.store(new Int32Array(b.stop), 0, 1);
  signal.addEventListener('abort', stop, { once: true });
  // The failure that stopped the others (theirs then only say they were stopped): the one to report.
  let cause: { readonly error: unknown } | undefined;
  try {
    const settled = await Promise.allSettled(
      ranges.map((r, k) => {
        const task: BillRangeTask = {
          tables: b.tables,
          ranges: r,
          config,
          plan,
          header: k === 0,
          bill: { part: parts[k]!.bill, output: b.bill.finalPath },
          detail: { part: parts[k]!.detail, output: b.detail.finalPath },
          stop: b.stop,
        };
        const run = b.pool.run(task, RENDER) as Promise<WrittenBill>;
        // The first failure stops the other ranges; every task has ended before the parts are removed.
        run.catch((error: unknown) => {
          cause ??= { error };
          stop();
        });
        return run;
      }),
    );
    signal.throwIfAborted();
    if (cause !== undefined) {
      const e = cause.error;
      throw new RunFailure(`a worker failed while writing the bill: ${e instanceof Error ? e.message : String(e)}`);
    }
    const results = settled.map((s) => (s as PromiseFulfilledResult<WrittenBill>).value);
    // The ranges follow each other in the bill's order (cut at keys): checked, as finalize checks every user's.
    let previous: string | null = null;
    for (const r of results) {
      if (r.first !== null && previous !== null && compareUtf8(previous, r.first) >= 0) {
        throw new Error(`internal: bill ranges out of order: ${JSON.stringify(previous)} before ${JSON.stringify(r.first)}`);
      }
      previous = r.last ?? previous;
    }
    for (const p of parts) {
      b.bill.append(p.bill);
      b.detail.append(p.detail);
    }
    return sumTotals(config.currencyDecimals, plan !== undefined, results.map((r) => r.totals));
  } finally {
    signal.removeEventListener('abort', stop);
    for (const p of parts) {
      rmSync(p.bill, { force: true });
      rmSync(p.detail, { force: true });
    }
  }
}
