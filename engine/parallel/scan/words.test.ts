import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WordLiteral } from './words.js';

/** What WordLiteral.at answers, byte by byte. */
function holds(x: Uint8Array, b: Uint8Array, i: number): boolean {
  if (i < 0 || i + x.length > b.length) return false;
  return x.every((c, k) => b[i + k] === c);
}

describe('WordLiteral', () => {
  it('finds its bytes exactly where they are, of any length, and never past the buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 23 }), fc.uint8Array({ maxLength: 40 }), fc.nat(), fc.integer({ min: -2, max: 45 }), (x, rest, cut, i) => {
        // The literal placed in the buffer, sometimes cut short by its end, so that `at` meets both answers.
        const placed = Buffer.concat([rest.subarray(0, cut % (rest.length + 1)), x, rest.subarray(cut % (rest.length + 1))]);
        const b = placed.subarray(0, placed.length - (cut % 3));
        const literal = new WordLiteral(x);
        expect(literal.length).toBe(x.length);
        expect(literal.at(b, i)).toBe(holds(x, b, i));
        const at = cut % (rest.length + 1);
        expect(literal.at(b, at)).toBe(holds(x, b, at));
      }),
      { numRuns: 3000 },
    );
  });

  it('tells apart bytes that differ in any position, the overlapping last word included', () => {
    for (const text of ['{"timestamp":"', '","user":"', 'abcd', 'abcde', 'abc', 'a', '']) {
      const x = Buffer.from(text, 'latin1');
      const literal = new WordLiteral(x);
      const b = Buffer.concat([Buffer.from('..'), x, Buffer.from('..')]);
      expect(literal.at(b, 2)).toBe(true);
      for (let k = 0; k < x.length; k++) {
        const c = Buffer.from(b);
        c[2 + k] ^= 0x20;
        expect(literal.at(c, 2)).toBe(false);
      }
      // At the buffer's very end, and one byte short of it.
      expect(literal.at(x, 0)).toBe(true);
      expect(literal.at(x.subarray(0, Math.max(0, x.length - 1)), 0)).toBe(x.length === 0);
    }
  });
});
