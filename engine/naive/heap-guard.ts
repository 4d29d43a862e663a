/**
 * The naive engine keeps every user's usage in the JavaScript heap. Past V8's heap limit Node
 * does not throw: it collects for minutes, freeing almost nothing, then aborts the process (a
 * fatal error and a native stack on standard error, exit 134, the staging files left for the
 * next run to remove; at 10M users, after 130 s at the default limit). The engine checks the
 * heap after each chunk it reads (1 MiB of a file): once the heap holds more than FULL_SHARE
 * of its limit, the run fails with a RunFailure naming the way out (the parallel engine, whose
 * memory is bounded, or a larger heap), and unwinds as any failed run does: exit 1, no output
 * changed.
 *
 * Why 85%: the heap's size counts garbage not yet collected, and V8 lets the old generation
 * grow at most halfway from what is live to its limit before a full collection; so the heap
 * passes 85% only once more than about 70% of the limit is live. V8 gives up (the abort
 * above) after a few full collections in a row that free little once 80% is live: the check
 * stops the run before that, with room for a chunk's growth. A run with 70-80% live would
 * have finished, slowly; it fails instead, with the same way out.
 *
 * The limit includes V8's young generation: `mr` gives it 96 MiB (--max-semi-space-size=32
 * in its shebang), 2% of Node's default limit on a 24 GiB machine (4,192 MiB). A heap limit
 * set far lower (NODE_OPTIONS=--max-old-space-size=300) leaves the young generation so large
 * a share that the old one can run out first: Node then aborts as before. Not checked either:
 * the bill's sort after the reading (every id in order), and with duplicate deliveries
 * spilled to disk, their users added after the reading (SeenRecords.finish).
 */
import { getHeapStatistics } from 'node:v8';
import { RunFailure } from '../core/errors.js';
import { countText } from '../core/count-text.js';

/** The share of the heap limit in use at which the run is stopped. */
export const FULL_SHARE = 0.85;

const MIB = 1 << 20;

/** Throws a RunFailure when the heap holds more than `share` of its limit (`users`: how many the engine holds). */
export function checkHeap(users: number, share = FULL_SHARE): void {
  const heap = getHeapStatistics();
  if (heap.used_heap_size <= share * heap.heap_size_limit) return;
  throw new RunFailure(
    `the naive engine holds every user in memory, and the JavaScript heap is nearly full at ${countText(users)} users ` +
      `(${countText(Math.round(heap.used_heap_size / MIB))} of ${countText(Math.round(heap.heap_size_limit / MIB))} MiB): ` +
      `bill with --engine parallel (its memory is bounded), or give Node a larger heap (NODE_OPTIONS=--max-old-space-size=MiB)`,
  );
}
