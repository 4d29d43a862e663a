import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BLOCK_BYTES, SharedBytes, renderBillRange } from './bill-render.js';
import { UserTable, hashBytes } from '../scan/user-table.js';
import { writeBillFiles } from '../../core/outputs/bill.js';
import type { ByteSink } from '../../core/outputs/staged.js';
import { UsageTable } from '../../core/billing/usage.js';
import { billingConfigFromEnv, billingConfigFromPlan } from '../../core/config/config.js';
import { planFromData } from '../../core/pricing/plan.js';
import { TaskColumns } from '../scan/task-columns.js';

const concat = (blocks: readonly Uint8Array[]) => Buffer.concat(blocks.map((b) => Buffer.from(b.buffer, b.byteOffset, b.length)));

describe('SharedBytes', () => {
  it('keeps every byte written, in order, in blocks of shared memory, whatever the writes', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 3 * BLOCK_BYTES }), fc.integer({ min: 0, max: 300 })), { maxLength: 8 }), (sizes) => {
        const sink = new SharedBytes([]);
        const written = sizes.map((n, i) => Buffer.alloc(n, i + 1));
        for (const w of written) sink.write(w);
        const blocks = sink.blocks();
        for (const b of blocks) {
          expect(b.buffer).toBeInstanceOf(SharedArrayBuffer);
          expect(b.length).toBeGreaterThan(0);
        }
        expect(concat(blocks).equals(Buffer.concat(written))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('writes text as UTF-8', () => {
    const sink = new SharedBytes([]);
    sink.write('é,😀\n');
    expect(concat(sink.blocks()).toString('utf8')).toBe('é,😀\n');
  });

  it('fills the spare blocks it is given before it takes new memory, and shares them between its sinks', () => {
    const spare = [new Uint8Array(new SharedArrayBuffer(BLOCK_BYTES)), new Uint8Array(new SharedArrayBuffer(BLOCK_BYTES))];
    const given = new Set(spare.map((b) => b.buffer));
    spare[0]!.fill(7);
    const pool = [...spare];
    const bill = new SharedBytes(pool);
    const detail = new SharedBytes(pool);
    bill.write('bill\n');
    detail.write(Buffer.alloc(BLOCK_BYTES + 10, 1));
    expect(pool).toEqual([]);
    expect(given.has(bill.blocks()[0]!.buffer as SharedArrayBuffer)).toBe(true);
    const d = detail.blocks();
    expect(d.length).toBe(2); // the spare block, filled, then a new one
    expect(given.has(d[0]!.buffer as SharedArrayBuffer)).toBe(true);
    expect(given.has(d[1]!.buffer as SharedArrayBuffer)).toBe(false);
    // A reused block holds only what was written into it now.
    expect(concat(bill.blocks()).toString()).toBe('bill\n');
    expect(concat(d).equals(Buffer.alloc(BLOCK_BYTES + 10, 1))).toBe(true);
  });

  it('hands out room in its blocks to encode into in place, mixed with writes, in order', () => {
    const sink = new SharedBytes([]);
    const expected: Buffer[] = [];
    let room = sink.room(0);
    expect(room.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(room.length).toBe(BLOCK_BYTES);
    room.write('in place,', 0, 'latin1');
    sink.filled(9);
    expected.push(Buffer.from('in place,'));
    sink.write('copied,');
    expected.push(Buffer.from('copied,'));
    // Nearly all of the block filled: the next room is another block.
    const most = BLOCK_BYTES - 16 - 40;
    room = sink.room(most);
    room.fill(2, 0, most);
    sink.filled(most);
    expected.push(Buffer.alloc(most, 2));
    room = sink.room(0);
    expect(room.length).toBe(BLOCK_BYTES);
    room.fill(3, 0, 5);
    sink.filled(5);
    expected.push(Buffer.alloc(5, 3));
    // More room than a block: a block as large; room asked again replaces the room given before.
    sink.room(10);
    room = sink.room(3 * BLOCK_BYTES);
    expect(room.length).toBeGreaterThanOrEqual(3 * BLOCK_BYTES);
    room.fill(4);
    sink.filled(room.length);
    expected.push(Buffer.alloc(room.length, 4));
    expect(() => sink.filled(1)).toThrow('filled past its block');
    expect(concat(sink.blocks()).equals(Buffer.concat(expected))).toBe(true);
  });

  it('an empty sink has no block', () => {
    const sink = new SharedBytes([]);
    sink.write('');
    expect(sink.blocks()).toEqual([]);
  });
});

/** A sink that is only written to (as a staged file is): what the writers' bytes are. */
class Written implements ByteSink {
  readonly parts: Buffer[] = [];
  write(data: string | Uint8Array): void {
    this.parts.push(Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)));
  }
}

