/**
 * The workers' usage tables, each sorted by key bytes in its worker (UserTable.sortedImage),
 * merged as they stream into finalize: a k-way merge by key bytes, summing a user's counters
 * across workers, one user at a time. The main thread never builds a merged table, an array
 * of every id, or sorts them: finalize reads the users in the bill's order (UTF-8 byte order,
 * which is the order of the key bytes) as a SortedUsage stream and checks that order.
 */
import { UserUsage, type SortedUsage } from '../../core/billing/usage.js';
import { COUNTERS_AT, decodeKey, imageKey, recordBytes, type TableImage } from './user-table.js';

/** Byte order of two keys. */
function compareKeys(a: Uint8Array, ai: number, al: number, b: Uint8Array, bi: number, bl: number): number {
  const n = al < bl ? al : bl;
  for (let i = 0; i < n; i++) {
    const d = a[ai + i]! - b[bi + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

export class MergedUsage implements SortedUsage {
  readonly taskCount: number;

  constructor(private readonly images: readonly TableImage[]) {
    if (images.length === 0) throw new RangeError('MergedUsage: no table');
    for (const img of images) if (img.sorted !== true && img.size > 1) throw new RangeError('MergedUsage: a table image is not sorted');
    this.taskCount = images[0]!.tasks;
  }

  /**
   * The merge as an async iterable (what finalize reads) without an async generator's cost per
   * step: each step is the synchronous merge's next user in a resolved promise (finalize lets
   * the event loop turn every few thousand users).
   */
  users(): AsyncIterable<{ readonly user: string; readonly usage: UserUsage }> {
    return {
      [Symbol.asyncIterator]: () => {
        const it = this.merged();
        return { next: () => Promise.resolve(it.next()) };
      },
    };
  }

  /** The merge itself, synchronous. */
  *merged(): Generator<{ user: string; usage: UserUsage }> {
    const imgs = this.images;
    const W = imgs.length;
    const T = this.taskCount;
    const rb = recordBytes(T);
    const heads = new Int32Array(W);
    // Records are 8-byte aligned in their buffer unless the image was cut from a larger one.
    const views = imgs.map((img) => {
      const r = img.records.byteOffset % 8 === 0 ? img.records : img.records.slice();
      return new Float64Array(r.buffer, r.byteOffset, r.byteLength >>> 3);
    });
    // Carried duration sums (above 2^52), by image and entry.
    const carries = imgs.map((img) => {
      const m = new Map<number, Array<[number, bigint]>>();
      for (const [k, v] of img.carry) {
        const e = Math.floor(k / T);
        let l = m.get(e);
        if (l === undefined) m.set(e, (l = []));
        l.push([k % T, v]);
      }
      return m;
    });
    const same = new Int32Array(W);
    for (;;) {
      // The smallest key among the heads, and every head holding it.
      let n = 0;
      let best: { bytes: Uint8Array; at: number; len: number } | null = null;
      for (let w = 0; w < W; w++) {
        if (heads[w]! >= imgs[w]!.size) continue;
        const k = imageKey(imgs[w]!, heads[w]!);
        const c = best === null ? -1 : compareKeys(k.bytes, k.at, k.len, best.bytes, best.at, best.len);
        if (c < 0) {
          best = k;
          n = 0;
        }
        if (c <= 0) same[n++] = w;
      }
      if (best === null) return;
      const usage = new UserUsage(T);
      for (let j = 0; j < n; j++) {
        const w = same[j]!;
        const e = heads[w]++;
        const f = views[w]!;
        const base = (e * rb + COUNTERS_AT) >>> 3;
        for (let t = 0; t < T; t++) {
          const r = f[base + 2 * t]!;
          const d = f[base + 2 * t + 1]!;
          if (r !== 0 || d !== 0) usage.add(t, r, d);
        }
        const carried = carries[w]!.size === 0 ? undefined : carries[w]!.get(e);
        if (carried !== undefined) for (const [t, v] of carried) usage.addBig(t, 0, v);
      }
      yield { user: decodeKey(best.bytes.subarray(best.at, best.at + best.len)), usage };
    }
  }
}
