import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { intSetting, parseWholeNumber } from './integers.js';

describe('parseWholeNumber', () => {
  it('takes decimal digits within the range', () => {
    expect(parseWholeNumber('0')).toBe(0);
    expect(parseWholeNumber('007')).toBe(7);
    expect(parseWholeNumber('65535', 1, 65535)).toBe(65535);
    expect(parseWholeNumber(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses signs, exponents, fractions, spaces, hexadecimal, unsafe integers and values out of range', () => {
    for (const bad of ['', '-1', '+1', '1e3', '1.0', ' 1', '1 ', '0x10', '1_000', '１', String(2 ** 53)]) expect(parseWholeNumber(bad), bad).toBeNull();
    expect(parseWholeNumber('0', 1)).toBeNull();
    expect(parseWholeNumber('65536', 1, 65535)).toBeNull();
  });
});

describe('intSetting', () => {
  it('gives the default when unset or blank, the trimmed value otherwise', () => {
    expect(intSetting({}, 'PORT', 7077, 1, 65535)).toBe(7077);
    expect(intSetting({ PORT: '  ' }, 'PORT', 7077, 1, 65535)).toBe(7077);
    expect(intSetting({ PORT: ' 8080 ' }, 'PORT', 7077, 1, 65535)).toBe(8080);
  });

  it('a malformed or out-of-range value is a ConfigError naming the setting and its range', () => {
    expect(() => intSetting({ PORT: '80a' }, 'PORT', 1, 1, 65535)).toThrow(new ConfigError('PORT="80a" must be an integer from 1 to 65535'));
    expect(() => intSetting({ PORT: '0' }, 'PORT', 1, 1, 65535)).toThrow(ConfigError);
  });
});
