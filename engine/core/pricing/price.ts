/**
 * The arithmetic of a pricing plan, exact.
 *
 * Per (user, task), in picos (10^-12 currency units), all integers:
 *   billable = max(0, d − free_ms); usage = Σ per_ms × (billable ms in the tier);
 *   fees = per_request × n; cost = usage + fees.
 * Per user: subtotal = Σ cost (picos). The discount is a fraction D / 10^12 (a percent with
 * up to 10 fractional digits), so subtotal × (1 − discount) = subtotal × (10^12 − D) is an
 * exact integer in units of 10^-24 ("yoctos" here). The minimum (picos × 10^12) is compared
 * in the same unit, and the result is rounded once, half-up, to currency_decimals.
 *
 * Amounts are numbers while they are safe integers (the common case, cheap) and bigints
 * beyond, as in the flat-rate path; `priceTaskBig` is the all-bigint form the fast one falls
 * back to.
 */
import { ONE, plus, type Amount } from '../money/decimal.js';
import type { CustomerTerms, PricingPlan, TaskPrice } from './plan.js';

const MAX = Number.MAX_SAFE_INTEGER;
const BIG_MAX = BigInt(MAX);

/** A task price made ready for the hot loop. */
export interface CompiledPrice {
  readonly freeMs: number;
  /** Upper bound of each tier; Infinity on the last. */
  readonly bounds: readonly number[];
  readonly perMs: readonly bigint[];
  /** perMs as numbers when every one is a safe integer, else null (bigint path only). */
  readonly perMsN: readonly number[] | null;
  readonly perRequest: bigint;
  /** -1 when not a safe integer. */
  readonly perRequestN: number;
}

export function compilePrice(p: TaskPrice): CompiledPrice {
  const safe = p.tiers.every((t) => t.perMs <= BIG_MAX);
  return {
    freeMs: p.freeMs,
    bounds: p.tiers.map((t) => t.upToMs ?? Infinity),
    perMs: p.tiers.map((t) => t.perMs),
    perMsN: safe ? p.tiers.map((t) => Number(t.perMs)) : null,
    perRequest: p.perRequest,
    perRequestN: p.perRequest <= BIG_MAX ? Number(p.perRequest) : -1,
  };
}

export interface TaskCharge {
  billableMs: Amount;
  usage: Amount;
  fees: Amount;
  cost: Amount;
}

/** The charge of one (user, task) in bigints. */
export function priceTaskBig(p: CompiledPrice, requests: bigint, durationMs: bigint): TaskCharge {
  const free = BigInt(p.freeMs);
  const billable = durationMs > free ? durationMs - free : 0n;
  let usage = 0n;
  let lo = 0n;
  for (let i = 0; i < p.bounds.length && billable > lo; i++) {
    const b = p.bounds[i]!;
    const hi = b === Infinity || BigInt(b) > billable ? billable : BigInt(b);
    usage += (hi - lo) * p.perMs[i]!;
    lo = hi;
  }
  const fees = requests * p.perRequest;
  return { billableMs: billable, usage, fees, cost: usage + fees };
}

/** a × b for safe integers a, b >= 0, or -1 when the product is not a safe integer. */
function times(a: number, b: number): number {
  const p = a * b;
  // Float multiplication is monotone: a true product above MAX gives a float above MAX.
  return p <= MAX ? p : -1;
}

/**
 * The charge of one (user, task): numbers when every step stays a safe integer, else the
 * bigint form. `durationMs` -1 means "not a number": `durationBig` holds it then. The result
 * is written into `out` (finalize hands it to the sink, which reads it at once): no object
 * per (user, task) on the hot path.
 */
