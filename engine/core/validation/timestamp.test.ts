import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareInstants, daysFromCivil, inWindow, isLeapYear, parseTimestamp, type Instant } from './timestamp.js';

const at = (text: string): Instant => {
  const t = parseTimestamp(text);
  if (t === null) throw new Error(`not a timestamp: ${text}`);
  return t;
};

describe('parseTimestamp: RFC 3339 date-time with a real calendar date and time', () => {
  it.each([
    '2025-05-02T23:16:50Z',
    '2025-05-02t23:16:50z',
    '2025-05-02T23:16:50.123+02:00',
    '2025-05-02T23:16:50.1-00:00',
    '2025-05-02T23:16:50.000000000001Z',
    '2024-02-29T00:00:00Z',
    '2000-02-29T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '2025-12-31T23:59:59+23:59',
    '2025-01-01T00:00:00-23:59',
    '2025-04-30T12:00:00Z',
  ])('accepts %s', (text) => {
    expect(parseTimestamp(text)).not.toBeNull();
  });

  it.each([
    ['2025-02-29T00:00:00Z', 'not a leap year'],
    ['1900-02-29T00:00:00Z', 'century, not a leap year'],
    ['2100-02-29T00:00:00Z', 'century, not a leap year'],
    ['2025-04-31T00:00:00Z', 'April has 30 days'],
    ['2025-02-30T00:00:00Z', 'February 30'],
    ['2025-13-01T00:00:00Z', 'month 13'],
    ['2025-00-01T00:00:00Z', 'month 0'],
    ['2025-01-00T00:00:00Z', 'day 0'],
    ['2025-01-32T00:00:00Z', 'day 32'],
    ['2025-05-02T24:00:00Z', 'hour 24'],
    ['2025-05-02T23:60:00Z', 'minute 60'],
    ['2025-05-02T23:59:60Z', 'leap second 60 is rejected'],
    ['2025-05-02T23:16:50+24:00', 'offset hour 24'],
    ['2025-05-02T23:16:50+01:60', 'offset minute 60'],
    ['2025-05-02T23:16:50', 'no offset'],
    ['2025-05-02 23:16:50Z', 'space instead of T'],
    ['2025-05-02T23:16:50.Z', 'empty fraction'],
    ['2025-05-02T23:16:50,5Z', 'comma fraction'],
    ['2025-05-02T23:16:50+0200', 'offset without colon'],
    ['2025-05-02T23:16:50+02', 'offset without minutes'],
    ['25-05-02T23:16:50Z', 'two-digit year'],
    ['2025-5-02T23:16:50Z', 'one-digit month'],
    ['2025-05-02T23:16:50ZZ', 'trailing text'],
    [' 2025-05-02T23:16:50Z', 'leading space'],
    ['2025-05-02T23:16:50Z ', 'trailing space'],
    ['２０２５-05-02T23:16:50Z', 'non-ASCII digits'],
    ['2025-05-02T23:16:50UTC', 'zone name'],
    ['', 'empty'],
  ])('rejects %s (%s)', (text) => {
    expect(parseTimestamp(text)).toBeNull();
  });

  it('honours offsets: the same instant written three ways', () => {
    const z = at('2025-05-02T10:00:00Z');
    expect(compareInstants(at('2025-05-02T12:00:00+02:00'), z)).toBe(0);
    expect(compareInstants(at('2025-05-02T08:30:00-01:30'), z)).toBe(0);
    expect(z.seconds).toBe(Date.UTC(2025, 4, 2, 10) / 1000);
  });

  it('compares fractions exactly (.1 = .10 < .100000000001)', () => {
    expect(compareInstants(at('2025-05-02T10:00:00.1Z'), at('2025-05-02T10:00:00.10Z'))).toBe(0);
    expect(compareInstants(at('2025-05-02T10:00:00.1Z'), at('2025-05-02T10:00:00.100000000001Z'))).toBeLessThan(0);
    expect(compareInstants(at('2025-05-02T10:00:00.9999999999999999999Z'), at('2025-05-02T10:00:01Z'))).toBeLessThan(0);
    expect(compareInstants(at('2025-05-02T10:00:00Z'), at('2025-05-02T10:00:00.000Z'))).toBe(0);
  });

  it('agrees with Date.UTC on whole seconds for any valid date-time', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (d) => {
        const iso = d.toISOString().replace(/\.\d{3}Z$/, 'Z');
        expect(at(iso).seconds).toBe(Math.floor(d.getTime() / 1000));
      }),
    );
  });

  it('leap years and civil days', () => {
    expect([1900, 2000, 2024, 2025, 2100, 2400].map(isLeapYear)).toEqual([false, true, true, false, false, true]);
    expect(daysFromCivil(1970, 1, 1)).toBe(0);
    expect(daysFromCivil(2000, 3, 1)).toBe(Date.UTC(2000, 2, 1) / 86400000);
  });
});

describe('inWindow: from inclusive, to exclusive', () => {
  const w = { from: at('2025-05-02T00:00:00Z'), to: at('2025-05-03T00:00:00Z') };
  it.each([
    ['2025-05-02T00:00:00Z', true],
    ['2025-05-02T02:00:00+02:00', true], // = from
    ['2025-05-01T23:59:59.999999999999Z', false],
    ['2025-05-02T23:59:59.999Z', true],
    ['2025-05-03T00:00:00Z', false], // = to
    ['2025-05-02T20:00:00-04:00', false], // = to
    ['2025-05-02T19:59:59-04:00', true],
  ])('%s → %s', (t, inside) => {
    expect(inWindow(at(t), w)).toBe(inside);
  });

  it('open ends', () => {
    expect(inWindow(at('1970-01-01T00:00:00Z'), { to: w.to })).toBe(true);
    expect(inWindow(at('9999-01-01T00:00:00Z'), { from: w.from })).toBe(true);
    expect(inWindow(at('9999-01-01T00:00:00Z'), {})).toBe(true);
  });
});
