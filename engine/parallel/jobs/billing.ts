/**
 * The billing job, main-thread side: shards in; each shard's counts merged as they arrive
 * and its rejects written in shard order; each worker's usage table (combined across its
 * shards) sorted by key bytes in the worker and handed over once at the end, merged as
 * they stream into the shared finalize code (scan/sorted-merge.ts).
 */
import { moveWith, type MapReduceJob } from '../runtime/mapreduce.js';
import type { RunInput } from '../../core/billing/run.js';
import { addCounts, emptyCounts, type BillingResult } from '../../core/billing/usage.js';
import type { ShardCounts } from '../scan/partial.js';
import { REJECT_REASONS } from '../../core/validation/reasons.js';
import type { Shard } from '../sharding.js';
import { UserTable, type TableBound } from '../scan/user-table.js';
import { TaskColumns } from '../scan/task-columns.js';
import { PARTITION_FROM } from '../scan/partitioned-table.js';
import { MergedUsage, type SortedTables } from '../scan/sorted-merge.js';
import { rmSync } from 'node:fs';
import { namedTempPath } from '../../core/temp-dir.js';
import { randomUUID } from 'node:crypto';
import type { ShardResult } from '../scan/partial.js';
import type { BillingFlushTask, BillingMapResult, BillingMapTask, BillingReduceTask } from './billing-map.js';
import type { WorkerFunctionName } from '../worker.js';
import { DEFAULT_DEDUPE, type ConflictExample } from '../../core/dedupe/dedupe.js';
import { ShuffleStore } from './dedupe-shuffle.js';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { ObjectFeeds, type OpenObject } from '../remote/object-feed.js';
import type { TaskPool } from '../runtime/mapreduce.js';
import { rendersInWorkers, writeBillInRanges, type BillInWorkers } from './bill-ranges.js';
import { exchangeControl } from './usage-exchange.js';

/**
 * The bound of each worker's usage table (README, decision on the parallel engine's memory):
 * at most 2^20 users, fewer when they have many tasks, so that its records take at most
 * USAGE_TABLE_RECORD_BYTES (a record is 32 + 16 × columns bytes, a column for each task the
 * table has met, scan/task-columns.ts: with five tasks 2^20 records take 112 MiB, and 2^21
 * slots of 8 bytes 16 MiB more); and at most USAGE_TABLE_LONG_KEY_BYTES
 * of ids longer than a record holds: 2^20 UUIDs (36 bytes) take 36 MiB, so a table of them
 * reaches the 2^20 users first (at 32 MiB a worker reading a million UUIDs spilled near its
 * end, and the run took twice as long); 327,680 ids of 128 bytes. Beyond either bound the
 * table is spilled to a file as a sorted run and emptied.
 */
export const USAGE_TABLE_ENTRIES = 1 << 20;
export const USAGE_TABLE_RECORD_BYTES = 128 << 20;
export const USAGE_TABLE_LONG_KEY_BYTES = 40 << 20;

/** A worker's usage table's bound (its entries at a width: boundEntries); `given` overrides a part of it (tests make it small). */
export function usageTableBound(given: Partial<TableBound> = {}): TableBound {
  return {
    entries: given.entries ?? USAGE_TABLE_ENTRIES,
    recordBytes: given.recordBytes ?? USAGE_TABLE_RECORD_BYTES,
    longKeyBytes: given.longKeyBytes ?? USAGE_TABLE_LONG_KEY_BYTES,
  };
}

