/**
 * A small MapReduce runtime on a Piscina worker pool. A job names its map function (an
 * export of the worker module), lists its tasks, merges each partial as it arrives and
 * finalizes, optionally collecting per-worker combiners first. The first failing task fails
 * the run: the others are aborted and the error names the task.
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { MessagePort } from 'node:worker_threads';
import { InputError, RunFailure } from '../../core/errors.js';

// Required, not imported: see README.md, "Build and start-up".
const { Piscina, move, transferableSymbol, valueSymbol } = createRequire(import.meta.url)('piscina') as typeof import('piscina');

export interface MapReduceJob<Task, Partial, Result> {
  /** Export of the worker module that maps one task to a partial. */
  readonly mapFunction: string;
  readonly tasks: readonly Task[];
  /** Human description of a task, for errors ("file.log bytes 0-4194304"). */
  describe(task: Task): string;
  /** Optional: the order the map tasks are handed out in (indexes into `tasks`; default as listed). `merge` still gets each task's own index. */
  readonly order?: readonly number[];
  /** Optional: wraps a map task for Piscina as it is handed out (e.g. to give it a MessagePort). */
  send?(task: Task): unknown;
  /** Optional: a map task handed out by `send` has ended, done or failed. */
  settled?(task: Task): void;
  /** Folds one partial in; called once per task, in completion order. */
  merge(partial: Partial, task: Task, index: number): void | Promise<void>;
  /**
   * Optional combiner: workers keep state across map tasks (e.g. one table per worker
   * instead of one per task) and, after the last map task, each worker's combined state is
   * collected exactly once through `flushFunction` and folded in by `mergeCombined`.
   */
  readonly combine?: {
    readonly flushFunction: string;
    flushTask(barrier: SharedArrayBuffer, workers: number): unknown;
    mergeCombined(combined: unknown): void | Promise<void>;
  };
  /**
   * Optional reduce phase, after every map partial is merged and before the combiners are
   * collected: `tasks()` lists the reduce tasks (e.g. one per shuffle partition), each run by
   * `reduceFunction` and its result folded in by `merge`.
   */
  readonly reduce?: {
    readonly reduceFunction: string;
    tasks(): readonly unknown[] | Promise<readonly unknown[]>;
    describe(task: unknown): string;
    merge(result: unknown): void | Promise<void>;
    /** Wraps a task for Piscina (e.g. to transfer its buffers instead of copying them). */
    send?(task: unknown): unknown;
  };
  /**
   * With `keepPool`, finalize is lent the worker pool, which then outlives the run: the result
   * must destroy it (e.g. a bill rendered in the workers after the run, before its release).
   */
  readonly keepPool?: boolean;
  finalize(pool?: TaskPool): Result | Promise<Result>;
  /**
   * Asks the job's running map and reduce tasks to stop soon (cooperatively: each checks between reads
   * and throws). Workers are then never terminated mid-task, or mid-start-up, which can abort
   * Node natively. Without it, a run's abort terminates the workers running its tasks.
   */
  cancel?(): void;
}

/** The runtime's worker pool, as lent to a job that keeps it (keepPool). */
export interface TaskPool {
  readonly workers: number;
  /** Runs `task` with the worker module's export `name`. */
  run(task: unknown, name: string): Promise<unknown>;
  destroy(): Promise<void>;
}

export interface RuntimeOptions {
  readonly workerFile: string;
  readonly workers: number;
  readonly signal: AbortSignal;
}

/**
 * Worker isolates compile optimized code on their own thread, not on V8's background threads.
 * Node 20 unregisters a worker's isolate from its platform before it disposes of the isolate;
 * an optimizing compile still running on a background thread then can ask that platform for
 * the isolate's task runner (to schedule a marking step while it allocates) and Node aborts
 * the whole process: `NodePlatform::ForIsolate … Assertion failed: (data.first) != nullptr`,
 * native stack through `OptimizingCompileDispatcher::CompileTask`. That happened once in CI,
 * when a run's pool was destroyed right after its last task, with the bill already complete.
 * V8 reads this flag when it creates an isolate, so it holds for every worker started after
 * it. Measured on 256 MiB (space format and JSON lines, 1,000 users; 1M users), 2 workers:
 * the same CPU time with it as without (1.65–1.77 s against 1.78–1.88 s user on 1,000 users).
 */
setFlagsFromString('--no-concurrent-recompilation');

