/** Piscina worker entry: the map, reduce, flush and bill-rendering functions of the parallel engine's jobs, by name. */
import { flushBillingUsage, mapBillingShards, reduceBillingPartition, type BillingFlushTask, type BillingMapResult, type BillingMapTask, type BillingReduceTask } from './jobs/billing-map.js';
import type { ShardCounts } from './scan/partial.js';
import type { SortedTables } from './scan/sorted-merge.js';
import { renderBillRange, type BillRangeTask, type RenderedRange } from './jobs/bill-render.js';
import { InputError } from '../core/errors.js';

/**
 * A map task's result is copied to the main thread, never transferred: a transfer detaches
 * the buffers in this worker, and V8's optimized code for every typed array access in the
 * worker then checks for a detached buffer (one detach invalidates the isolate's protector for
 * good): the scan of every later shard ran 10-25% slower (partial.ts "Detached buffers"). The
 * copy is a task's counts and rejects (kilobytes); its shuffle output is in shared memory.
 */
export const mapBilling = keepingKind((task: BillingMapTask): Promise<BillingMapResult> => mapBillingShards(task));

export const reduceBilling = keepingKind((task: BillingReduceTask): ShardCounts => reduceBillingPartition(task));

/**
 * A worker's usage image lies in shared memory (flushBillingUsage: sortedImage(true)), which
 * reaches the main thread without a copy or a transfer. Nothing here asks Piscina to transfer
 * (its `move`): importing Piscina in the worker cost each worker's start 25 ms.
 */
export const flushBilling = keepingKind((task: BillingFlushTask): SortedTables => flushBillingUsage(task));

/** A range's bytes lie in shared memory too (bill-render.ts SharedBytes). */
export const renderBill = keepingKind((task: BillRangeTask): Promise<RenderedRange> => renderBillRange(task));

/** Every function above, by the name Piscina calls it by. */
const workerFunctions = { mapBilling, reduceBilling, flushBilling, renderBill };

/**
 * An error crossing to the main thread is structured-cloned, which keeps its message and
 * cause but not its class: an input's failure (InputError: unreadable, corrupt gzip, changed
 * while read) would reach the run as a worker's failure, with another kind and message than
 * the naive engine's. Its kind rides in the cause (runtime/mapreduce.ts reads it back).
 */
function keepingKind<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      if (err instanceof InputError) throw new Error(err.message, { cause: { kind: err.kind } });
      throw err;
    }
  };
}

/**
 * The names a job may give Piscina for this module. Jobs use this type (a type-only import,
 * so the main thread never loads the worker code): a renamed or missing export is a compile
 * error, not a failed task at run time.
 */
export type WorkerFunctionName = keyof typeof workerFunctions;