export class BillingJob implements MapReduceJob<BillingMapTask, BillingMapResult, BillingResult> {
  readonly mapFunction: WorkerFunctionName = 'mapBilling';
  readonly jobId = randomUUID();
  /** The flush tasks' usage exchange, one for the job. */
  private readonly exchange = exchangeControl();
  /** The usage records' columns, numbered by the workers as they meet the tasks (one map for the job, scan/task-columns.ts). */
  private readonly columns: SharedArrayBuffer;
  readonly combine = {
    flushFunction: 'flushBilling' satisfies WorkerFunctionName,
    flushTask: (barrier: SharedArrayBuffer, workers: number): BillingFlushTask => ({
      jobId: this.jobId,
      columns: this.columns,
      barrier,
      workers,
      exchange: this.exchange,
    }),
    // Each worker's table arrives sorted by key bytes, with the runs it spilled; finalize merges them as it bills (MergedUsage).
    mergeCombined: (p: unknown) => {
      this.tables.push(p as SortedTables);
    },
  };
  readonly tasks: BillingMapTask[];
  private readonly counts = emptyCounts();
  private readonly tables: SortedTables[] = [];
  /** Where the workers spill their usage tables beyond the bound (made on first use; see removeSpills). */
  private readonly usageDir: string;
  /** Set to 1 to make the workers' map tasks stop at their next read and reduce tasks at their next part or block (see cancel()). */
  private readonly stop = new SharedArrayBuffer(4);
  /** Partials whose rejects wait for earlier shards'. */
  private readonly waiting = new Map<number, ShardResult>();
  private nextRejects = 0;
  /** Duplicate deliveries: the shuffle's partitions, held until the reduce phase. */
  private readonly shuffle: ShuffleStore | undefined;
  readonly reduce: MapReduceJob<BillingMapTask, BillingMapResult, BillingResult>['reduce'];
  /** A shard's file, by shard index (conflict examples name files in path order). */
  private readonly fileOfShard = new Map<number, number>();
  /** Objects in S3: streamed by this thread for the tasks (remote/object-feed.ts); the feed port of each task reading one. */
  private readonly feeds: ObjectFeeds | undefined;
  private readonly feedPorts = new Map<BillingMapTask, MessagePort>();
  readonly order: readonly number[] | undefined;
  readonly keepPool: boolean;

  constructor(
    private readonly input: RunInput,
    groups: readonly (readonly Shard[])[],
    progress?: SharedArrayBuffer,
    workers = 1,
    /** Overrides of the usage tables' bound (usageTableBound; tests make it small). */
    tableBound: Partial<TableBound> = {},
    /** Concurrent streams (ranged GETs) per object in S3. */
    s3Streams = 1,
    /** Where objects in S3 are read from (tests may give another source). */
    openObject?: OpenObject,
    /** The result writes a large bill with the workers (writeBill); absent: finalize reads its usage. */
    private readonly billInWorkers?: BillInWorkers,
    /** Users at which a worker's table is partitioned (default PARTITION_FROM). */
    partitionFrom = PARTITION_FROM,
  ) {
    this.keepPool = billInWorkers !== undefined;
    const dedupe = input.dedupe ?? DEFAULT_DEDUPE;
    const mode = dedupe.mode === 'off' ? undefined : dedupe.mode;
    this.usageDir = namedTempPath('mr-usage-', this.jobId);
    const columns = (this.columns = TaskColumns.sharedMap(input.config.rates.length));
    const usage = { table: usageTableBound(tableBound), dir: this.usageDir, partitionFrom, columns };
    this.tasks = groups.map((shards) => ({ jobId: this.jobId, usage, shards, config: input.config, window: input.window, progress, stop: this.stop, dedupe: mode }));
    const remote = groups.flat().filter((s) => s.s3 !== undefined);
    this.feeds = remote.length === 0 ? undefined : new ObjectFeeds(remote, s3Streams, input.signal, openObject);
    this.order = this.feeds?.dispatchOrder(groups);
    if (mode === undefined) {
      this.shuffle = undefined;
      this.reduce = undefined;
      return;
    }
    // The budget: a quarter for the shuffle held in memory, half shared by the reduce tasks running at once.
    const shuffle = (this.shuffle = new ShuffleStore(dedupe.memoryBytes / 4, dedupe.tmpDir));
    const fileIndex = new Map(input.files.map((f, i) => [f.path, i]));
    for (const g of groups) for (const s of g) this.fileOfShard.set(s.index, fileIndex.get(s.path) ?? 0);
    const reduceBudget = Math.max(1 << 20, Math.floor(dedupe.memoryBytes / (2 * workers)));
    this.reduce = {
      reduceFunction: 'reduceBilling' satisfies WorkerFunctionName,
      tasks: (): BillingReduceTask[] =>
        shuffle.partitions().map(({ segments }) => ({
          jobId: this.jobId,
          columns,
          segments,
          memoryBytes: reduceBudget,
          tmpDir: dedupe.tmpDir,
          stop: this.stop,
        })),
      describe: (t) => `shuffle partition of ${(t as BillingReduceTask).segments.length} parts`,
      send: (t) => {
        const task = t as BillingReduceTask;
        return moveWith(task, task.segments.flatMap((s) => ('buf' in s ? [s.buf] : [])));
      },
      merge: (r) => {
        const c = r as ShardCounts;
        c.conflictExamples = c.conflictExamples.map((e) => this.byFile(e));
        addCounts(this.counts, c);
      },
    };
  }

