/**
 * A large bill written with the workers: the merge of their sorted usage tables is cut into
 * key ranges of a bounded size (MergedUsage.keyRanges), each merged, billed and encoded into
 * shared memory by a worker (bill-render.ts), and the ranges written into the staged outputs
 * in key order by the main thread as they come, their totals summed exactly, while the
 * workers render the next ones. The bytes are those the main thread writes alone
 * (finalizeBill with a BillWriter, or under a pricing plan finalizePricedBill with a
 * PricedBillWriter), which it still does for small bills, where the hand-over would cost
 * more than it saves.
 */
import type { BillingConfig } from '../../core/config/config.js';
import { compareUtf8 } from '../../core/billing/order.js';
import { sumTotals, type BillTotals } from '../../core/billing/totals.js';
import { RunFailure } from '../../core/errors.js';
import { writeBillFiles } from '../../core/outputs/bill.js';
import type { PricingPlan } from '../../core/pricing/plan.js';
import type { StagedFile } from '../../core/outputs/staged.js';
import type { TaskPool } from '../runtime/mapreduce.js';
import { MergedUsage, type EntryRange, type SortedTables } from '../scan/sorted-merge.js';
import { UserTable } from '../scan/user-table.js';
import { BLOCK_BYTES, type BillRangeTask, type RenderedRange } from './bill-render.js';
import type { WorkerFunctionName } from '../worker.js';

/**
 * Bills of fewer users than this (counted once per worker table holding them) are written by
 * the main thread: a million users' bill took it 3-4 s, a few thousand's a few milliseconds.
 */
export const BILL_IN_WORKERS_FROM = 1 << 16;

/**
 * (user, task) cells of a key range at most: at 5 tasks about 52,000 users, whose bill and
 * detail take about 8 MB; a row takes at most a few hundred bytes (a 128-byte id, quoted).
 * With ranges this small the workers end together, and the main thread writes a range while
 * they render the next (bench/parallel-history.md, "A bill in small ranges").
 */
export const RANGE_CELLS = 1 << 18;

/** How a job's bill is written with its workers: from how many entries, in ranges of how many cells (tests make both small). */
export interface BillInWorkers {
  readonly fromEntries: number;
  readonly rangeCells: number;
}

export const BILL_IN_WORKERS: BillInWorkers = { fromEntries: BILL_IN_WORKERS_FROM, rangeCells: RANGE_CELLS };

export interface BillInRanges extends BillInWorkers {
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
}

const RENDER: WorkerFunctionName = 'renderBill';
/**
 * Spare blocks a range is given at most: about what a range of RANGE_CELLS cells fills with
 * short ids (longer ones fill more, and take new blocks). Every block comes back, filled or
 * not, and is kept: the blocks are those of the most ranges held at once, none let go.
 */
const SPARE_PER_RANGE = 12;

/** Whether the bill of `usage` is rendered by the workers (else by the main thread: small bills, or one worker). */
export function rendersInWorkers(usage: MergedUsage | null, workers: number, fromEntries: number): usage is MergedUsage {
  return usage !== null && workers >= 2 && usage.entries >= fromEntries;
}

/**
 * The merge cut into `count` key ranges (MergedUsage.keyRanges), then any range of more than
 * `cells` cells cut again within itself, until none is or it holds at most one user per table.
 * keyRanges cuts at keys of the largest table: another table's keys may lie mostly in one of
 * its ranges (a run spilled while the input came sorted by user spans few keys), and a range
 * is held whole in memory. Each cut range's parts hold fewer entries than it (the parts of its
 * largest table's share are not empty), so this ends.
 */
export function boundedRanges(usage: MergedUsage, count: number, tasks: number, cells: number): EntryRange[][] {
  const size = (r: readonly EntryRange[]) => r.reduce((n, [from, to]) => n + to - from, 0) * Math.max(1, tasks);
  const bounded: EntryRange[][] = [];
  // A stack of the ranges still to look at, the first on top: the ranges come out in key order.
  const todo = usage.keyRanges(count).reverse();
  while (todo.length > 0) {
    const r = todo.pop()!;
    const widest = r.reduce((m, [from, to]) => Math.max(m, to - from), 0);
    if (size(r) <= cells || widest <= 1) {
      bounded.push(r);
      continue;
    }
    todo.push(...usage.keyRanges(Math.max(2, Math.ceil(size(r) / cells)), r).reverse());
  }
  return bounded;
}

