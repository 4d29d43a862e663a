/**
 * The dedupe shuffle's memory: a worker's output blocks are used again only once the main
 * thread is done with them, its emitter starts each task empty, and the main thread's store
 * gives each partition the bytes it was given, in task order, whether it held them or wrote
 * them to its files.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PARTITIONS, ShuffleEmitter, ShuffleOutput, ShuffleStore, type ShuffleParts } from './dedupe-shuffle.js';
import { forEachRecord, type RecordSegment } from '../../core/dedupe/records-codec.js';

const work = mkdtempSync(join(tmpdir(), 'mr-shuffle-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A map task's output from the emitter: `n` records with keys `${tag}${i}`. */
function emit(emitter: ShuffleEmitter, out: ShuffleOutput, tag: string, n: number): ShuffleParts {
  emitter.reset();
  for (let i = 0; i < n; i++) {
    emitter.record(`${tag}${i}`, i * 100, { user: `u${i % 7}`, task: i % 2, durationMs: i, timestamp: '2025-05-01T00:00:00Z', status: 200, requestId: `${tag}${i}`, inWindow: true });
  }
  return emitter.take(out);
}

function keysOf(segments: readonly RecordSegment[]): string[] {
  const keys: string[] = [];
  forEachRecord(segments, (r) => keys.push(r.key));
  return keys;
}

describe('ShuffleOutput', () => {
  it('hands a block out again only once the main thread is done with it', () => {
    const out = new ShuffleOutput();
    const a = out.next(100);
    const b = out.next(100);
    expect(b.data.buffer).not.toBe(a.data.buffer);
    Atomics.store(a.done, 0, 1);
    const c = out.next(80);
    expect(c.data.buffer).toBe(a.data.buffer);
    expect(c.data.length).toBe(80);
    expect(Atomics.load(c.done, 0)).toBe(0);
    // Nothing is free now: a third block.
    const d = out.next(10);
    expect([a.data.buffer, b.data.buffer]).not.toContain(d.data.buffer);
    // A free block too small for the output is not used.
    Atomics.store(b.done, 0, 1);
    const e = out.next(1000);
    expect(e.data.buffer).not.toBe(b.data.buffer);
    expect(e.data.length).toBe(1000);
  });

  it('with every block still the main thread\'s, waits for one, then makes one it does not keep', () => {
    const out = new ShuffleOutput(20);
    const held = [out.next(10), out.next(10), out.next(10), out.next(10)];
    const started = performance.now();
    const extra = out.next(10);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(held.map((h) => h.data.buffer)).not.toContain(extra.data.buffer);
    // The extra block was not kept: once the oldest is done, it is the one handed out.
    Atomics.store(held[0]!.done, 0, 1);
    expect(out.next(10).data.buffer).toBe(held[0]!.data.buffer);
    Atomics.store(extra.done, 0, 1);
    const again = out.next(10);
    expect(again.data.buffer).not.toBe(extra.data.buffer);
  });
});

describe('ShuffleEmitter and ShuffleStore', () => {
  for (const [name, budget] of [
    ['held in memory', 1 << 30],
    ['written to files', 1],
  ] as const) {
    it(`${name}: each partition gets every task's records once, in task order, and each output is marked done`, () => {
      const emitter = new ShuffleEmitter();
      const out = new ShuffleOutput();
      const store = new ShuffleStore(budget, work);
      try {
        const tasks = [
          ['a', 300],
          ['b', 5],
          ['c', 200],
        ] as const;
        for (const [t, [tag, n]] of tasks.entries()) {
          const parts = emit(emitter, out, tag, n);
          expect(parts.index.length).toBe(PARTITIONS + 1);
          store.add(t, parts);
          expect(Atomics.load(parts.done, 0)).toBe(1);
          // The worker's next task may now write over the block: the store must not read it again.
          parts.data.fill(0);
        }
        const got = store.partitions().flatMap(({ segments }) => keysOf(segments));
        const want = tasks.flatMap(([tag, n]) => Array.from({ length: n }, (_, i) => `${tag}${i}`));
        expect(got.sort()).toEqual(want.sort());
        for (const { segments } of store.partitions()) {
          const keys = keysOf(segments);
          const order = keys.map((k) => 'abc'.indexOf(k[0]!));
          expect(order).toEqual([...order].sort((x, y) => x - y));
        }
        if (budget === 1) expect(store.spilledBytes).toBeGreaterThan(0);
      } finally {
        store.dispose();
      }
    });
  }

  it('an emitter used again starts each task empty', () => {
    const emitter = new ShuffleEmitter();
    const out = new ShuffleOutput();
    const first = emit(emitter, out, 'x', 50);
    const n = keysOf([{ buf: first.data.slice() }]).length;
    expect(n).toBe(50);
    const second = emit(emitter, out, 'y', 3);
    expect(keysOf([{ buf: second.data.slice() }]).sort()).toEqual(['y0', 'y1', 'y2']);
  });
});
