/**
 * The parallel engine: the billing job on the MapReduce runtime, shards across worker threads.
 */
import type { RunInput } from '../core/billing/run.js';
import type { BillingResult } from '../core/billing/usage.js';
import { runMapReduce } from './runtime/mapreduce.js';
import { workerFile } from './runtime/pool.js';
import { planRun, remoteCsvHeaders } from './sharding.js';
import { BillingJob } from './jobs/billing.js';
import { DEDUPE_SHARD_BYTES } from './jobs/dedupe-shuffle.js';
import { BILL_IN_WORKERS } from './jobs/bill-ranges.js';

export interface ParallelOptions {
  readonly workers: number;
  /** Shard size in bytes, for every file; default about four shards per worker within [4 MiB, 64 MiB] (with dedupe at most 16 MiB where records can have an identity; objects in S3 at most 16 MiB: sharding.ts planRun). */
  readonly shardBytes?: number;
  /** Users a worker's table holds before it spills a sorted run to a file (default usageTableBound's; tests make it small). */
  readonly maxTableEntries?: number;
  /** Bytes of ids longer than a record holds that a worker's table holds before it spills (default usageTableBound's; tests make it small). */
  readonly maxTableLongKeyBytes?: number;
  /** Concurrent streamed GETs per object in S3, each over a run of its shards (default 1; remote/object-feed.ts). */
  readonly s3Streams?: number;
  /**
   * The result writes a large bill in the workers, in key ranges (writeBill;
   * jobs/bill-ranges.ts), and keeps the worker pool until its release; the caller must call
   * it. Without: the pool ends with the run and finalize reads the result's usage.
   */
  readonly billInWorkers?: boolean;
  /** With billInWorkers: from how many users (counted once per worker table) (default BILL_IN_WORKERS_FROM; tests make it small). */
  readonly billInWorkersFrom?: number;
  /** With billInWorkers: (user, task) cells of a key range at most (default RANGE_CELLS; tests make it small). */
  readonly billRangeCells?: number;
  /** Users at which a worker's table is partitioned (default PARTITION_FROM, scan/partitioned-table.ts; tests make it 0). */
  readonly partitionFrom?: number;
}

export async function runParallel(input: RunInput, opts: ParallelOptions): Promise<BillingResult> {
  const mode = input.dedupe?.mode;
  const tasks = planRun(input.files, {
    workers: opts.workers,
    shardBytes: opts.shardBytes,
    dedupe: mode === undefined || mode === 'off' ? undefined : mode,
    dedupeShardBytes: DEDUPE_SHARD_BYTES,
    remoteHeaders: await remoteCsvHeaders(input.files, input.signal),
  });
  const progress = new SharedArrayBuffer(8);
  const counter = new BigInt64Array(progress);
  let reported = 0n;
  const timer = setInterval(() => {
    const now = Atomics.load(counter, 0);
    if (now > reported) input.onBytes(Number(now - reported));
    reported = now;
  }, 200);
  const workers = Math.max(1, Math.min(opts.workers, tasks.length));
  const job = new BillingJob(input, tasks, progress, workers, { entries: opts.maxTableEntries, longKeyBytes: opts.maxTableLongKeyBytes }, opts.s3Streams ?? 1, undefined, opts.billInWorkers === true
      ? { fromEntries: opts.billInWorkersFrom ?? BILL_IN_WORKERS.fromEntries, rangeCells: opts.billRangeCells ?? BILL_IN_WORKERS.rangeCells }
      : undefined, opts.partitionFrom);
  try {
    return { ...(await runMapReduce(job, { workerFile: workerFile(), workers, signal: input.signal })), workers };
  } catch (err) {
    job.removeSpills();
    throw err;
  } finally {
    clearInterval(timer);
    job.dispose();
  }
}
