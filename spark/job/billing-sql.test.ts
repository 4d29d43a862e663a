/**
 * The generated fast path against the rules it stands for (no cluster needed): the range
 * regexes, the fast timestamp shape against parseTimestamp, the user classes against the
 * core's user rule. A fast path that accepted one line the exact rules reject would bill it.
 */
import { describe, expect, it } from 'vitest';
import { FAST, PATTERNS, rangeRe, setRe } from './billing-sql.js';
import { parseTimestamp, daysInMonth } from '../../engine/core/validation/timestamp.js';
import { isValidUser } from '../../engine/core/validation/fields.js';
import { isForbiddenInUser, RULES } from '../../engine/core/validation/rules.js';

const pad = (n: number, w: number) => String(n).padStart(w, '0');

describe('rangeRe', () => {
  it('matches exactly the zero-padded numbers of the range', () => {
    for (const [lo, hi, w] of [[1, 12, 2], [0, 23, 2], [0, 59, 2], [100, 599, 3], [1, 28, 2], [1, 31, 2], [37, 842, 3], [5, 5, 2], [0, 9, 1], [0, 999, 3]] as const) {
      const re = new RegExp(`^${rangeRe(lo, hi, w)}$`);
      for (let v = 0; v < 10 ** w; v++) expect(re.test(pad(v, w)), `${lo}..${hi} on ${pad(v, w)}`).toBe(v >= lo && v <= hi);
    }
  });
});

describe('setRe', () => {
  it('matches exactly the zero-padded numbers of the set', () => {
    for (const [set, w] of [[[1, 3, 5, 7, 8, 10, 12], 2], [[4, 6, 9, 11], 2], [[2], 2], [[0, 9, 10, 99], 2], [[5], 1], [[100, 199, 200, 599], 3]] as const) {
      const re = new RegExp(`^${setRe(set, w)}$`);
      for (let v = 0; v < 10 ** w; v++) expect(re.test(pad(v, w)), `${set.join(',')} on ${pad(v, w)}`).toBe((set as readonly number[]).includes(v));
    }
    expect(new RegExp(`^${setRe([], 2)}$`).test('00')).toBe(false);
  });
});

describe('the fast timestamp shape', () => {
  const fast = new RegExp(`^${FAST.timestamp}$`);
  it('accepts only real date-times, and every common-shape one but 29 February', () => {
    for (const y of [0, 1900, 1999, 2000, 2024, 2025, 9999]) {
      for (let mo = 0; mo <= 13; mo++) {
        for (let d = 0; d <= 32; d++) {
          for (const clock of ['00:00:00', '23:59:59', '24:00:00', '12:60:00', '12:00:60', '09:07:05']) {
            const ts = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${clock}Z`;
            const exact = parseTimestamp(ts) !== null;
            if (fast.test(ts)) expect(exact, ts).toBe(true);
            else if (exact) expect([mo, d], ts).toEqual([2, 29]);
          }
        }
      }
    }
    expect(daysInMonth(2024, 2)).toBe(29);
  });

  it('leaves other RFC 3339 forms to the exact path', () => {
    for (const ts of ['2025-05-02t23:16:50Z', '2025-05-02T23:16:50z', '2025-05-02T23:16:50.1Z', '2025-05-02T23:16:50+00:00', '2025-05-02T23:16:50５']) {
      expect(fast.test(ts), ts).toBe(false);
    }
    expect(new RegExp(PATTERNS.timestamp.replace(/\\z$/, '$')).test('2025-05-02T23:16:50Z')).toBe(true);
  });
});

describe('user rules', () => {
  it('the forbidden code points of the rules are exactly what isValidUser refuses', () => {
    for (let cp = 0; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      expect(isValidUser(`a${String.fromCharCode(cp)}`), cp.toString(16)).toBe(!isForbiddenInUser(cp));
    }
  });

  it('the fast user class is a subset of the allowed characters, within the byte limit', () => {
    const fast = new RegExp(`^${FAST.user}$`);
    for (let cp = 0; cp < 0x80; cp++) {
      const c = String.fromCharCode(cp);
      if (fast.test(c)) expect(isValidUser(c), cp.toString(16)).toBe(true);
    }
    expect(fast.test('u'.repeat(RULES.user.maxBytes))).toBe(true);
    expect(fast.test('u'.repeat(RULES.user.maxBytes + 1))).toBe(false);
  });

  it('the fast status range is the rules\' range', () => {
    const fast = new RegExp(`^${FAST.status}$`);
    for (let v = 0; v < 1000; v++) expect(fast.test(pad(v, 3))).toBe(v >= RULES.status.min && v <= RULES.status.max);
  });
});
