/**
 * The billing job, main-thread side: shards in; each shard's counts merged as they arrive
 * and its rejects written in shard order; each worker's usage table (combined across its
 * shards) merged once at the end into one byte-keyed table, then handed to the shared
 * finalize code.
 */
import type { MapReduceJob } from '../runtime/mapreduce.js';
import type { RunInput } from '../../core/billing/run.js';
import { addCounts, emptyCounts, type BillingResult } from '../../core/billing/usage.js';
import { REJECT_REASONS } from '../../core/validation/reasons.js';
import type { Shard } from '../sharding.js';
import { UserTable, type TableImage } from '../scan/user-table.js';
import { randomUUID } from 'node:crypto';
import type { ShardResult } from '../scan/partial.js';
import type { BillingFlushTask, BillingMapTask } from './billing-map.js';
import type { WorkerFunctionName } from '../worker.js';

export class BillingJob implements MapReduceJob<BillingMapTask, ShardResult, BillingResult> {
  readonly mapFunction: WorkerFunctionName = 'mapBilling';
  readonly jobId = randomUUID();
  readonly combine = {
    flushFunction: 'flushBilling' satisfies WorkerFunctionName,
    flushTask: (barrier: SharedArrayBuffer, workers: number): BillingFlushTask => ({
      jobId: this.jobId,
      tasks: this.input.config.rates.length,
      barrier,
      workers,
    }),
    mergeCombined: (p: unknown) => {
      const img = p as TableImage;
      // The first worker's table is taken as it is; the others are added into it.
      if (this.table === null) this.table = UserTable.fromImage(img);
      else this.table.merge(img);
    },
  };
  readonly tasks: BillingMapTask[];
  private readonly counts = emptyCounts();
  private table: UserTable | null = null;
  /** Set to 1 to make the workers' map tasks stop at their next read (see cancel()). */
  private readonly stop = new SharedArrayBuffer(4);
  /** Partials whose rejects wait for earlier shards'. */
  private readonly waiting = new Map<number, ShardResult>();
  private nextRejects = 0;

  constructor(
    private readonly input: RunInput,
    groups: readonly (readonly Shard[])[],
    progress?: SharedArrayBuffer,
  ) {
    this.tasks = groups.map((shards) => ({ jobId: this.jobId, shards, config: input.config, window: input.window, progress, stop: this.stop }));
  }

  cancel(): void {
    Atomics.store(new Int32Array(this.stop), 0, 1);
  }

  describe(task: BillingMapTask): string {
    const s = task.shards[0]!;
    const what = s.end < 0 ? `${s.path} (whole gzip file)` : `${s.path} bytes ${s.start}-${s.end}`;
    return task.shards.length > 1 ? `${what} and ${task.shards.length - 1} more small files` : what;
  }

  async merge(p: ShardResult, _task: BillingMapTask, index: number): Promise<void> {
    addCounts(this.counts, p.counts);
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

  finalize(): BillingResult {
    return { counts: this.counts, usage: this.table ?? new UserTable(this.input.config.rates.length, 16) };
  }
}
