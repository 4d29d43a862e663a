/**
 * Worker-side support for combiners: state a worker keeps across the map tasks of one job
 * (so partials are combined where they are made, not shipped per task), and the barrier
 * that makes the final flush tasks land one per worker.
 */
const states = new Map<string, unknown>();

/** This worker's state for a job, created on first use. */
export function workerState<T>(jobId: string, create: () => T): T {
  let s = states.get(jobId) as T | undefined;
  if (s === undefined) states.set(jobId, (s = create()));
  return s;
}

/** Removes and returns this worker's state for a job. */
export function takeWorkerState<T>(jobId: string): T | undefined {
  const s = states.get(jobId) as T | undefined;
  states.delete(jobId);
  return s;
}

/**
 * Blocks until `workers` flush tasks have arrived. A worker blocked here cannot take another
 * task, so with as many flush tasks as workers each worker runs exactly one.
 */
export function flushBarrier(barrier: SharedArrayBuffer, workers: number, timeoutMs: number): void {
  awaitWorkers(new Int32Array(barrier), 0, workers, timeoutMs, 'flush barrier');
}

/**
 * Counts this thread in at counter[slot] and blocks until `workers` threads have (a barrier
 * for threads that each pass it once); throws after `timeoutMs`, naming `what`.
 */
export function awaitWorkers(counter: Int32Array, slot: number, workers: number, timeoutMs: number, what: string): void {
  Atomics.add(counter, slot, 1);
  Atomics.notify(counter, slot);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(counter, slot);
    if (seen >= workers) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${what}: ${seen} of ${workers} workers arrived within ${timeoutMs} ms`);
    Atomics.wait(counter, slot, seen, left);
  }
}
