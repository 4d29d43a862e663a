import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareUtf8 } from './order.js';
import { UsageTable, addCounts, emptyCounts } from './usage.js';
import { REJECT_REASONS } from '../validation/reasons.js';
import { emptyTally } from '../dedupe/dedupe.js';
import { collectBill } from './finalize.js';
import { billingConfigFromEnv } from '../config/config.js';
import { roundHalfUp } from '../money/decimal.js';

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

describe('addCounts: one merge for counts by reason and by reason index', () => {
  it('merges any mix of the two shapes to the same totals', () => {
    const byName = emptyCounts();
    byName.records = 5;
    byName.accepted = 2;
    byName.outOfWindow = 1;
    byName.rejected.bad_user = 2;
    byName.unknownTasks.set('x', 1);
    byName.duplicates = 4;
    byName.conflictingDuplicates = 1;
    const byIndex = { records: 7, accepted: 3, outOfWindow: 0, rejected: REJECT_REASONS.map((_, i) => i), unknownTasks: new Map([['x', 2], ['y', 1]]), ...emptyTally(), duplicates: 2 };
    const a = emptyCounts();
    addCounts(a, byName);
    addCounts(a, byIndex);
    const b = { records: 0, accepted: 0, outOfWindow: 0, rejected: REJECT_REASONS.map(() => 0), unknownTasks: new Map<string, number>(), ...emptyTally() };
    addCounts(b, byIndex);
    addCounts(b, byName);
    expect(a.records).toBe(12);
    expect(a.accepted).toBe(5);
    expect(a.outOfWindow).toBe(1);
    expect([a.duplicates, a.conflictingDuplicates, b.duplicates]).toEqual([6, 1, 6]);
    expect(REJECT_REASONS.map((r) => a.rejected[r])).toEqual(b.rejected);
    expect(a.rejected.bad_user).toBe(REJECT_REASONS.indexOf('bad_user') + 2);
    expect(a.unknownTasks).toEqual(new Map([['x', 3], ['y', 1]]));
    expect(b.unknownTasks).toEqual(a.unknownTasks);
  });
});

describe('finalizeBill (through collectBill)', () => {
  it('orders users by UTF-8 bytes with and without characters above U+FFFF (native sort only without)', async () => {
    const config = billingConfigFromEnv({ RATE_x: '1' });
    const order = async (users: string[]) => {
      const t = new UsageTable(1);
      for (const u of users) t.add(u, 0, 1, 1);
      return (await collectBill(t, config)).bills.map((u) => u.user);
    };
    expect(await order(['é', 'b', 'Z', '\uFF5E', 'a'])).toEqual(['Z', 'a', 'b', 'é', '\uFF5E']);
    // UTF-16 would put U+1F600 (a surrogate pair) before U+FF5E; UTF-8 puts it after.
    expect(await order(['\u{1F600}', '\uFF5E', 'a', '\uE000'])).toEqual(['a', '\uE000', '\uFF5E', '\u{1F600}']);
  });

  it('cost per (user, task) exact; user total = exact sum rounded once half-up; users in byte order', async () => {
    const config = billingConfigFromEnv({ RATE_x: '0.005', RATE_y: '0.0005' });
    const t = new UsageTable(2);
    t.add('é', 0, 1, 1);
    t.add('b', 1, 1, 9);
    t.add('b', 1, 1, 1);
    t.add('b', 0, 3, 3);
    const bill = await collectBill(t, config);
    expect(bill.bills.map((u) => u.user)).toEqual(['b', 'é']);
    expect(bill.users).toBe(2);
    const b = bill.bills[0]!;
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

describe('finalizeBill: the number fast path gives the same money as bigint arithmetic', () => {
  it('at the edge of the fast path: durations whose cost is the largest safe integer, and one past it', async () => {
    // A rate with twelve decimals makes a product past 2^53 inexact as a number (9,007,199 ms at 0.001000000029 is).
    for (const rate of ['0.001000000029', '0.005738791228', '12345.678', '1', '0.999999999999']) {
      const config = billingConfigFromEnv({ RATE_t: rate, CURRENCY_DECIMALS: '2' });
      const picos = config.rates[0]!.picos;
      const safe = BigInt(Number.MAX_SAFE_INTEGER) / picos;
      const t = new UsageTable(1);
      const durations = [safe - 1n, safe, safe + 1n, safe + 2n, safe * 2n + 1n].filter((d) => d >= 0n);
      durations.forEach((d, i) => t.add(`u${i}`, 0, 1, Number(d)));
      const bill = await collectBill(t, config);
      expect(bill.bills.map((b) => [b.user, BigInt(b.tasks[0]!.durationMs), BigInt(b.costPicos)]), rate).toEqual(durations.map((d, i) => [`u${i}`, d, d * picos]));
    }
  });

  it('for small and huge durations, tiny and huge rates, any decimals', async () => {
    const rateText = fc.oneof(
      fc.constantFrom('0', '0.005', '0.000000000001', '1', '999999.999999999999', '12345.678', '0.123456789012'),
      fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 999_999_999 })).map(([w, f]) => `${w}.${f}`),
      // Twelve significant fractional digits: products cross 2^53 at durations of a few thousand to a few million.
      fc.tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 1, max: 999_999_999_999 })).map(([w, f]) => `${w}.${String(f).padStart(12, '0')}`),
    );
    const duration = fc.oneof(
      fc.integer({ min: 0, max: 100_000 }),
      fc.integer({ min: 0, max: 2 ** 24 }),
      fc.integer({ min: 0, max: 2 ** 44 }),
      fc.constant(2 ** 52 - 1),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(rateText, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.nat(), fc.integer({ min: 1, max: 3 }), duration), { maxLength: 40, size: 'medium' }),
        async (rates, decimals, adds) => {
          const env: Record<string, string> = { CURRENCY_DECIMALS: String(decimals) };
          rates.forEach((r, i) => (env[`RATE_t${i}`] = r));
          const config = billingConfigFromEnv(env);
          const T = config.rates.length;
          const t = new UsageTable(T);
          const want = new Map<string, bigint[]>();
          for (const [u, task, n, d] of adds) {
            t.add(`u${u}`, task % T, n, d);
            const row = want.get(`u${u}`) ?? Array.from({ length: T }, () => 0n);
            row[task % T] = row[task % T]! + BigInt(d);
            want.set(`u${u}`, row);
          }
          const bill = await collectBill(t, config);
          let total = 0n;
          let billed = 0n;
          for (const b of bill.bills) {
            let cost = 0n;
            const row = want.get(b.user)!;
            for (const line of b.tasks) {
              const k = config.rates.findIndex((r) => r.task === line.task);
              expect(line.durationMs).toBe(row[k]!);
              expect(line.costPicos).toBe(row[k]! * config.rates[k]!.picos);
              expect(line.costRounded).toBe(roundHalfUp(line.costPicos, decimals));
              cost += line.costPicos;
            }
            expect(b.costPicos).toBe(cost);
            expect(b.costRounded).toBe(roundHalfUp(cost, decimals));
            expect(b.durationMs).toBe(row.reduce((a, x) => a + x, 0n));
            total += cost;
            billed += b.costRounded;
          }
          expect(bill.totalCostPicos).toBe(total);
          expect(bill.totalBilled).toBe(billed);
          expect(bill.users).toBe(want.size);
        },
      ),
      { numRuns: 300 },
    );
  });
});