export function priceTaskInto(out: TaskCharge, p: CompiledPrice, requests: number, durationMs: number, durationBig: bigint | null): TaskCharge {
  const rates = p.perMsN;
  if (durationMs >= 0 && rates !== null && p.perRequestN >= 0) {
    const billable = durationMs > p.freeMs ? durationMs - p.freeMs : 0;
    let usage = 0;
    let lo = 0;
    let ok = true;
    for (let i = 0; i < rates.length && billable > lo; i++) {
      const b = p.bounds[i]!;
      const hi = b < billable ? b : billable;
      const c = times(hi - lo, rates[i]!);
      if (c < 0 || usage + c > MAX) {
        ok = false;
        break;
      }
      usage += c;
      lo = hi;
    }
    const fees = times(requests, p.perRequestN);
    if (ok && fees >= 0 && usage + fees <= MAX) {
      out.billableMs = billable;
      out.usage = usage;
      out.fees = fees;
      out.cost = usage + fees;
      return out;
    }
  }
  const big = priceTaskBig(p, BigInt(requests), durationMs >= 0 ? BigInt(durationMs) : durationBig!);
  out.billableMs = big.billableMs;
  out.usage = big.usage;
  out.fees = big.fees;
  out.cost = big.cost;
  return out;
}

/** priceTaskInto with a fresh result. */
export function priceTask(p: CompiledPrice, requests: number, durationMs: number, durationBig: bigint | null): TaskCharge {
  return priceTaskInto({ billableMs: 0, usage: 0, fees: 0, cost: 0 }, p, requests, durationMs, durationBig);
}

/** A plan made ready for finalize: per task index, the plan's price and each customer's. */
export interface CompiledPlan {
  readonly prices: readonly CompiledPrice[];
  readonly minimumCharge: bigint;
  readonly minimumAmount: Amount;
  readonly customers: ReadonlyMap<string, CompiledTerms>;
}

export interface CompiledTerms {
  readonly terms: CustomerTerms;
  /** Per task index: the override, or the plan's price. */
  readonly prices: readonly CompiledPrice[];
  readonly minimumCharge: bigint;
  /** minimumCharge as a number when a safe integer, else the bigint. */
  readonly minimumAmount: Amount;
}

function amountOf(picos: bigint): Amount {
  return picos <= BIG_MAX ? Number(picos) : picos;
}

/** `taskNames`: the bill's task order (config.rates). */
export function compilePlan(plan: PricingPlan, taskNames: readonly string[]): CompiledPlan {
  const prices = taskNames.map((t) => compilePrice(plan.tasks.get(t)!));
  const customers = new Map<string, CompiledTerms>();
  for (const [id, terms] of plan.customers) {
    customers.set(id, {
      terms,
      prices: taskNames.map((t, i) => (terms.tasks.has(t) ? compilePrice(terms.tasks.get(t)!) : prices[i]!)),
      minimumCharge: terms.minimumCharge ?? plan.minimumCharge,
      minimumAmount: amountOf(terms.minimumCharge ?? plan.minimumCharge),
    });
  }
  return { prices, minimumCharge: plan.minimumCharge, minimumAmount: amountOf(plan.minimumCharge), customers };
}

/** 10^(24 − decimals): the divisor that rounds yoctos (10^-24) to `decimals` places. */
const YOCTO_DIVISORS = Array.from({ length: 13 }, (_, d) => 10n ** BigInt(24 - d));

/** Rounds a non-negative amount in 10^-24 units half-up to `decimals` places (result in 10^-decimals units). */
export function roundYoctos(yoctos: bigint, decimals: number): bigint {
  const divisor = YOCTO_DIVISORS[decimals]!;
  const q = yoctos / divisor;
  return (yoctos % divisor) * 2n >= divisor ? q + 1n : q;
}

/** Exact decimal text of an amount in 10^-24 units, without trailing fractional zeros. */
export function formatYoctos(yoctos: bigint): string {
  const scale = 10n ** 24n;
  const whole = yoctos / scale;
  const frac = (yoctos % scale).toString().padStart(24, '0').replace(/0+$/, '');
  return frac.length === 0 ? whole.toString() : `${whole}.${frac}`;
}

/**
 * A user's final amount before rounding, in 10^-24 units: subtotal × (1 − discount),
 * raised to the minimum when below it. `discount` is a fraction of 10^12.
 */
export function userAmountYoctos(subtotalPicos: Amount, discount: bigint, minimumPicos: bigint): bigint {
  const discounted = BigInt(subtotalPicos) * (ONE - discount);
  const minimum = minimumPicos * ONE;
  return discounted < minimum ? minimum : discounted;
}

export { plus };
