/**
 * The billing job's map side, run in a worker: one shard → a compact partial.
 * Plain files take a byte-scanning hot path (space-scanner.ts, csv-scanner.ts,
 * jsonl-scanner.ts); the lines those give up, and gzip files, go through the same per-line
 * contract code as the naive engine.
 */
import { openSync, closeSync, fstatSync, constants } from 'node:fs';
import { ensureTempDir } from '../../core/temp-dir.js';
import { join } from 'node:path';
import { threadId, type MessagePort } from 'node:worker_threads';
import type { BillingConfig } from '../../core/config/config.js';
import type { TimeWindow } from '../../core/validation/timestamp.js';
import { REASON_INDEX, type RejectReason } from '../../core/validation/reasons.js';
import { RecordParser } from '../../core/formats/records.js';
import { LineAccumulator } from '../../core/billing/accumulate.js';
import { UsageTable, addCounts, emptyCounts } from '../../core/billing/usage.js';
import { readChunks } from '../../core/input/read.js';
import { cannotRead } from '../../core/errors.js';
import type { Shard } from '../sharding.js';
import { chunkViews, fdReader, readOwnedLines, type ByteLineSink } from '../scan/range-reader.js';
import { SpaceScanner } from '../scan/space-scanner.js';
import { WrappedScanner } from '../scan/wrapped-scanner.js';
import { CsvScanner } from '../scan/csv-scanner.js';
import { JsonlScanner } from '../scan/jsonl-scanner.js';
import { hashBytes, type TableBound } from '../scan/user-table.js';
import { PartitionedTable } from '../scan/partitioned-table.js';
import { TaskColumns } from '../scan/task-columns.js';
import { writeRun, type SortedTables, type SpilledRun } from '../scan/sorted-merge.js';
import { RejectCollector, emptyShardCounts, shardResult, type ShardCounts, type ShardResult } from '../scan/partial.js';
import { flushBarrier, takeWorkerState, workerState } from '../runtime/worker-state.js';
import { exchangeUsage } from './usage-exchange.js';
import { billedFieldsAt, type DedupeMode } from '../../core/dedupe/dedupe.js';
import { DedupeScratch, dedupeRecords, type RecordSegment } from '../../core/dedupe/records-codec.js';
import { ShuffleEmitter, ShuffleOutput, type ShuffleParts } from './dedupe-shuffle.js';
import { FeedReader } from '../remote/feed-reader.js';

export interface BillingMapTask {
  /** Scopes the worker's usage table to one run. */
  readonly jobId: string;
  /** The worker's usage table's bound, in entries, and where it spills beyond (see usageTable). */
  readonly usage: UsageBound;
  /** One shard, or several small files' shards in a row (one task each would cost more than reading them). */
  readonly shards: readonly Shard[];
  readonly config: BillingConfig;
  readonly window: TimeWindow;
  /** Bytes read so far by every worker (progress), updated with Atomics. */
  readonly progress?: SharedArrayBuffer;
  /** Becomes 1 when the run is cancelled: the task stops at its next read. */
  readonly stop?: SharedArrayBuffer;
  /** Duplicate deliveries: records with an identity are emitted into the shuffle (absent: --dedupe off). */
  readonly dedupe?: Exclude<DedupeMode, 'off'>;
  /** The task's end of a channel to the main thread's feeds of objects in S3 (remote/object-feed.ts), when a shard is one. */
  readonly feed?: MessagePort;
}

/** A map task's result: counts and rejects, and with dedupe its shuffle output (dedupe-shuffle.ts). */
export interface BillingMapResult extends ShardResult {
  readonly shuffle?: ShuffleParts;
}

/** One shuffle partition to deduplicate: its parts in input order. */
export interface BillingReduceTask {
  readonly jobId: string;
  /** The job's usage columns (scan/task-columns.ts). */
  readonly columns: SharedArrayBuffer;
  readonly segments: readonly RecordSegment[];
  /** The seen keys' memory budget of this task; beyond it the partition is split into files under tmpDir. */
  readonly memoryBytes: number;
  readonly tmpDir?: string;
  /** Becomes 1 when the run is cancelled: the task stops before its next part or block of records. */
  readonly stop?: SharedArrayBuffer;
}

