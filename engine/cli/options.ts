/** Option value parsers shared by the commands: a bad value is a usage error (exit 2). */
import { InvalidArgumentError } from 'commander';

export function nonNegativeInt(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${flag} must be a non-negative integer`);
    return Number(value);
  };
}

export function positiveInt(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${flag} must be a positive integer`);
    return Number(value);
  };
}
