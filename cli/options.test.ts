import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from 'commander';
import { nonNegativeInt, positiveInt } from './options.js';

describe('integer option parsers', () => {
  it('take decimal digits only', () => {
    expect(positiveInt('--n')('1')).toBe(1);
    expect(positiveInt('--n')('0042')).toBe(42);
    expect(nonNegativeInt('--n')('0')).toBe(0);
    for (const bad of ['', '-1', '+1', '1.5', '1e3', ' 1', '0x10', 'one']) {
      expect(() => positiveInt('--n')(bad), bad).toThrow(InvalidArgumentError);
      expect(() => nonNegativeInt('--n')(bad), bad).toThrow(InvalidArgumentError);
    }
  });

  it('positive refuses 0; messages name the flag', () => {
    expect(() => positiveInt('--workers')('0')).toThrow('--workers must be a positive integer');
    expect(() => nonNegativeInt('--skip')('x')).toThrow('--skip must be a non-negative integer');
  });
});
