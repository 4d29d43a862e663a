/** Option value parsers shared by the commands (and the bench CLIs): a bad value is a usage error (exit 2). */
import { InvalidArgumentError } from './commander.js';
import { parseWholeNumber } from '../engine/core/config/integers.js';

/** A whole number (core's rule: decimal digits only, a safe integer), at least `min` (and at most `max`). */
function integerOption(flag: string, min: number, what: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = parseWholeNumber(value, min);
    if (n === null || n > max) throw new InvalidArgumentError(`${flag} must be ${what}`);
    return n;
  };
}

/** A whole number from 1 to `max`. */
export function intInRange(flag: string, max: number) {
  return integerOption(flag, 1, `a whole number from 1 to ${max}`, max);
}

export function nonNegativeInt(flag: string) {
  return integerOption(flag, 0, 'a non-negative integer');
}

export function positiveInt(flag: string) {
  return integerOption(flag, 1, 'a positive integer');
}
