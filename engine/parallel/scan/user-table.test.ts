import { describe, expect, it } from 'vitest';
import { UserTable, hashBytes, type TableImage } from './user-table.js';
import { kept } from '../../../fixtures/table-images.js';
import fc from 'fast-check';
import { UsageTable, usageEntries } from '../../core/billing/usage.js';

function add(t: UserTable, user: string, task: number, requests: number, duration: number): void {
  const b = Buffer.from(user, 'utf8');
  t.add(t.entry(b, 0, b.length, hashBytes(b, 0, b.length)), task, requests, duration);
}

describe('UserTable as the rows finalize reads', () => {
  it('ASCII ids (decoded in one pass) survive growth', () => {
    const t = new UserTable(2, 4);
    for (let i = 0; i < 5000; i++) add(t, `u${i}`, i % 2, 1, i);
    add(t, 'u7', 1, 2, 5);
    expect(t.size).toBe(5000);
    const got = usageEntries(t);
    expect(got.get('u0')).toEqual([{ requests: 1, durationMs: 0n }, { requests: 0, durationMs: 0n }]);
    expect(got.get('u7')).toEqual([{ requests: 0, durationMs: 0n }, { requests: 3, durationMs: 12n }]);
    expect(got.get('u4999')).toEqual([{ requests: 0, durationMs: 0n }, { requests: 1, durationMs: 4999n }]);
    expect(t.durationNumber(t.size - 1, 1)).toBe(4999);
  });

  it('non-ASCII ids, a leading U+FEFF kept as part of the id', () => {
    const t = new UserTable(1);
    for (const u of ['é', '\uFEFFbob', 'bob', '\u{1F600}x']) add(t, u, 0, 1, 1);
    expect([...usageEntries(t).keys()]).toEqual(['é', '\uFEFFbob', 'bob', '\u{1F600}x']);
  });

  it('byteOrder orders the keys by their bytes (shared prefixes, bytes above 0x7f, long keys out of line, one key a prefix of another)', () => {
    const byte = fc.oneof(fc.constantFrom(0x61, 0x62, 0x7f, 0x80, 0xc3, 0xff, 0x30, 0x00), fc.integer({ min: 0, max: 255 }));
    const key = fc.tuple(fc.constantFrom('', 'user', 'user1', 'a-very-long-shared-prefix-beyond-the-inline-bytes-'), fc.array(byte, { maxLength: 40 }));
    fc.assert(
      fc.property(fc.uniqueArray(key.map(([p, b]) => Buffer.concat([Buffer.from(p), Buffer.from(b)]).toString('latin1')).filter((k) => k.length > 0), { maxLength: 400 }), (keys) => {
        const t = new UserTable(1, 4);
        const bufs = keys.map((k) => Buffer.from(k, 'latin1'));
        for (const b of bufs) t.add(t.entry(b, 0, b.length, hashBytes(b, 0, b.length)), 0, 1, 1);
        const got = [...t.byteOrder()].map((e) => Buffer.from(t.key(e)).toString('latin1'));
        const want = [...bufs].sort(Buffer.compare).map((b) => b.toString('latin1'));
        expect(got).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it('byteOrder puts a key before its extensions by NUL bytes, wherever they fall in the four bytes sorted at once', () => {
    for (const x of ['', 'u', 'us', 'use', 'user', 'user-0123456789-0123456789']) {
      const keys = [...Array.from({ length: 10 }, (_, j) => x + '\0'.repeat(j)), x + '\x01', x + '\0\x01', x + '\0\0\0\0\x01', x + '\xff'].filter((k) => k.length > 0);
      const t = new UserTable(1, 4);
      const bufs = [...keys].reverse().map((k) => Buffer.from(k, 'latin1'));
      for (const b of bufs) t.add(t.entry(b, 0, b.length, hashBytes(b, 0, b.length)), 0, 1, 1);
      const got = [...t.byteOrder()].map((e) => Buffer.from(t.key(e)).toString('latin1'));
      expect(got).toEqual([...bufs].sort(Buffer.compare).map((b) => b.toString('latin1')));
    }
  });

  it('keys of one hash and one length are told apart by any byte, wherever they sit in the bytes looked up (keys compared by words)', () => {
    // Every key given the same hash, so that each lookup compares the key's bytes with those of
    // every entry of its length: keys around the word size and the inline limit, differing in
    // one byte anywhere, looked up again from other offsets of other buffers.
    const lengths = [1, 3, 4, 5, 7, 8, 9, 23, 24, 25, 28, 29, 36];
    // The changed byte: anywhere, or at the ends of the words compared (counted from the key's end when negative).
    const atArb = fc.oneof(fc.nat(), fc.constantFrom(0, 3, 4, -1, -4, -5));
    const keyArb = fc.tuple(fc.constantFrom(...lengths), atArb, fc.constantFrom(0x00, 0x74, 0x76, 0x80, 0xff)).map(([len, at, c]) => {
      const k = Buffer.alloc(len, 0x75);
      k[at >= 0 ? at % len : Math.max(0, len + at)] = c;
      return k.toString('latin1');
    });
    fc.assert(
      fc.property(fc.uniqueArray(keyArb, { maxLength: 200 }), fc.nat(7), fc.nat(7), (keys, pad1, pad2) => {
        const t = new UserTable(1, 4);
        const placed = (k: string, pad: number): [Buffer, number] => [Buffer.concat([Buffer.alloc(pad, 0x75), Buffer.from(k, 'latin1'), Buffer.alloc(3, 0x75)]), pad];
        keys.forEach((k) => {
          const [b, s] = placed(k, pad1);
          t.add(t.entry(b, s, s + k.length, 7), 0, 1, 1);
        });
        expect(t.size).toBe(keys.length);
        keys.forEach((k, e) => {
          const [b, s] = placed(k, pad2);
          expect(t.entry(b, s, s + k.length, 7)).toBe(e);
          expect(Buffer.from(t.key(e)).toString('latin1')).toBe(k);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a duration sum carried above 2^52 is exact and not offered as a number', () => {
    const t = new UserTable(2);
    add(t, 'big', 0, 1, 2 ** 52 - 1);
    add(t, 'big', 0, 1, 2 ** 52 - 1);
    add(t, 'big', 1, 1, 7);
    expect(t.durationNumber(0, 0)).toBe(-1);
    expect(t.duration(0, 0)).toBe(2n * (2n ** 52n - 1n));
    expect(t.durationNumber(0, 1)).toBe(7);
  });
});

describe('UserTable images: what a worker hands over', () => {
  it('fromImage keeps every entry; merge adds another image, keys inline and long, carries included', () => {
    const long = (i: number) => `${'x'.repeat(30)}-${i}`; // longer than the inline key bytes
    const a = new UserTable(2, 4);
    const b = new UserTable(2, 4);
    for (let i = 0; i < 3000; i++) {
      add(a, `u${i}`, 0, 1, i);
      add(a, long(i), 1, 1, 1);
      if (i % 2 === 0) {
        add(b, `u${i}`, 1, 2, 10);
        add(b, long(i), 1, 1, 2);
      }
    }
    add(b, 'only-b', 0, 1, 2 ** 52 - 1);
    add(b, 'only-b', 0, 1, 2 ** 52 - 1);
    const merged = UserTable.fromImage(a.image());
    expect(usageEntries(merged)).toEqual(usageEntries(a));
    merged.merge(b.image());
    const got = usageEntries(merged);
    expect(got.size).toBe(6001);
    expect(got.get('u2')).toEqual([{ requests: 1, durationMs: 2n }, { requests: 2, durationMs: 10n }]);
    expect(got.get('u3')).toEqual([{ requests: 1, durationMs: 3n }, { requests: 0, durationMs: 0n }]);
    expect(got.get(long(2))).toEqual([{ requests: 0, durationMs: 0n }, { requests: 2, durationMs: 3n }]);
    expect(got.get(long(3))).toEqual([{ requests: 0, durationMs: 0n }, { requests: 1, durationMs: 1n }]);
    expect(got.get('only-b')).toEqual([{ requests: 2, durationMs: 2n * (2n ** 52n - 1n) }, { requests: 0, durationMs: 0n }]);
    // Lookups still find what fromImage and merge put in.
    const k = Buffer.from(long(7));
    const e = merged.entry(k, 0, k.length, hashBytes(k, 0, k.length));
    expect(merged.userId(e)).toBe(long(7));
    expect(merged.size).toBe(6001);
  });
});

describe('UserTable carries durations by the rule of core UsageTable', () => {
  it('addBig and add agree with UserUsage for any mix of small and huge sums', () => {
    const amount = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 53n }), fc.bigInt({ min: 0n, max: 2n ** 70n }), fc.constantFrom(2n ** 52n - 1n, 2n ** 52n, 2n ** 52n + 1n));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.nat(1), fc.nat(3), amount), { maxLength: 40, size: 'medium' }), (ops) => {
        const core = new UsageTable(2);
        const t = new UserTable(2, 4);
        for (const [user, task, requests, d] of ops) {
          core.row(user).addBig(task, requests, d);
          const b = Buffer.from(user, 'utf8');
          t.addBig(t.entry(b, 0, b.length, hashBytes(b, 0, b.length)), task, requests, d);
        }
        expect(usageEntries(t)).toEqual(usageEntries(core));
      }),
    );
  });
});

describe('UserTable.addLater (batched lookups)', () => {
  it('gives the same table as add(entry()) for any lines, across batches, buffers and spills', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            // Ids of any length up to 40 bytes (most of them short), and ids past the 24 bytes a record holds.
            fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.nat(30).map((n) => `a-long-user-id-past-the-inline-bytes-${n}`)),
            fc.integer({ min: 0, max: 2 }),
            fc.integer({ min: 0, max: 2 ** 40 }),
          ),
          { maxLength: 400, size: 'medium' },
        ),
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        fc.constantFrom(0, 5, 1000),
        (lines, perBuffer, bounded, batchFrom) => {
          const direct = new UserTable(3, 4);
          const batched = new UserTable(3, 4, batchFrom);
          const spilled: Array<Map<string, unknown>> = [];
          // 17 users, and 120 bytes of ids longer than a record holds (keys of up to 40 bytes).
          if (bounded) {
            batched.spillWhenFull({ entries: 17, longKeyBytes: 120 }, (img) => {
              expect(img.size).toBeLessThanOrEqual(17);
              expect(img.overflow.length).toBeLessThanOrEqual(120);
              spilled.push(usageEntries(UserTable.fromImage(img)));
            });
          }
          for (let at = 0; at < lines.length; at += perBuffer) {
            // One buffer holds a few lines' keys, as a scanner's block does; flushed at its end.
            const chunk = lines.slice(at, at + perBuffer);
            const buf = Buffer.from(chunk.map(([u]) => u).join('\n'), 'utf8');
            let start = 0;
            for (const [u, task, duration] of chunk) {
              const end = start + Buffer.byteLength(u, 'utf8');
              direct.add(direct.entry(buf, start, end, hashBytes(buf, start, end)), task, 1, duration);
              batched.addLater(buf, start, end, hashBytes(buf, start, end) | 0, task, duration);
              start = end + 1;
            }
            if (at % (2 * perBuffer) === 0) batched.flushBatch(); // else the next buffer flushes it
          }
          batched.flushBatch();
          if (bounded && direct.size > 17) expect(spilled.length).toBeGreaterThan(0);
          // Spilled runs and the last table together hold what the direct table holds.
          const merged = new Map<string, Array<{ requests: number; durationMs: bigint }>>();
          for (const run of [...spilled, usageEntries(batched)] as Array<Map<string, Array<{ requests: number; durationMs: bigint }>>>) {
            for (const [u, tasks] of run) {
              const into = merged.get(u) ?? tasks.map(() => ({ requests: 0, durationMs: 0n }));
              tasks.forEach((c, t) => (into[t] = { requests: into[t]!.requests + c.requests, durationMs: into[t]!.durationMs + c.durationMs }));
              merged.set(u, into);
            }
          }
          const sorted = (m: Map<string, unknown>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          expect(sorted(merged)).toEqual(sorted(usageEntries(direct)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('spills no line twice and loses none when a spill comes while lines wait (a bound of long keys can spill a small table)', () => {
    // Batching from 2 users; at most 50 bytes of long keys: one 40-byte id at a time.
    const t = new UserTable(1, 16, 2);
    const images: TableImage[] = [];
    t.spillWhenFull({ entries: 100, longKeyBytes: 50 }, (img) => images.push(kept(img)));
    const id = (n: number) => `a-long-user-id-of-forty-bytes-number-${n}`;
    const add = (b: Buffer, key: string) => {
      const at = b.indexOf(key);
      t.addLater(b, at, at + key.length, hashBytes(b, at, at + key.length) | 0, 0, 1);
    };
    const a = Buffer.from(`u1 u2 ${id(1)}`);
    add(a, 'u1');
    add(a, 'u2');
    add(a, id(1)); // queued: the table holds 2 users
    add(Buffer.from(id(2)), id(2)); // id 1 added; id 2 queued
    const c = Buffer.from(`${id(3)} ${id(4)}`);
    add(c, id(3)); // id 2 added, spilling the table (two long ids); id 3 queued in a table of one user
    add(c, id(4)); // added now (a table of one user): it spills the table, with id 3, which waits, added first
    t.flushBatch();
    const users = [...images, t.sortedImage()].flatMap((img) => [...usageEntries(UserTable.fromImage(img)).keys()]);
    expect(users.sort()).toEqual(['u1', 'u2', id(1), id(2), id(3), id(4)].sort());
  });

  it('refuses to hand over a table with lines still waiting', () => {
    const t = new UserTable(1, 16, 0);
    const b = Buffer.from('u1');
    t.addLater(b, 0, 2, hashBytes(b, 0, 2), 0, 5);
    expect(() => t.sortedImage()).toThrow(/not flushed/);
    t.flushBatch();
    expect(t.sortedImage().size).toBe(1);
  });
});
