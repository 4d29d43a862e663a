import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isIntegralJsonNumber, isValidUser, parseDurationJson, parseDurationText, parseStatus, parseStatusJson } from './fields.js';

/** Unicode White_Space (PropList.txt), independently of the engine's table. */
const WHITE_SPACE = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
  0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
];

describe('isValidUser: 1..128 UTF-8 bytes, no White_Space, no control characters', () => {
  it.each(['user115', 'a', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a,b', 'q"uote', 'émile', '～', '😀', 'a'.repeat(128), 'é'.repeat(64), '😀'.repeat(32), '\ufeffbob', 'user\u200bzero-width'])(
    'accepts %j',
    (u) => {
      expect(isValidUser(u)).toBe(true);
    },
  );

  it.each([
    ['', 'empty'],
    ['a'.repeat(129), '129 bytes'],
    ['é'.repeat(64) + 'a', '129 bytes in 2-byte characters'],
    ['😀'.repeat(32) + 'a', '129 bytes in 4-byte characters'],
    ['a\ud800b', 'lone high surrogate'],
    ['a\udc00', 'lone low surrogate'],
  ])('rejects %j (%s)', (u) => {
    expect(isValidUser(u)).toBe(false);
  });

  it('rejects every Unicode White_Space character, anywhere', () => {
    for (const cp of WHITE_SPACE) {
      const ch = String.fromCodePoint(cp);
      expect(isValidUser(ch), `U+${cp.toString(16)}`).toBe(false);
      expect(isValidUser(`a${ch}b`), `U+${cp.toString(16)}`).toBe(false);
      expect(isValidUser(`ab${ch}`), `U+${cp.toString(16)}`).toBe(false);
    }
  });

  it('rejects every control character (U+0000-001F, U+007F-009F)', () => {
    for (let cp = 0; cp <= 0x9f; cp = cp === 0x1f ? 0x7f : cp + 1) {
      expect(isValidUser(`x${String.fromCharCode(cp)}y`), `U+${cp.toString(16)}`).toBe(false);
    }
  });

  it('accepts the neighbours of the forbidden ranges', () => {
    for (const cp of [0x21, 0x7e, 0xa1, 0x167f, 0x1681, 0x1fff, 0x200b, 0x2027, 0x202a, 0x202e, 0x2030, 0x205e, 0x2060, 0x2fff, 0x3001]) {
      expect(isValidUser(`x${String.fromCodePoint(cp)}y`), `U+${cp.toString(16)}`).toBe(true);
    }
  });

  it('agrees with an independent definition on random strings', () => {
    const forbidden = (cp: number) => cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0) || WHITE_SPACE.includes(cp);
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom(...WHITE_SPACE.map((c) => String.fromCodePoint(c)), '\x00', '\x7f', '\x9f', 'a', 'é', '😀'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 70 }), (u) => {
        const cps = [...u].map((c) => c.codePointAt(0)!);
        const expected = u.length > 0 && Buffer.byteLength(u, 'utf8') <= 128 && !cps.some(forbidden);
        expect(isValidUser(u)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseStatus (text): ASCII digits, 100..599', () => {
  it.each([
    ['100', 100],
    ['200', 200],
    ['0200', 200],
    ['599', 599],
    ['000000000000000000000000404', 404],
  ])('%s → %s', (t, v) => {
    expect(parseStatus(t)).toBe(v);
  });
  it.each(['99', '600', '+200', ' 200', '200 ', '2e2', '200.0', '-200', '', '２００', '0x10', '99999999999999999999999'])('rejects %j', (t) => {
    expect(parseStatus(t)).toBeNull();
  });
});

describe('parseStatusJson: an integer JSON number, 100..599', () => {
  it.each([
    [200, 200],
    [2e2, 200],
    [599, 599],
    [100, 100],
  ])('%s', (v, out) => {
    expect(parseStatusJson(v)).toBe(out);
  });
  it.each(['200', 200.5, null, undefined, true, 99, 600, [200], { s: 200 }, NaN, Infinity])('rejects %j', (v) => {
    expect(parseStatusJson(v)).toBeNull();
  });
});

describe('parseDurationText', () => {
  const MAX = 86_400_000;
  it('space format: <digits>ms only', () => {
    expect(parseDurationText('1568ms', 'required', MAX)).toBe(1568);
    expect(parseDurationText('0ms', 'required', MAX)).toBe(0);
    expect(parseDurationText('007ms', 'required', MAX)).toBe(7);
    for (const bad of ['1568', '-5ms', '1.5ms', '12s', 'ms', '', '5 ms', '5MS', '5Ms', '+5ms', '5msx', '1e3ms', '５ms']) {
      expect(parseDurationText(bad, 'required', MAX), bad).toBeNull();
    }
  });
  it('CSV: <digits> or <digits>ms', () => {
    expect(parseDurationText('1568', 'optional', MAX)).toBe(1568);
    expect(parseDurationText('1568ms', 'optional', MAX)).toBe(1568);
    for (const bad of ['', 'ms', '-1', '1.5', ' 5', '5 ', '12s', '0x10']) {
      expect(parseDurationText(bad, 'optional', MAX), bad).toBeNull();
    }
  });
  it('MAX_DURATION_MS is inclusive, and configurable', () => {
    expect(parseDurationText('86400000ms', 'required', MAX)).toBe(MAX);
    expect(parseDurationText('86400001ms', 'required', MAX)).toBeNull();
    expect(parseDurationText('0', 'optional', 0)).toBe(0);
    expect(parseDurationText('1', 'optional', 0)).toBeNull();
    expect(parseDurationText(`${2 ** 40}`, 'optional', 2 ** 40)).toBe(2 ** 40);
    expect(parseDurationText(`${2 ** 40 + 1}`, 'optional', 2 ** 40)).toBeNull();
    expect(parseDurationText('9'.repeat(400), 'optional', 2 ** 40)).toBeNull();
  });
});

describe('parseDurationJson: an integer JSON number ≥ 0, ≤ max', () => {
  it('accepts', () => {
    expect(parseDurationJson(0, 10)).toBe(0);
    expect(parseDurationJson(10, 10)).toBe(10);
    expect(parseDurationJson(1e3, 1000)).toBe(1000);
  });
  it.each(['5', -1, 1.5, null, undefined, true, 11, [5], NaN, Infinity, 1e300])('rejects %j', (v) => {
    expect(parseDurationJson(v, 10)).toBeNull();
  });
});

describe('isIntegralJsonNumber: a JSON number whose written decimal value is an integer (README decision 47)', () => {
  it.each(['0', '-0', '-0.0', '200', '2e2', '2E+2', '200.000', '1.5e1', '100e-2', '0.5e1', '0e-99999999999999999999', '1e99999999999999999999', '12.340e2'])('%s is', (t) => {
    expect(isIntegralJsonNumber(t)).toBe(true);
  });
  it.each(['4.9999999999999999999', '100.00000000000000001', '1e-400', '5e-99999999999999999999', '0.5', '1.25e1', '15e-1', '', '1.', '.5', '01', '+1', '1e', 'NaN', ' 1'])('%j is not', (t) => {
    expect(isIntegralJsonNumber(t)).toBe(false);
  });
  it('with its text, a value JSON.parse reads as an integer is judged by the text', () => {
    expect(parseDurationJson(5, 10, '4.9999999999999999999')).toBeNull();
    expect(parseDurationJson(5, 10, '0.5e1')).toBe(5);
    expect(parseStatusJson(200, '199.99999999999999999')).toBeNull();
    expect(parseStatusJson(200, '2e2')).toBe(200);
  });
});