/** The bound of a worker's usage table: beyond it the table is spilled as a sorted run into `dir` (made on first use). */
export interface UsageBound {
  readonly table: TableBound;
  readonly dir: string;
  /** Users at which the table is partitioned (PartitionedTable). */
  readonly partitionFrom: number;
  /** The job's usage columns, which every worker's tables number alike (scan/task-columns.ts). */
  readonly columns: SharedArrayBuffer;
}

/** This worker's usage table for the job: bounded, its spilled runs kept in the worker's state until the flush. */
function usageTable(task: BillingMapTask): PartitionedTable {
  return workerState(task.jobId, () => {
    const t = new PartitionedTable(TaskColumns.of(task.usage.columns), 1 << 14, task.usage.partitionFrom);
    const runs = workerState<SpilledRun[]>(`${task.jobId}:runs`, () => []);
    t.spillWhenFull(task.usage.table, (img) => {
      ensureTempDir(task.usage.dir, 'users spilled to disk');
      runs.push(writeRun(join(task.usage.dir, `usage-${threadId}-${runs.length}.bin`), img));
    });
    return t;
  });
}

const READ_BUFFER_BYTES = 4 << 20;
let readBuffer: Buffer | undefined;
/** This worker's shared memory for its map tasks' shuffle output. */
let shuffleOutput: ShuffleOutput | undefined;
/** This worker's map tasks' shuffle emitter. */
let shuffleEmitter: ShuffleEmitter | undefined;
/** This worker's memory for deduplicating its reduce tasks' partitions. */
let dedupeScratch: DedupeScratch | undefined;

export interface BillingFlushTask {
  readonly jobId: string;
  /** The job's usage columns (scan/task-columns.ts). */
  readonly columns: SharedArrayBuffer;
  readonly barrier: SharedArrayBuffer;
  readonly workers: number;
  /** The job's usage exchange (jobs/usage-exchange.ts exchangeControl). */
  readonly exchange: SharedArrayBuffer;
}

/** Counts and rejects of a task's shards; their usage goes into this worker's table for the job. */
export async function mapBillingShards(task: BillingMapTask): Promise<BillingMapResult> {
  const progress = task.progress === undefined ? undefined : new BigInt64Array(task.progress);
  const stop = task.stop === undefined ? undefined : new Int32Array(task.stop);
  // Called after every read: progress, and the run's cancellation (the worker itself is never terminated mid-task).
  const onBytes = (n: number) => {
    if (progress !== undefined && n > 0) Atomics.add(progress, 0, BigInt(n));
    if (stop !== undefined && Atomics.load(stop, 0) !== 0) throw new Error('cancelled');
  };
  onBytes(0);
  const counts = emptyShardCounts();
  const table = usageTable(task);
  const rejects = new RejectCollector();
  // One scanner and one parser serve every shard of the task (a task may hold up to 1,024 small files).
  const judges: Judges = { emitter: task.dedupe === undefined ? undefined : (shuffleEmitter ??= new ShuffleEmitter()).reset() };
  const feed = task.feed === undefined ? undefined : new FeedReader(task.feed);
  try {
    for (let i = 0; i < task.shards.length; i++) {
      rejects.shard = i;
      if (judges.emitter !== undefined) judges.emitter.shard = task.shards[i]!.index;
      await mapShard(task, task.shards[i]!, table, counts, rejects, judges, onBytes, feed);
    }
  } finally {
    feed?.close();
  }
  const result = shardResult(counts, rejects);
  return judges.emitter === undefined ? result : { ...result, shuffle: judges.emitter.take((shuffleOutput ??= new ShuffleOutput())) };
}

interface Judges {
  scanner?: SpaceScanner;
  parser?: RecordParser;
  emitter: ShuffleEmitter | undefined;
}

/**
 * Reduce: one shuffle partition's records in input order → the first of each key billed into
 * this worker's table (or counted out of window), later ones counted as duplicates.
 */
export function reduceBillingPartition(task: BillingReduceTask): ShardCounts {
  const stop = task.stop === undefined ? undefined : new Int32Array(task.stop);
  const check = () => {
    if (stop !== undefined && Atomics.load(stop, 0) !== 0) throw new Error('cancelled');
  };
  check();
  const counts = emptyShardCounts();
  const table = workerState(task.jobId, () => new PartitionedTable(TaskColumns.of(task.columns), 1 << 14));
  const f = { userEnd: 0, task: 0, durationMs: 0 };
  dedupeRecords(task.segments, { memoryBytes: task.memoryBytes, tmpDir: task.tmpDir, check, scratch: (dedupeScratch ??= new DedupeScratch()) }, counts, (buf, fs, fe, inWindow) => {
    if (!inWindow) {
      counts.outOfWindow++;
      return;
    }
    counts.accepted++;
    billedFieldsAt(buf, fs, fe, f);
    table.addNow(buf, fs, f.userEnd, hashBytes(buf, fs, f.userEnd), f.task, 1, f.durationMs);
  });
  return counts;
}