describe('the bill writers into SharedBytes (encoded in place)', () => {
  const plan = planFromData({ version: 1, currency_decimals: 2, tasks: { login: { per_ms: '0.001', per_request: '0.5' }, 'b,x': { per_ms: '1' } }, customers: { zoë: { discount: '10%' } } });
  const cases = [
    ['flat rates', billingConfigFromEnv({ RATE_login: '0.005', 'RATE_b,x': '0.000000000001' }), undefined],
    ['a pricing plan', billingConfigFromPlan({}, plan), plan],
  ] as const;
  it.each(cases)('under %s, write the bytes they write into a plain sink, over many blocks, with ids that need quoting and long ones', async (_what, config, p) => {
    const t = new UsageTable(config.rates.length);
    const ids = ['zoë', 'a"b', 'c,d', 'x'.repeat(128), 'é'.repeat(64), '😀'];
    for (let i = 0; i < 40_000; i++) t.add(i < ids.length ? ids[i]! : `user${i}`, i % config.rates.length, 1 + (i % 3), i * 7);
    const plain = [new Written(), new Written()];
    const shared = [new SharedBytes([]), new SharedBytes([])];
    const a = await writeBillFiles(t, config, p, plain[0]!, plain[1]!);
    const b = await writeBillFiles(t, config, p, shared[0]!, shared[1]!);
    expect(b).toEqual(a);
    for (let k = 0; k < 2; k++) expect(concat(shared[k]!.blocks()).equals(Buffer.concat(plain[k]!.parts))).toBe(true);
    expect(shared[1]!.blocks().length).toBeGreaterThan(1);
  });
});

describe('renderBillRange', () => {
  it('fills the spare blocks it is given and hands back those it did not fill', async () => {
    const config = billingConfigFromEnv({ RATE_login: '0.005' });
    const t = new UserTable(1);
    for (let i = 0; i < 100; i++) {
      const b = Buffer.from(`user${i}`);
      t.addNow(b, 0, b.length, hashBytes(b, 0, b.length), 0, 1, i);
    }
    const img = t.sortedImage(true);
    const given = Array.from({ length: 5 }, () => new Uint8Array(new SharedArrayBuffer(BLOCK_BYTES)));
    const r = await renderBillRange({ tables: [{ image: img, runs: [], columns: TaskColumns.everyTask(1).columns() }], ranges: [[0, 100]], config, header: true, stop: new SharedArrayBuffer(4), spare: given });
    // A small range: one block of bill, one of detail, both spare ones; three handed back.
    expect(r.bill).toHaveLength(1);
    expect(r.detail).toHaveLength(1);
    expect(r.spare).toHaveLength(3);
    const buffers = [...r.bill, ...r.detail, ...r.spare].map((b) => b.buffer);
    expect(new Set(buffers)).toEqual(new Set(given.map((b) => b.buffer)));
    expect(concat(r.detail).toString().split('\n')[0]).toBe('user,task,requests,duration_ms,rate,cost,cost_rounded');
    expect(r.totals.users).toBe(100);
  });
});