export async function runMapReduce<Task, Partial, Result>(job: MapReduceJob<Task, Partial, Result>, opts: RuntimeOptions): Promise<Result> {
  opts.signal.throwIfAborted();
  const pool = new Piscina({
    filename: opts.workerFile,
    minThreads: opts.workers,
    maxThreads: opts.workers,
    idleTimeout: 1000,
    concurrentTasksPerWorker: 1,
  });
  const cancel = new AbortController();
  const onAbort = () => {
    job.cancel?.();
    cancel.abort(opts.signal.reason);
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });
  let failure: unknown = undefined;
  let merging = Promise.resolve();
  let kept = false;
  try {
    const fail = (err: unknown) => {
      if (failure !== undefined) return;
      failure = err;
      job.cancel?.();
      cancel.abort(err);
    };
    // Tasks are handed out as workers free up; a few wait in the queue so no worker idles.
    const phase = async <T, P>(
      tasks: readonly T[],
      name: string,
      describe: (t: T) => string,
      merge: (p: P, t: T, index: number) => void | Promise<void>,
      send: (t: T) => unknown = (t) => t,
      settled?: (t: T) => void,
      order?: readonly number[],
    ): Promise<void> => {
      if (order !== undefined && order.length !== tasks.length) throw new Error(`internal: a dispatch order of ${order.length} for ${tasks.length} tasks`);
      let next = 0;
      const runNext = async (): Promise<void> => {
        while (next < tasks.length && failure === undefined) {
          const index = order === undefined ? next : order[next]!;
          next++;
          const task = tasks[index]!;
          let partial: P;
          try {
            partial = await pool.run(send(task), { name, ...(job.cancel === undefined ? { signal: cancel.signal } : {}) });
          } catch (err) {
            fail(opts.signal.aborted ? opts.signal.reason : workerFailure(err, describe(task)));
            return;
          } finally {
            settled?.(task);
          }
          merging = merging.then(async () => {
            if (failure !== undefined) return;
            try {
              await merge(partial, task, index);
            } catch (err) {
              fail(err);
            }
          });
        }
      };
      await Promise.all(Array.from({ length: opts.workers * 2 }, runNext));
      await merging;
      if (failure !== undefined) throw failure;
    };
    await phase<Task, Partial>(
      job.tasks,
      job.mapFunction,
      (t) => job.describe(t),
      (p, t, i) => job.merge(p, t, i),
      job.send === undefined ? undefined : (t) => job.send!(t),
      job.settled === undefined ? undefined : (t) => job.settled!(t),
      job.order,
    );
    if (job.reduce !== undefined) {
      const reduce = job.reduce;
      await phase<unknown, unknown>(await reduce.tasks(), reduce.reduceFunction, (t) => reduce.describe(t), (p) => reduce.merge(p), reduce.send?.bind(reduce));
    }
    if (job.combine !== undefined) {
      const combine = job.combine;
      const barrier = new SharedArrayBuffer(4);
      const flushes = Array.from({ length: opts.workers }, () =>
        pool.run(combine.flushTask(barrier, opts.workers), { name: combine.flushFunction, ...(job.cancel === undefined ? { signal: cancel.signal } : {}) }),
      );
      let combined: unknown[];
      try {
        combined = await Promise.all(flushes);
      } catch (err) {
        throw opts.signal.aborted ? opts.signal.reason : new RunFailure(`worker failed while handing over its results: ${err instanceof Error ? err.message : String(err)}`);
      }
      for (const c of combined) await combine.mergeCombined(c);
    }
    if (job.keepPool !== true) return await job.finalize();
    const lent: TaskPool = { workers: opts.workers, run: (task, name) => pool.run(task, { name }), destroy: () => pool.destroy() };
    const result = await job.finalize(lent);
    kept = true;
    return result;
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    if (!kept) await pool.destroy();
  }
}

/**
 * What a failed task means for the run: an input's failure as the naive engine reports it
 * (its kind comes back in the cause, worker.ts keepingKind), anything else a failure of the
 * worker on that task.
 */
function workerFailure(err: unknown, task: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  if ((err as { cause?: { kind?: unknown } } | null)?.cause?.kind === 'input') return new InputError(message);
  return new RunFailure(`worker failed on ${task}: ${message}`);
}

/**
 * Wraps a task so that Piscina transfers the given typed arrays' buffers (and message ports)
 * to the worker instead of copying them; arrays in shared memory are shared as they are (not
 * transferable). The main thread's side only: a worker never imports Piscina (worker.ts).
 */
export function moveWith<T extends object>(value: T, arrays: readonly (ArrayBufferView | MessagePort)[]): T {
  const buffers = arrays.flatMap((a): (ArrayBuffer | MessagePort)[] => (a instanceof MessagePort ? [a] : a.buffer instanceof SharedArrayBuffer ? [] : [a.buffer as ArrayBuffer]));
  return move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return value;
    },
  } as never) as unknown as T;
}