async function mapShard(
  task: BillingMapTask,
  shard: Shard,
  table: PartitionedTable,
  counts: ShardCounts,
  rejects: RejectCollector,
  judges: Judges,
  onBytes: (n: number) => void,
  feed: FeedReader | undefined,
): Promise<void> {
  const { config } = task;
  // With --dedupe line every valid line has an identity: no line takes the aggregating hot path.
  // One space scanner serves the task's shards, plain or wrapped.
  const spaceScanner = () => (judges.scanner ??= new SpaceScanner(config.rates.map((r) => r.task), config.maxDurationMs, task.window, table, counts, rejects));
  if (shard.format === 'space' && shard.wrapped === undefined && task.dedupe !== 'line') {
    await readLines(shard, spaceScanner(), onBytes, feed);
    return;
  }

  // CSV / JSON lines / wrapped lines: the shared per-line contract, then into the byte-keyed table.
  const runCounts = emptyCounts();
  const usage = new UsageTable(config.rates.length);
  const sink = {
    reject(offset: number, reason: RejectReason, raw: Uint8Array) {
      rejects.add(offset, REASON_INDEX[reason], raw, 0, raw.length);
    },
  };
  const parser = (judges.parser ??= new RecordParser(config, task.window, { deferWindow: task.dedupe !== undefined }));
  const target = task.dedupe === undefined ? undefined : { mode: task.dedupe, sink: judges.emitter! };
  const acc = new LineAccumulator(shard.path, shard.format, parser, runCounts, usage, sink, shard.csv, shard.wrapped, target);
  const exact: ByteLineSink = {
    line: (buf, start, end, offset) => acc.line(offset, buf.subarray(start, end)),
    tooLong: (offset, head) => acc.tooLong(offset, head),
  };
  await readLines(shard, fastPath(task, shard, table, counts, exact, judges.emitter, spaceScanner), onBytes, feed);
  addCounts(counts, runCounts);
  for (const [user, u] of usage.users) {
    const key = Buffer.from(user, 'utf8');
    const h = hashBytes(key, 0, key.length);
    for (let t = 0; t < usage.taskCount; t++) {
      if (u.requests[t] === 0) continue;
      table.addBigNow(key, 0, key.length, h, t, u.requests[t]!, u.durationOf(t));
    }
  }
}

/**
 * The byte-level fast path of a CSV or JSON lines shard, or of a wrapped one (space-format
 * lines or JSON lines; `spaceScanner` the task's space scanner), handing every line it does not
 * bill to `exact`.
 */
function fastPath(task: BillingMapTask, shard: Shard, table: PartitionedTable, counts: ShardCounts, exact: ByteLineSink, emitter: ShuffleEmitter | undefined, spaceScanner: () => SpaceScanner): ByteLineSink {
  const { config, window } = task;
  const tasks = config.rates.map((r) => r.task);
  // With --dedupe line every valid line has an identity: no byte scanner reads them.
  if (task.dedupe === 'line') return exact;
  // Wrapped space-format lines or JSON lines: the wrappers read on bytes, their lines by the
  // format's fast path; with dedupe, JSON lines with a request id are left to the exact path
  // (their offsets are the wrapper's). Wrapped CSV: the exact path (its header is an inner line).
  if (shard.wrapped !== undefined) {
    if (shard.format === 'csv') return exact;
    const inner = shard.format === 'space' ? spaceScanner() : new JsonlScanner(tasks, config.maxDurationMs, window, table, counts, exact, task.dedupe === undefined ? undefined : null);
    return new WrappedScanner(shard.wrapped, inner, exact);
  }
  // With --dedupe auto, lines with a request id go from the fast path straight into the shuffle.
  if (shard.format === 'csv') return new CsvScanner(shard.path, shard.csv, tasks, config.maxDurationMs, window, table, counts, exact, task.dedupe === 'auto' ? emitter : undefined);
  if (shard.format === 'jsonl') return new JsonlScanner(tasks, config.maxDurationMs, window, table, counts, exact, task.dedupe === 'auto' ? emitter : undefined);
  return exact;
}

