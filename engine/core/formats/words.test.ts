import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DIGIT_ZEROS, WordLiteral, WordReader, leadingDigits, leadingValue } from './words.js';

/** What WordLiteral.at answers, byte by byte. */
function holds(x: Uint8Array, b: Uint8Array, i: number): boolean {
  if (i < 0 || i + x.length > b.length) return false;
  return x.every((c, k) => b[i + k] === c);
}

describe('WordReader', () => {
  it("gives each buffer asked for its own bytes' view, of one or two kept, whatever the order of buffers (subarrays of one memory among them), forget() included", () => {
    const memory = Uint8Array.from({ length: 64 }, (_, i) => i);
    const buffers = [memory.subarray(0, 16), memory.subarray(20, 40), Uint8Array.from({ length: 8 }, (_, i) => 100 + i)];
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 1, maxLength: 30 }), (two, order) => {
        const reader = new WordReader(two);
        for (const k of order) {
          if (k < 0) {
            reader.forget();
            continue;
          }
          const b = buffers[k]!;
          const v = reader.of(b);
          expect(v.byteLength).toBe(b.length);
          expect(v.getInt32(4, true)).toBe(new DataView(b.buffer, b.byteOffset, b.length).getInt32(4, true));
        }
      }),
    );
  });
});

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

/** What leadingDigits and leadingValue answer, byte by byte: the digits at the start of four bytes and their number. */
function digitsOf(bytes: readonly number[]): { n: number; value: number } {
  let n = 0;
  let value = 0;
  while (n < 4 && bytes[n]! >= 48 && bytes[n]! <= 57) value = value * 10 + bytes[n++]! - 48;
  return { n, value };
}

describe('leadingDigits and leadingValue', () => {
  const wordOf = (bytes: readonly number[]) => Buffer.from(bytes).readInt32LE(0) ^ DIGIT_ZEROS;

  it('count and read the digits at the start of every word of digits and the bytes next to them', () => {
    // Every byte value that borders a digit's or a flag's test, in each of the four places.
    const edges = [0, 1, 9, 0x20, 0x2f, 0x30, 0x31, 0x35, 0x38, 0x39, 0x3a, 0x3f, 0x40, 0x6d, 0x7f, 0x80, 0xb0, 0xb9, 0xc6, 0xf0, 0xff];
    for (const a of edges) for (const b of edges) for (const c of edges) for (const d of edges) {
      const bytes = [a, b, c, d];
      const want = digitsOf(bytes);
      const x = wordOf(bytes);
      const n = leadingDigits(x);
      if (n !== want.n || leadingValue(x, n) !== want.value) expect({ bytes, n, value: leadingValue(x, n) }).toEqual({ bytes, ...want });
    }
  });

  it('agree with the byte loop on random words', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 48, max: 57 }), fc.integer({ min: 0, max: 255 })), { minLength: 4, maxLength: 4 }), (bytes) => {
        const x = wordOf(bytes);
        const n = leadingDigits(x);
        expect({ n, value: leadingValue(x, n) }).toEqual(digitsOf(bytes));
      }),
      { numRuns: 20000 },
    );
  });
});
