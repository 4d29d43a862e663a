/**
 * How many worker threads a parallel run asks for: `--workers`, else the available cores, at
 * most MAX_WORKERS. Kept apart from the engine so that the command line reads it without
 * loading the engine.
 */
import { availableParallelism } from 'node:os';

/**
 * The most worker threads a run starts (`--workers` is refused above it): each is a V8
 * isolate with tables of its own; 3,000 asked for on 200 MiB had not billed in 90 s, where 2
 * took 4 s and 300 took 28 s with 2.6 GiB of RSS.
 */
export const MAX_WORKERS = 256;

/** The worker threads a run asks for (the engine starts no more than it has map tasks). */
export function workerCount(asked: number | undefined): number {
  return asked ?? Math.min(availableParallelism(), MAX_WORKERS);
}
