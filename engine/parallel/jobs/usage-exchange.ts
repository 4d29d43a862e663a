/**
 * The workers' usage tables exchanged at the flush, before each is sorted: every worker
 * keeps a block of the partitions (PartitionedTable) and hands each other worker its own
 * usage of that worker's block. A user's usage is then in one worker's table instead of in
 * every worker's that read a line of theirs: each worker sorts its block's users only, and
 * the bill's merge (scan/sorted-merge.ts) meets each user once. At a million users read by
 * two workers, each sorted a million entries before, and the bill merged two million
 * (bench/parallel-history.md, "Many users: exchanged partitions").
 *
 * The flush tasks run one per worker, all at once (runtime/worker-state.ts flushBarrier);
 * the workers pass two more barriers here. The images travel over a BroadcastChannel in
 * shared memory (no copy). Every worker must be partitioned (none below PARTITION_FROM users,
 * none past its bound, which went back to one table): one that is not vetoes the exchange,
 * and every worker then sorts its whole table as before.
 */
import { BroadcastChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { PartitionedTable } from '../scan/partitioned-table.js';
import type { TableImage } from '../scan/user-table.js';
import { awaitWorkers } from '../runtime/worker-state.js';

/** The counters of one exchange, shared by its workers: numbered, ready, sent, vetoed. */
const NUMBERED = 0;
const READY = 1;
const SENT = 2;
const VETO = 3;

/** Shared memory for one job's exchange (one per job, given to every flush task). */
export function exchangeControl(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * 4);
}

/** One worker's usage of another's partitions. */
interface Handover {
  readonly to: number;
  readonly image: TableImage;
}

/** Worker w's block of `partitions` partitions, of `workers` blocks. */
export function blockOf(w: number, workers: number, partitions: number): [from: number, to: number] {
  return [Math.floor((w * partitions) / workers), Math.floor(((w + 1) * partitions) / workers)];
}

/**
 * Exchanges `table`'s partitions with the other `workers - 1` flush tasks of the job (each
 * calls this once, with the same `control` and channel `name`). True when they were
 * exchanged: the table then holds its block's usage of every worker; false when a worker
 * vetoed, the table as it was (its stages added).
 */
export function exchangeUsage(table: PartitionedTable, control: SharedArrayBuffer, workers: number, name: string, timeoutMs: number): boolean {
  table.addStages();
  if (workers < 2) return false;
  const c = new Int32Array(control);
  const me = Atomics.add(c, NUMBERED, 1);
  if (!table.partitioned) Atomics.store(c, VETO, 1);
  // Opened before the first barrier: a channel receives only what is posted after it opened.
  const channel = new BroadcastChannel(name);
  try {
    awaitWorkers(c, READY, workers, timeoutMs, 'usage exchange');
    if (Atomics.load(c, VETO) !== 0) return false;
    for (let w = 0; w < workers; w++) {
      if (w === me) continue;
      const [from, to] = blockOf(w, workers, table.partitions);
      const handover: Handover = { to: w, image: table.takePartitions(from, to) };
      channel.postMessage(handover);
    }
    awaitWorkers(c, SENT, workers, timeoutMs, 'usage exchange');
    const deadline = Date.now() + timeoutMs;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let got = 0; got < workers - 1; ) {
      // Node reads a BroadcastChannel's messages this way too (its types name MessagePort only).
      const m = receiveMessageOnPort(channel as unknown as MessagePort);
      if (m === undefined) {
        if (Date.now() > deadline) throw new Error(`usage exchange: ${got} of ${workers - 1} workers' usage arrived within ${timeoutMs} ms`);
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      const h = m.message as Handover;
      if (h.to !== me) continue;
      table.merge(h.image);
      got++;
    }
    return true;
  } finally {
    channel.close();
  }
}
