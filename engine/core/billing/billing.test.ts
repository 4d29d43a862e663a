import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareUtf8 } from './order.js';
import { UsageTable } from './usage.js';
import { finalizeBill } from './finalize.js';
import { billingConfigFromEnv } from '../config/config.js';

const bytewise = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));

describe('compareUtf8: the order of UTF-8 bytes', () => {
  it('Z < _ < a < é < U+FF5E < 😀 < U+10FFFF (UTF-16 order would put 😀 before U+FF5E)', () => {
    const ids = ['\u{10ffff}', '😀', '\uff5e', 'é', 'a', '_', 'Z', '\uffff', 'ab', 'a\u0000'];
    expect([...ids].sort(compareUtf8)).toEqual(['Z', '_', 'a', 'a\u0000', 'ab', 'é', '\uff5e', '\uffff', '😀', '\u{10ffff}']);
  });

  it('agrees with Buffer.compare on arbitrary well-formed strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 8 }), fc.string({ unit: 'grapheme-composite', maxLength: 8 }), (a, b) => {
        expect(Math.sign(compareUtf8(a, b))).toBe(bytewise(a, b));
      }),
      { numRuns: 3000 },
    );
    const unit = fc.constantFrom('a', 'z', '\u00e9', '\u0800', '\ud7ff', '\ue000', '\uff5e', '\uffff', '😀', '\u{10000}', '\u{10ffff}');
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 5 }), fc.array(unit, { maxLength: 5 }), (a, b) => {
        expect(Math.sign(compareUtf8(a.join(''), b.join('')))).toBe(bytewise(a.join(''), b.join('')));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('UsageTable: exact sums at any size', () => {
  it('carries sums past 2^52 into bigints without rounding', () => {
    const t = new UsageTable(1);
    const d = 2 ** 40;
    for (let i = 0; i < 10_000; i++) t.add('whale', 0, 1, d - (i % 3));
    let want = 0n;
    for (let i = 0; i < 10_000; i++) want += BigInt(d - (i % 3));
    expect(t.users.get('whale')!.durationOf(0)).toBe(want);
    expect(want > 2n ** 53n).toBe(true);
  });

  it('merge adds tables exactly; __proto__ is an ordinary user', () => {
    const a = new UsageTable(2);
    const b = new UsageTable(2);
    a.add('__proto__', 0, 1, 5);
    b.add('__proto__', 0, 2, 7);
    b.add('constructor', 1, 1, 2 ** 51);
    b.add('constructor', 1, 1, 2 ** 51);
    a.merge(b);
    expect(a.users.get('__proto__')!.durationOf(0)).toBe(12n);
    expect(a.users.get('__proto__')!.requests[0]).toBe(3);
    expect(a.users.get('constructor')!.durationOf(1)).toBe(2n ** 52n);
  });
});

describe('finalizeBill', () => {
  it('orders users by UTF-8 bytes with and without characters above U+FFFF (native sort only without)', () => {
    const config = billingConfigFromEnv({ RATE_x: '1' });
    const order = (users: string[]) => {
      const t = new UsageTable(1);
      for (const u of users) t.add(u, 0, 1, 1);
      return finalizeBill(t, config).users.map((u) => u.user);
    };
    expect(order(['é', 'b', 'Z', '\uFF5E', 'a'])).toEqual(['Z', 'a', 'b', 'é', '\uFF5E']);
    // UTF-16 would put U+1F600 (a surrogate pair) before U+FF5E; UTF-8 puts it after.
    expect(order(['\u{1F600}', '\uFF5E', 'a', '\uE000'])).toEqual(['a', '\uE000', '\uFF5E', '\u{1F600}']);
  });

  it('cost per (user, task) exact; user total = exact sum rounded once half-up; users in byte order', () => {
    const config = billingConfigFromEnv({ RATE_x: '0.005', RATE_y: '0.0005' });
    const t = new UsageTable(2);
    t.add('é', 0, 1, 1);
    t.add('b', 1, 1, 9);
    t.add('b', 1, 1, 1);
    t.add('b', 0, 3, 3);
    const bill = finalizeBill(t, config);
    expect(bill.users.map((u) => u.user)).toEqual(['b', 'é']);
    const b = bill.users[0]!;
    expect(b.durationMs).toBe(13n);
    expect(b.costPicos).toBe(15_000_000_000n + 5_000_000_000n); // 0.015 + 0.005
    expect(b.costRounded).toBe(2n); // 0.02
    expect(b.tasks.map((x) => [x.task, x.requests, x.durationMs, x.costRounded])).toEqual([
      ['x', 3, 3n, 2n],
      ['y', 2, 10n, 1n],
    ]);
    expect(bill.totalBilled).toBe(3n);
    expect(bill.totalCostPicos).toBe(25_000_000_000n);
  });
});