/** This worker's usage for the job, sorted by key bytes (the workers sort at once), with the runs it spilled, once, after every shard is mapped. */
export function flushBillingUsage(task: BillingFlushTask): SortedTables {
  flushBarrier(task.barrier, task.workers, 30_000);
  const columns = TaskColumns.of(task.columns);
  const table = takeWorkerState<PartitionedTable>(task.jobId) ?? new PartitionedTable(columns, 16);
  // Each worker keeps a block of the partitions, with every worker's usage of them, when all are partitioned.
  // Its barriers wait for the slowest worker's last stages, which can spill a run at the bound
  // (seconds on a loaded machine): a longer wait than the flush barrier's. A worker that fails
  // fails the run, whose pool then ends the others where they wait.
  exchangeUsage(table, task.exchange, task.workers, `mr-usage-${task.jobId}`, 120_000);
  // Shared records: the main thread hands them on to every worker when the bill is rendered in key ranges.
  const image = table.sortedImage(true);
  // Dropped for the collector, which the next large buffers made trigger (never detached: scan/partial.ts "Detached buffers").
  table.release();
  // Every worker is done with the input (the barrier above): the map numbers no more columns.
  return { image, runs: takeWorkerState<SpilledRun[]>(`${task.jobId}:runs`) ?? [], columns: columns.columns() };
}

/** The feed a shard of an object in S3 is read through (the main thread gives the task one). */
function remoteFeed(feed: FeedReader | undefined, shard: Shard): FeedReader {
  if (feed === undefined) throw new Error(`internal: no feed for ${shard.path}, an object in S3`);
  return feed;
}

/** A shard's lines into `sink`: a plain file's byte range, or a gzip file's lines as they are decompressed. */
async function readLines(shard: Shard, sink: ByteLineSink, onBytes: (n: number) => void, feed: FeedReader | undefined): Promise<void> {
  if (shard.gzip) await readGzipLines(shard, sink, onBytes, feed);
  else await readRange(shard, sink, onBytes, feed);
}

/**
 * A gzip file's lines (the whole file is one shard), decompressed chunk by chunk and read by
 * the same line reader and fast paths as a plain file's, the offsets those of the
 * decompressed bytes: a gzip file took the exact path line by line before, about six times the
 * cost of its decompression and fast path together. Progress counts the file's own bytes.
 */
async function readGzipLines(shard: Shard, sink: ByteLineSink, onBytes: (n: number) => void, feed: FeedReader | undefined): Promise<void> {
  readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const file = { path: shard.path, readPath: shard.readPath, format: shard.format, gzip: true, size: 0, wrapped: shard.wrapped };
  let raw = 0;
  // An object in S3 comes from the main thread's feed (no AWS SDK in a worker).
  const source = shard.s3 === undefined ? undefined : remoteFeed(feed, shard).chunks(shard.index);
  const chunks = readChunks(file, (n) => (raw += n), { source })[Symbol.asyncIterator]();
  try {
    await readOwnedLines({ viewAt: chunkViews(chunks, () => {
      onBytes(raw);
      raw = 0;
    }) }, 0, Infinity, sink, readBuffer, () => {});
  } finally {
    await chunks.return?.(undefined);
  }
}

async function readRange(shard: Shard, sink: ByteLineSink, onBytes: (n: number) => void, feed: FeedReader | undefined): Promise<void> {
  readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
  if (shard.s3 !== undefined) {
    // The object's bytes as the main thread streams them: the shard's (from the byte before it, to align), then its last line's tail,
    // scanned in the shared chunks they arrive in.
    await readOwnedLines({ viewAt: remoteFeed(feed, shard).viewer(shard.index) }, shard.start, shard.end, sink, readBuffer, onBytes);
    return;
  }
  let fd: number;
  try {
    // O_NONBLOCK: a path replaced by a FIFO after planning must fail below, not block the worker forever in open().
    fd = openSync(shard.readPath ?? shard.path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw cannotRead(shard.path, err);
  }
  try {
    if (!fstatSync(fd).isFile()) throw cannotRead(shard.path, 'not a regular file');
    await readOwnedLines(fdReader(fd), shard.start, shard.end, sink, readBuffer, onBytes);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined && e.syscall === 'read') throw cannotRead(shard.path, e);
    throw err;
  } finally {
    closeSync(fd);
  }
}
