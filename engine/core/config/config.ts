/**
 * Run configuration from the settings (the environment over a `.env` file: env-file.ts's
 * loadEnv): per-task rates, currency decimals, the duration limit, dedupe.
 * Every malformed value is a ConfigError, raised before any input is read (exit 2).
 */
import { parseDecimal, formatExact } from '../money/decimal.js';
import { ConfigError } from '../errors.js';
import { intSetting } from './integers.js';
import { unexpandedNote } from './unexpanded.js';
import type { PricingPlan } from '../pricing/plan.js';
import { DEDUPE_MODES, DEFAULT_DEDUPE_MEMORY_BYTES, type DedupeMode, type DedupeSettings } from '../dedupe/dedupe.js';

export { ConfigError };


export interface Rate {
  /** Task name exactly as it appears in logs. */
  readonly task: string;
  /** Cost of one millisecond, in 10^-12 currency units. */
  readonly picos: bigint;
  /** Canonical decimal text of the rate. */
  readonly text: string;
}

export interface BillingConfig {
  /** Configured rates, sorted by task name (UTF-8 byte order); a task's index is its position here. */
  readonly rates: readonly Rate[];
  readonly currencyDecimals: number;
  readonly maxDurationMs: number;
}

export const DEFAULT_CURRENCY_DECIMALS = 2;
export const DEFAULT_MAX_DURATION_MS = 86_400_000;
/** Upper bound for MAX_DURATION_MS: keeps per-line durations far below 2^53 so sums stay exact. */
export const MAX_DURATION_LIMIT = 2 ** 40;

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Builds the billing configuration from a merged environment. */
export function billingConfigFromEnv(env: Record<string, string>): BillingConfig {
  const rates: Rate[] = [];
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith('RATE_')) continue;
    const task = key.slice('RATE_'.length);
    if (task.length === 0) throw new ConfigError(`${key} names no task`);
    const picos = parseDecimal(raw.trim());
    if (picos === null) {
      // dotenv keeps an opening quote with no closing one as part of the value.
      const unclosed = /^\s*["'`]/.test(raw) && parseDecimal(raw.trim().slice(1)) !== null ? ' (an opening quote without its closing one?)' : '';
      throw new ConfigError(
        `${key}=${JSON.stringify(raw)} is not a non-negative decimal with at most 12 fractional digits (e.g. 0.005)${unclosed}${unexpandedNote(raw)}`,
      );
    }
    rates.push({ task, picos, text: formatExact(picos) });
  }
  if (rates.length === 0) {
    throw new ConfigError('no rates configured: set RATE_<task>=<cost per ms> in the environment or the .env file');
  }
  rates.sort((a, b) => byteCompare(a.task, b.task));
  return {
    rates,
    currencyDecimals: intSetting(env, 'CURRENCY_DECIMALS', DEFAULT_CURRENCY_DECIMALS, 0, 12),
    maxDurationMs: intSetting(env, 'MAX_DURATION_MS', DEFAULT_MAX_DURATION_MS, 0, MAX_DURATION_LIMIT),
  };
}

/** Task name → index in config.rates. */
export function taskIndex(config: BillingConfig): Map<string, number> {
  return new Map(config.rates.map((r, i) => [r.task, i]));
}

/**
 * The billing configuration of a run with a pricing plan: the plan's tasks are the known
 * tasks (each Rate's picos is 0 and its text `plan`: prices come from the plan, applied in
 * finalize). RATE_ variables set as well, or a CURRENCY_DECIMALS that differs from the plan's,
 * are ConfigErrors: a bill has one price list.
 */
export function billingConfigFromPlan(env: Record<string, string>, plan: PricingPlan): BillingConfig {
  const rateKeys = Object.keys(env).filter((k) => k.startsWith('RATE_'));
  if (rateKeys.length > 0) {
    throw new ConfigError(
      `--pricing and ${rateKeys.slice(0, 3).join(', ')}${rateKeys.length > 3 ? ', ...' : ''} are both set: bill from one price list (unset the RATE_ variables or drop --pricing)`,
    );
  }
  const envDecimals = env['CURRENCY_DECIMALS'] === undefined || env['CURRENCY_DECIMALS'].trim() === ''
    ? null
    : intSetting(env, 'CURRENCY_DECIMALS', DEFAULT_CURRENCY_DECIMALS, 0, 12);
  if (plan.currencyDecimals !== null && envDecimals !== null && plan.currencyDecimals !== envDecimals) {
    throw new ConfigError(`the pricing plan's currency_decimals (${plan.currencyDecimals}) differs from CURRENCY_DECIMALS=${envDecimals}`);
  }
  const rates: Rate[] = [...plan.tasks.keys()].map((task) => ({ task, picos: 0n, text: 'plan' }));
  rates.sort((a, b) => byteCompare(a.task, b.task));
  return {
    rates,
    currencyDecimals: plan.currencyDecimals ?? envDecimals ?? DEFAULT_CURRENCY_DECIMALS,
    maxDurationMs: intSetting(env, 'MAX_DURATION_MS', DEFAULT_MAX_DURATION_MS, 0, MAX_DURATION_LIMIT),
  };
}

/**
 * Duplicate deliveries (SPEC): the mode from `--dedupe` (given) or DEDUPE (default auto), the
 * seen-id memory budget from DEDUPE_MEMORY_MIB (default 256).
 */
export function dedupeSettingsFromEnv(env: Record<string, string>, flag: string | undefined): DedupeSettings {
  const raw = flag ?? env['DEDUPE'];
  const text = raw === undefined || raw.trim() === '' ? 'auto' : raw.trim();
  if (!(DEDUPE_MODES as readonly string[]).includes(text)) {
    const what = flag !== undefined ? '--dedupe' : 'DEDUPE';
    throw new ConfigError(`${what}=${JSON.stringify(raw)} must be one of ${DEDUPE_MODES.join(', ')}${unexpandedNote(raw ?? '')}`);
  }
  const mib = intSetting(env, 'DEDUPE_MEMORY_MIB', DEFAULT_DEDUPE_MEMORY_BYTES / 1048576, 1, 1 << 20);
  return { mode: text as DedupeMode, memoryBytes: mib * 1048576 };
}
