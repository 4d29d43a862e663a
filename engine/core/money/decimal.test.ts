import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ExactSum, cost, formatExact, formatFixed, parseDecimal, plus, roundHalfUp } from './decimal.js';

const P = 10n ** 12n;

describe('parseDecimal (rates: ^\\d+(\\.\\d{1,12})?$ in picos)', () => {
  it.each([
    ['0', 0n],
    ['0.005', 5_000_000_000n],
    ['1', P],
    ['0.000000000001', 1n],
    ['999999.999999999999', 999999n * P + 999_999_999_999n],
    ['007.50', 7n * P + 500_000_000_000n],
    ['12345678901234567890', 12345678901234567890n * P],
  ])('%s', (text, picos) => {
    expect(parseDecimal(text)).toBe(picos);
  });

  it.each(['', '.5', '5.', '-1', '+1', '1e3', '0.0000000000001', '1,5', ' 1', '1 ', '0x10', 'NaN', 'Infinity', '１'])(
    'rejects %j',
    (text) => {
      expect(parseDecimal(text)).toBeNull();
    },
  );
});

describe('formatExact', () => {
  it.each([
    [0n, '0'],
    [5_000_000_000n, '0.005'],
    [P, '1'],
    [1n, '0.000000000001'],
    [42n * P + 500_000_000_000n, '42.5'],
    [12n * P + 1n, '12.000000000001'],
  ])('%s picos → %s', (picos, text) => {
    expect(formatExact(picos)).toBe(text);
  });

  it('round-trips with parseDecimal', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), (picos) => {
        expect(parseDecimal(formatExact(picos))).toBe(picos);
      }),
    );
  });
});

describe('roundHalfUp / formatFixed', () => {
  it('rounds half a cent up, just below half down', () => {
    expect(formatFixed(roundHalfUp(5_000_000_000n, 2), 2)).toBe('0.01'); // 0.005 → 0.01
    expect(formatFixed(roundHalfUp(4_999_999_999n, 2), 2)).toBe('0.00'); // 0.004999999999 → 0.00
    expect(formatFixed(roundHalfUp(15_000_000_000n, 2), 2)).toBe('0.02'); // 0.015 (a float would say 0.01)
    expect(formatFixed(roundHalfUp(25_000_000_000n, 2), 2)).toBe('0.03'); // half-up, not half-even
    expect(formatFixed(roundHalfUp(1n, 2), 2)).toBe('0.00');
  });

  it('0 decimals: no decimal point', () => {
    expect(formatFixed(roundHalfUp(P / 2n, 0), 0)).toBe('1');
    expect(formatFixed(roundHalfUp(P / 2n - 1n, 0), 0)).toBe('0');
    expect(formatFixed(roundHalfUp(42n * P, 0), 0)).toBe('42');
  });

  it('12 decimals: exact', () => {
    expect(formatFixed(roundHalfUp(1n, 12), 12)).toBe('0.000000000001');
    expect(formatFixed(roundHalfUp(12n * P + 1n, 12), 12)).toBe('12.000000000001');
  });

  it('pads small amounts', () => {
    expect(formatFixed(0n, 2)).toBe('0.00');
    expect(formatFixed(7n, 2)).toBe('0.07');
    expect(formatFixed(4250n, 2)).toBe('42.50');
    expect(formatFixed(5n, 3)).toBe('0.005');
  });

  it('agrees with a decimal-string rounding for any amount and precision', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 28n }), fc.integer({ min: 0, max: 12 }), (picos, d) => {
        // Independent: round the 12-digit decimal text by looking at the first dropped digit.
        const s = picos.toString().padStart(13, '0');
        const whole = s.slice(0, -12);
        const frac = s.slice(-12);
        let units = BigInt(whole + frac.slice(0, d));
        if (d < 12 && frac.charCodeAt(d) >= 53) units += 1n;
        expect(roundHalfUp(picos, d)).toBe(units);
      }),
    );
  });

  it('refuses negative amounts', () => {
    expect(() => roundHalfUp(-1n, 2)).toThrow(RangeError);
  });
});

