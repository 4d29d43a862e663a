/** Option value parsers shared by the commands (and the bench CLIs): a bad value is a usage error (exit 2). */
import { InvalidArgumentError } from 'commander';

/** Decimal digits only (no sign, exponent or fraction), at least `min`. */
function integerOption(flag: string, min: number, what: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min) throw new InvalidArgumentError(`${flag} must be ${what}`);
    return Number(value);
  };
}

export function nonNegativeInt(flag: string) {
  return integerOption(flag, 0, 'a non-negative integer');
}

export function positiveInt(flag: string) {
  return integerOption(flag, 1, 'a positive integer');
}