/** Ranges to cut a bill of `entries` users of `tasks` tasks into: at most `cells` cells each, a multiple of the workers, so that they end together. */
export function rangeCount(entries: number, tasks: number, workers: number, cells: number): number {
  const ranges = Math.ceil((entries * Math.max(1, tasks)) / Math.max(1, cells));
  return Math.max(1, Math.ceil(ranges / workers)) * workers;
}

export async function writeBillInRanges(b: BillInRanges): Promise<BillTotals> {
  const { config, plan, signal } = b;
  const usage = b.tables.length === 0 ? null : new MergedUsage(b.tables);
  if (!rendersInWorkers(usage, b.pool.workers, b.fromEntries)) {
    const rows = usage ?? new UserTable(config.rates.length, 16);
    return (await writeBillFiles(rows, config, plan, b.bill, b.detail, { checkpoint: () => signal.throwIfAborted() })).totals;
  }
  signal.throwIfAborted();
  // A user's (user, task) cells are at most the tasks the tables hold, not every task the rates name.
  const T = usage.columns;
  const ranges = boundedRanges(usage, rangeCount(usage.entries, T, b.pool.workers, b.rangeCells), T, b.rangeCells);
  // Ranges sent and not yet written: one per worker and one waiting, so that no worker waits
  // while the main thread writes; with the one being written, the memory of workers + 2 ranges.
  const window = b.pool.workers + 1;
  const stop = () => Atomics.store(new Int32Array(b.stop), 0, 1);
  signal.addEventListener('abort', stop, { once: true });
  const rendering: Array<Promise<RenderedRange> | undefined> = [];
  // The failure that stopped the others (theirs then only say they were stopped): the one to report.
  let cause: { readonly error: unknown } | undefined;
  // Blocks of ranges written out, or not filled, handed to the next ranges to fill (bill-render.ts SharedBytes).
  const spare: Uint8Array[] = [];
  let sent = 0;
  const send = (written: number) => {
    for (; sent < ranges.length && sent < written + window && cause === undefined && !signal.aborted; sent++) {
      const task: BillRangeTask = { tables: b.tables, ranges: ranges[sent]!, config, plan, header: sent === 0, stop: b.stop, spare: spare.splice(0, SPARE_PER_RANGE) };
      const run = b.pool.run(task, RENDER) as Promise<RenderedRange>;
      run.catch((error: unknown) => {
        cause ??= { error };
        stop();
      });
      rendering.push(run);
    }
  };
  const syncs: Promise<void>[] = [];
  let done = false;
  try {
    const totals: BillTotals[] = [];
    // The ranges follow each other in the bill's order (cut at keys): checked, as finalize checks every user's.
    let previous: string | null = null;
    send(0);
    for (let k = 0; k < ranges.length; k++) {
      let r: RenderedRange;
      try {
        r = await rendering[k]!;
      } catch {
        break;
      }
      rendering[k] = undefined;
      signal.throwIfAborted();
      if (r.first !== null && previous !== null && compareUtf8(previous, r.first) >= 0) {
        throw new Error(`internal: bill ranges out of order: ${JSON.stringify(previous)} before ${JSON.stringify(r.first)}`);
      }
      previous = r.last ?? previous;
      spare.push(...r.spare);
      // The next ranges are sent before this one is written: the workers render while it is.
      send(k + 1);
      for (const block of r.detail) b.detail.write(block);
      for (const block of r.bill) b.bill.write(block);
      totals.push(r.totals);
      // Flushed to disk as it is written: the commit's flush, after the last range, has less to wait for.
      syncs.push(b.detail.syncSoon(), b.bill.syncSoon());
      for (const block of [...r.detail, ...r.bill]) if (block.buffer.byteLength === BLOCK_BYTES) spare.push(new Uint8Array(block.buffer));
    }
    signal.throwIfAborted();
    if (cause !== undefined) {
      const e = cause.error;
      throw new RunFailure(`a worker failed while writing the bill: ${e instanceof Error ? e.message : String(e)}`);
    }
    await Promise.all(syncs);
    done = true;
    return sumTotals(config.currencyDecimals, plan !== undefined, totals);
  } finally {
    signal.removeEventListener('abort', stop);
    // A bill given up: the ranges still rendering are stopped, and have ended when this returns.
    if (!done) {
      stop();
      await Promise.allSettled([...rendering.filter((r) => r !== undefined), ...syncs]);
    }
  }
}