describe('cost', () => {
  it('is duration × rate exactly, far beyond 2^53', () => {
    const rate = parseDecimal('999999.999999999999')!;
    const d = 2n ** 40n * 1_000_000n;
    expect(cost(d, rate)).toBe(d * 999999999999999999n);
    expect(formatExact(cost(3n, parseDecimal('0.0005')!))).toBe('0.0015');
    expect(formatExact(cost(1n, parseDecimal('0.000000000001')!))).toBe('0.000000000001');
  });
});

describe('safe-integer numbers: the same text as the equal bigint', () => {
  const MAX = Number.MAX_SAFE_INTEGER;
  // Amounts near the top of the safe range, near multiples of the scale and of every rounding divisor, and anywhere.
  const edges = fc.oneof(
    fc.integer({ min: 0, max: MAX }),
    fc.integer({ min: MAX - 5_000_000, max: MAX }),
    fc.tuple(fc.integer({ min: 0, max: 9007 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: -2, max: 2 })).map(([k, d, e]) => {
      const v = k * 10 ** (12 - d) + e;
      return Math.min(MAX, Math.max(0, v));
    }),
  );

  it('formatExact, roundHalfUp and formatFixed', () => {
    fc.assert(
      fc.property(edges, fc.integer({ min: 0, max: 12 }), (n, d) => {
        expect(Number.isSafeInteger(n)).toBe(true);
        expect(formatExact(n)).toBe(formatExact(BigInt(n)));
        const r = roundHalfUp(n, d);
        expect(typeof r).toBe('number');
        expect(BigInt(r)).toBe(roundHalfUp(BigInt(n), d));
        expect(formatFixed(r, d)).toBe(formatFixed(roundHalfUp(BigInt(n), d), d));
      }),
      { numRuns: 20_000 },
    );
  });

  it('the very top of the safe range', () => {
    for (const n of [MAX, MAX - 1, 9_007_000_000_000_000, 8_999_999_999_999_999, 1e12, 1e12 - 1, 5e11, 5e11 - 1]) {
      expect(formatExact(n)).toBe(formatExact(BigInt(n)));
      for (let d = 0; d <= 12; d++) expect(BigInt(roundHalfUp(n, d)), `${n} at ${d}`).toBe(roundHalfUp(BigInt(n), d));
    }
  });

  it('plus stays a number while safe and turns bigint beyond, exactly', () => {
    expect(plus(1, 2)).toBe(3);
    expect(plus(MAX - 1, 1)).toBe(MAX);
    expect(plus(MAX, 1)).toBe(2n ** 53n);
    expect(plus(MAX, MAX)).toBe(2n * BigInt(MAX));
    expect(plus(5n, 7)).toBe(12n);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX }), fc.integer({ min: 0, max: MAX }), (a, b) => {
        const s = plus(a, b);
        expect(BigInt(s)).toBe(BigInt(a) + BigInt(b));
        if (typeof s === 'number') expect(Number.isSafeInteger(s)).toBe(true);
      }),
    );
  });

  it('ExactSum is the exact sum of any amounts, numbers and bigints mixed, across the top of the safe range', () => {
    const s = new ExactSum();
    expect(s.value()).toBe(0n);
    for (const a of [MAX - 1, 1, 1, MAX, 0, 7n, MAX]) s.add(a);
    expect(s.value()).toBe(3n * BigInt(MAX) + 8n);
    // A number part that would land on 2^53 + 1, which no double holds: carried, not rounded.
    const odd = new ExactSum();
    odd.add(MAX);
    odd.add(2);
    expect(odd.value()).toBe(2n ** 53n + 1n);
    const amount = fc.oneof(edges, fc.bigInt({ min: 0n, max: 2n ** 70n }));
    fc.assert(
      fc.property(fc.array(amount, { maxLength: 60 }), (amounts) => {
        const sum = new ExactSum();
        let expected = 0n;
        for (const a of amounts) {
          sum.add(a);
          expected += BigInt(a);
          expect(sum.value()).toBe(expected);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
