import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { countText } from './count-text.js';

describe('countText', () => {
  it('writes whole numbers and bigints as toLocaleString("en-US") does', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n })), (n) => {
        expect(countText(n)).toBe(n.toLocaleString('en-US'));
      }),
      { numRuns: 2000 },
    );
    for (const n of [0, 7, 999, 1000, 12345, 999999, 1000000, -1000, 2 ** 53]) expect(countText(n)).toBe(n.toLocaleString('en-US'));
    expect(countText(1234567)).toBe('1,234,567');
  });
});
