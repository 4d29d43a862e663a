/**
 * The one rule for whole numbers given as text (environment settings, command-line options):
 * decimal digits only — no sign, exponent, fraction, separator or hexadecimal — and a safe
 * integer within the allowed range. Each caller raises its own error kind (a ConfigError for
 * a setting, commander's InvalidArgumentError for an option), with the same rule behind it.
 */
import { ConfigError } from '../errors.js';
import { unexpandedNote } from './unexpanded.js';

/** `text` as a whole number within [min, max], or null when it is not one. */
export function parseWholeNumber(text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | null {
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
}

/**
 * An integer setting of an environment: `def` when unset or blank, else the trimmed value as a
 * whole number within [min, max]; anything else is a ConfigError naming the setting (exit 2).
 */
export function intSetting(env: Readonly<Record<string, string | undefined>>, key: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return def;
  const n = parseWholeNumber(raw.trim(), min, max);
  if (n === null) throw new ConfigError(`${key}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}${unexpandedNote(raw)}`);
  return n;
}
