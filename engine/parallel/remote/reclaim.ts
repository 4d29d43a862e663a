/**
 * Prompt reclaiming of a streamed download's socket buffers on the main thread. Node reads a
 * socket into a fresh 64 KiB buffer each time; once a chunk is copied into the feed's window
 * it is garbage, but V8 collects such buffers only when its young generation fills or their
 * external bytes pass a limit of tens of MiB, so a stream at hundreds of MiB/s leaves up to
 * 50–70 MiB of dead buffers in the process's resident memory between collections (measured:
 * one 512 MiB GET through the SDK, peak RSS 108–125 MiB against 80 MiB with a young-generation
 * collection every 4 MiB, which cost 36 ms in all; the parallel engine on 1 GiB from the
 * bench's store, 2 workers: peak RSS 204–213 MiB without, 163–169 MiB every 2 MiB, 169–170 MiB
 * every 4 MiB). So the feed asks for a young-generation collection (a scavenge: the main
 * thread holds little young data, so it takes well under a millisecond) after every
 * RECLAIM_BYTES it streams.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes streamed between two collections. */
export const RECLAIM_BYTES = 2 << 20;

type Gc = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;
let gc: Gc | null | undefined;

/** V8's gc(), from a context made after --expose-gc is set (the flag only installs it in new contexts); null if V8 refuses. */
function collector(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    setFlagsFromString('--expose-gc');
    const f: unknown = runInNewContext('typeof gc === "function" ? gc : null');
    gc = typeof f === 'function' ? (f as Gc) : null;
  } catch {
    gc = null;
  }
  return gc;
}

/** Counts streamed bytes and collects the young generation after every RECLAIM_BYTES of them. */
export class Reclaimer {
  private since = 0;

  streamed(n: number): void {
    this.since += n;
    if (this.since < RECLAIM_BYTES) return;
    this.since = 0;
    collector()?.({ type: 'minor' });
  }
}
