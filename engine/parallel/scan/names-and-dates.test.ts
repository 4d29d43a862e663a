/**
 * The two lookups every fast path makes per line, against their definitions: ByteNames
 * (a configured name's index, else -1) against a scan of the list, and DateTimes (a common
 * timestamp's epoch seconds, else NaN) against core's parseTimestamp, including dates that
 * share a cache slot and invalid dates asked for again after a valid one.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteNames, DateTimes, NameTokens, byteClass } from './fast-lines.js';
import { parseTimestamp } from '../../core/validation/timestamp.js';

function listIndex(names: readonly string[], text: string): number {
  return names.indexOf(text);
}

describe('ByteNames', () => {
  const nameArb = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('login', 'logia', 'lxgin', 'l', '', 'é', 'loginn', 'ogin'));
  it('finds exactly the names of its list, the first of duplicates, wherever the bytes sit', () => {
    fc.assert(
      fc.property(fc.array(nameArb, { maxLength: 12 }), fc.array(nameArb, { maxLength: 12 }), fc.nat(5), (names, probes, pad) => {
        const index = new ByteNames(names);
        for (const text of [...names, ...probes]) {
          const b = Buffer.concat([Buffer.alloc(pad, 'x'), Buffer.from(text, 'utf8'), Buffer.from('y')]);
          expect(index.find(b, pad, pad + Buffer.byteLength(text))).toBe(listIndex(names, text));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('tells apart names of the same length, first and last byte (one slot)', () => {
    const names = ['axxb', 'ayyb', 'azzb', 'ab', 'a'];
    const index = new ByteNames(names);
    for (const [t, n] of names.entries()) expect(index.find(Buffer.from(n), 0, n.length)).toBe(t);
    expect(index.find(Buffer.from('awwb'), 0, 4)).toBe(-1);
    expect(index.find(Buffer.from(''), 0, 0)).toBe(-1);
  });
});

describe('NameTokens', () => {
  /** The three formats' task fields: the bytes of the token, and what must follow it. */
  const SHAPES = [
    { name: 'space format', inner: (c: number) => c >= 0x21 && c <= 0x7e, ends: [32, 9] },
    { name: 'CSV', inner: (c: number) => c > 0x20 && c < 0x7f && c !== 44 && c !== 34, ends: [44] },
    { name: 'JSON string', inner: (c: number) => c >= 0x20 && c < 0x7f && c !== 34 && c !== 92, ends: [34] },
  ];

  /**
   * The definition: the token is the longest run of inner bytes from s, not empty (a task is
   * never named by no bytes: the configuration refuses it); an end byte must follow it; then
   * ByteNames.find.
   */
  function scannedToken(names: ByteNames, inner: (c: number) => boolean, ends: readonly number[], b: Buffer, s: number): number {
    let i = s;
    while (i < b.length && inner(b[i]!)) i++;
    return i > s && i < b.length && ends.includes(b[i]!) ? names.find(b, s, i) : -1;
  }

  for (const shape of SHAPES) {
    it(`${shape.name}: the name the token at s is when an end byte follows it, as scanning it and calling find says`, () => {
      // Names sharing first bytes and prefixes, with bytes outside the class, duplicates, empty; tokens cut anywhere.
      // Long names too (compared by words): of one first byte, differing in one byte anywhere.
      const piece = fc.constantFrom('login', 'log', 'logi', 'loginx', 'Login', 'l', 'é', 'lé', 'a b', 'a', 'a,b', 'a"b', 'a\\b', '', '\x7f', 'x', 'updateInventory', 'updateInventorx', 'updateInventor', 'updbteInventory', 'getUserProfile', 'getUserProfilf');
      const longArb = fc.tuple(fc.integer({ min: 4, max: 20 }), fc.nat(), fc.constantFrom('a', 'b', ',', ' ')).map(([len, at, c]) => {
        const name = 'g'.repeat(len).split('');
        name[at % len] = c;
        return name.join('');
      });
      const nameArb = fc.oneof(piece, fc.string({ maxLength: 5 }), longArb);
      const after = fc.constantFrom('', ' ', '\t', ',', '"', '\\', '\n', '\r', 'x', ' x', '\x00', '\x80');
      fc.assert(
        fc.property(fc.array(nameArb, { maxLength: 10 }), fc.array(fc.tuple(nameArb, after), { maxLength: 10 }), fc.nat(3), (names, probes, pad) => {
          const tokens = new NameTokens(names, byteClass(shape.inner), byteClass((c) => shape.ends.includes(c)));
          const index = new ByteNames(names);
          const ends = shape.ends.map((c) => String.fromCharCode(c));
          for (const [text, tail] of [...names.flatMap((n) => ends.map((e): [string, string] => [n, e])), ...probes]) {
            const b = Buffer.concat([Buffer.alloc(pad, 'z'), Buffer.from(text + tail, 'utf8')]);
            expect(tokens.find(b, pad)).toBe(scannedToken(index, shape.inner, shape.ends, b, pad));
          }
        }),
        { numRuns: 1000 },
      );
    });
  }

  it('a name followed by an end byte, the first of duplicates; a longer token, a prefix, the buffer\'s end or a name of other bytes: -1', () => {
    const names = ['log', 'login', 'login', 'lé', 'a b'];
    const tokens = new NameTokens(names, byteClass((c) => c >= 0x21 && c <= 0x7e), byteClass((c) => c === 32 || c === 9));
    expect(tokens.find(Buffer.from('login 1'), 0)).toBe(1);
    expect(tokens.find(Buffer.from('log\t1'), 0)).toBe(0);
    expect(tokens.find(Buffer.from('loginx 1'), 0)).toBe(-1);
    expect(tokens.find(Buffer.from('logi 1'), 0)).toBe(-1);
    expect(tokens.find(Buffer.from('login'), 0)).toBe(-1);
    expect(tokens.find(Buffer.from('login\n'), 0)).toBe(-1);
    expect(tokens.find(Buffer.from('lé 1'), 0)).toBe(-1);
    expect(tokens.find(Buffer.from('a b 1'), 0)).toBe(-1);
    expect(tokens.find(Buffer.from('x login '), 2)).toBe(1);
    expect(tokens.find(Buffer.from('login '), 6)).toBe(-1);
    expect(tokens.byteLength(1)).toBe(5);
    expect(tokens.byteLength(3)).toBe(3);
    expect(() => new NameTokens(names, byteClass(() => true), byteClass((c) => c === 32))).toThrow(/both inner and an end/);
  });
});

