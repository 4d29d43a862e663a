/** Piscina worker entry: the map, reduce, flush and bill-rendering functions of the parallel engine's jobs, by name. */
import { flushBillingUsage, mapBillingShards, reduceBillingPartition, type BillingFlushTask, type BillingMapResult, type BillingMapTask, type BillingReduceTask } from './jobs/billing-map.js';
import { moveShardResult, moveSortedTables, type ShardCounts } from './scan/partial.js';
import type { SortedTables } from './scan/sorted-merge.js';
import { renderBillRange, type BillRangeTask } from './jobs/bill-render.js';
import type { WrittenBill } from '../core/outputs/bill.js';

export async function mapBilling(task: BillingMapTask): Promise<BillingMapResult> {
  const r = await mapBillingShards(task);
  return moveShardResult(r, r.shuffle === undefined ? [] : [r.shuffle.data, r.shuffle.index]);
}

export function reduceBilling(task: BillingReduceTask): ShardCounts {
  return reduceBillingPartition(task);
}

export function flushBilling(task: BillingFlushTask): SortedTables {
  return moveSortedTables(flushBillingUsage(task));
}

export function renderBill(task: BillRangeTask): Promise<WrittenBill> {
  return renderBillRange(task);
}

/** Every function above, by the name Piscina calls it by. */
const workerFunctions = { mapBilling, reduceBilling, flushBilling, renderBill };

/**
 * The names a job may give Piscina for this module. Jobs use this type (a type-only import,
 * so the main thread never loads the worker code): a renamed or missing export is a compile
 * error, not a failed task at run time.
 */
export type WorkerFunctionName = keyof typeof workerFunctions;