  /** A conflict example's positions by file (path order) instead of shard. */
  private byFile(e: ConflictExample): ConflictExample {
    const f = (o: number) => this.fileOfShard.get(o) ?? 0;
    return { ...e, at: { order: f(e.at.order), offset: e.at.offset }, first: { order: f(e.first.order), offset: e.first.offset } };
  }

  /** A map task as it is handed out: one reading objects in S3 gets its end of a channel to their feeds. */
  send(task: BillingMapTask): unknown {
    if (this.feeds === undefined || !task.shards.some((s) => this.feeds!.has(s))) return task;
    const { port1, port2 } = new MessageChannel();
    this.feeds.connect(port1);
    this.feedPorts.set(task, port1);
    return moveWith({ ...task, feed: port2 }, [port2]);
  }

  settled(task: BillingMapTask): void {
    const port = this.feedPorts.get(task);
    if (port === undefined) return;
    this.feedPorts.delete(task);
    this.feeds!.finished(port, task.shards);
  }

  /** Removes the shuffle's spill files and stops any object's stream. */
  dispose(): void {
    this.shuffle?.dispose();
    this.feeds?.close();
  }

  /** Removes the usage tables' spilled runs: once the bill is made (the result's release), or when the run fails. */
  removeSpills(): void {
    rmSync(this.usageDir, { recursive: true, force: true });
  }

  cancel(): void {
    Atomics.store(new Int32Array(this.stop), 0, 1);
  }

  describe(task: BillingMapTask): string {
    const s = task.shards[0]!;
    const what = s.end < 0 ? `${s.path} (whole gzip file)` : `${s.path} bytes ${s.start}-${s.end}`;
    return task.shards.length > 1 ? `${what} and ${task.shards.length - 1} more small files` : what;
  }

  async merge(p: BillingMapResult, _task: BillingMapTask, index: number): Promise<void> {
    addCounts(this.counts, p.counts);
    if (p.shuffle !== undefined) this.shuffle!.add(index, p.shuffle);
    this.waiting.set(index, p);
    while (this.waiting.has(this.nextRejects)) {
      const ready = this.waiting.get(this.nextRejects)!;
      this.waiting.delete(this.nextRejects);
      await this.writeRejects(ready, this.tasks[this.nextRejects]!.shards);
      this.nextRejects++;
    }
  }

  private async writeRejects(p: ShardResult, shards: readonly Shard[]): Promise<void> {
    let at = 0;
    for (let i = 0; i < p.rejectOffsets.length; i++) {
      const len = p.rejectLengths[i]!;
      const more = this.input.rejects.add(shards[p.rejectShards[i]!]!.path, p.rejectOffsets[i]!, REJECT_REASONS[p.rejectReasons[i]!]!, p.rejectRaw.subarray(at, at + len));
      at += len;
      if (!more) await this.input.rejects.drain();
    }
  }

  /** With billInWorkers, `pool` is lent by the runtime: the result renders large bills with it, and destroys it at its release. */
  finalize(pool?: TaskPool): BillingResult {
    const merged = this.tables.length === 0 ? null : new MergedUsage(this.tables);
    const result = {
      counts: this.counts,
      usage: merged ?? new UserTable(this.input.config.rates.length, 16),
      release: async () => this.removeSpills(),
    };
    const inWorkers = this.billInWorkers;
    if (pool === undefined || inWorkers === undefined) return result;
    // A bill the main thread writes (small, or one worker) needs no worker: they end now, while
    // it does (they took 30 ms more at the end of a run of 1,000 users), and the release waits.
    const ended = rendersInWorkers(merged, pool.workers, inWorkers.fromEntries) ? null : pool.destroy();
    ended?.catch(() => undefined);
    return {
      ...result,
      writeBill: (bill, detail, signal, plan) =>
        writeBillInRanges({ ...inWorkers, pool, tables: this.tables, config: this.input.config, plan, bill, detail, signal, stop: this.stop }),
      release: async () => {
        try {
          await (ended ?? pool.destroy());
        } finally {
          this.removeSpills();
        }
      },
    };
  }
}