describe('DateTimes', () => {
  const digits = (n: number, w: number) => String(n).padStart(w, '0');
  const stampArb = fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }),
      fc.integer({ min: 0, max: 14 }),
      fc.integer({ min: 0, max: 33 }),
      fc.integer({ min: 0, max: 25 }),
      fc.integer({ min: 0, max: 61 }),
      fc.integer({ min: 0, max: 61 }),
    )
    .map(([y, mo, d, h, mi, s]) => `${digits(y, 4)}-${digits(mo, 2)}-${digits(d, 2)}T${digits(h, 2)}:${digits(mi, 2)}:${digits(s, 2)}Z`);
  const oddArb = fc.tuple(stampArb, fc.nat(18), fc.constantFrom('/', ':', 'a', ' ', '-', '9', '\u00ff')).map(([t, at, c]) => t.slice(0, at) + c + t.slice(at + 1));

  it('the epoch seconds of a real date and time, NaN for any other, in any order (the cache never changes an answer)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(stampArb, oddArb, fc.constantFrom('2025-05-02T10:00:00Z', '2024-02-29T23:59:59Z', '2023-02-29T00:00:00Z')), { maxLength: 60, size: 'medium' }), (stamps) => {
        const dates = new DateTimes();
        for (const text of [...stamps, ...stamps]) {
          const want = text[10] === 'T' ? parseTimestamp(text)?.seconds ?? NaN : NaN;
          const b = Buffer.from(`  ${text} `, 'latin1');
          const got = b[12] === 84 ? dates.seconds(b, 2) : NaN;
          expect(got).toBe(want);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('a cached date with any one byte changed, and a buffer that ends early: the same answers as parseTimestamp', () => {
    const dates = new DateTimes();
    const stamps = ['2025-05-02T10:00:00Z', '2024-02-29T23:59:59Z', '1999-12-31T00:00:59Z'];
    for (const text of stamps) {
      expect(dates.seconds(Buffer.from(text), 0)).toBe(parseTimestamp(text)!.seconds);
      for (let at = 0; at < 19; at++) {
        if (at === 10) continue; // the caller's byte
        for (const c of [0x00, 0x2d, 0x2f, 0x30, 0x31, 0x32, 0x35, 0x39, 0x3a, 0x41, 0x80, 0xff]) {
          const b = Buffer.from(text, 'latin1');
          b[at] = c;
          const changed = b.toString('latin1');
          expect(dates.seconds(b, 0)).toBe(parseTimestamp(changed)?.seconds ?? NaN);
        }
      }
      // The cache still answers for the date itself.
      expect(dates.seconds(Buffer.from(text), 0)).toBe(parseTimestamp(text)!.seconds);
    }
    for (let len = 0; len < 19; len++) expect(dates.seconds(Buffer.from(stamps[0]!.slice(0, len)), 0)).toBeNaN();
  });

  it('every date of four years, twice: the cache slots each date shares with others do not mix them up', () => {
    const dates = new DateTimes();
    for (let pass = 0; pass < 2; pass++) {
      for (let day = Date.UTC(2023, 0, 1) / 86400000; day < Date.UTC(2027, 0, 1) / 86400000; day++) {
        const text = new Date(day * 86400000 + 3723000).toISOString().slice(0, 19) + 'Z';
        expect(dates.seconds(Buffer.from(text), 0)).toBe(day * 86400 + 3723);
      }
    }
  });
});
