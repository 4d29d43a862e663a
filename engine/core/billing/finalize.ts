/**
 * Usage → bill. Cost per (user, task) is duration × rate exactly; a user's total is the
 * exact sum of their task costs, rounded once, half-up, to CURRENCY_DECIMALS.
 *
 * Users are visited in the bill's order and handed to a sink line by line, so a bill of
 * millions of users is written without building millions of objects. Amounts are exact
 * integers: numbers while they are safe integers (the common case, and much cheaper),
 * bigints beyond.
 */
import type { BillingConfig } from '../config/config.js';
import { plus, roundHalfUp, type Amount } from '../money/decimal.js';
import { compareUtf8, hasSurrogate } from './order.js';
import type { UsageRows } from './usage.js';
import type { PricingPlan } from '../pricing/plan.js';
import { compilePlan, formatYoctos, priceTaskInto, roundYoctos, userAmountYoctos, type TaskCharge } from '../pricing/price.js';

/** Receives a bill in order: each billed task of a user, then that user's total. */
export interface BillSink {
  task(user: string, task: number, requests: number, durationMs: Amount, costPicos: Amount, costRounded: Amount): void;
  user(user: string, durationMs: Amount, costPicos: Amount, costRounded: Amount): void;
  /** Called every few thousand users: write out what is buffered, let the event loop turn. */
  flush?(): Promise<void>;
}

export interface BillTotals {
  readonly decimals: number;
  /** Users with at least one accepted record. */
  readonly users: number;
  readonly totalDurationMs: bigint;
  /** Exact sum of every cost. */
  readonly totalCostPicos: bigint;
  /** Sum of the users' rounded totals: what is invoiced. */
  readonly totalBilled: bigint;
  /**
   * With a pricing plan: the exact sum of the users' amounts before rounding (after discount
   * and minimum), as decimal text; totalCostPicos is then the sum of the task costs.
   */
  readonly totalCostText?: string;
}

const FLUSH_EVERY_USERS = 8192;

/** Indices of the users in UTF-8 byte order of their ids. */
function billOrder(ids: readonly string[]): number[] {
  const order = Array.from(ids, (_, i) => i);
  // Without surrogates, UTF-16 code-unit order is UTF-8 byte order; ids are distinct.
  if (ids.some(hasSurrogate)) order.sort((a, b) => compareUtf8(ids[a]!, ids[b]!));
  else order.sort((a, b) => (ids[a]! < ids[b]! ? -1 : 1));
  return order;
}

export async function finalizeBill(usage: UsageRows, config: BillingConfig, sink: BillSink): Promise<BillTotals> {
  const decimals = config.currencyDecimals;
  const T = config.rates.length;
  const ratePicos = config.rates.map((r) => r.picos);
  const rateNumber = ratePicos.map(Number);
  // The largest duration whose cost at the rate is still a safe integer (-1: never).
  const safeDuration = ratePicos.map((p) =>
    p === 0n ? Number.MAX_SAFE_INTEGER : p > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(BigInt(Number.MAX_SAFE_INTEGER) / p),
  );

  const ids = Array.from({ length: usage.size }, (_, i) => usage.userId(i));
  const order = billOrder(ids);
  let users = 0;
  let totalDurationMs: Amount = 0;
  let totalCostPicos: Amount = 0;
  let totalBilled: Amount = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const user = ids[i]!;
    let durationMs: Amount = 0;
    let costPicos: Amount = 0;
    let billed = false;
    for (let t = 0; t < T; t++) {
      const requests = usage.requests(i, t);
      if (requests === 0) continue;
      billed = true;
      const n = usage.durationNumber(i, t);
      let d: Amount;
      let c: Amount;
      if (n >= 0 && n <= safeDuration[t]!) {
        d = n;
        c = n * rateNumber[t]!;
      } else {
        d = usage.duration(i, t);
        c = d * ratePicos[t]!;
      }
      sink.task(user, t, requests, d, c, roundHalfUp(c, decimals));
      durationMs = plus(durationMs, d);
      costPicos = plus(costPicos, c);
    }
    if (!billed) continue;
    const rounded = roundHalfUp(costPicos, decimals);
    sink.user(user, durationMs, costPicos, rounded);
    users++;
    totalDurationMs = plus(totalDurationMs, durationMs);
    totalCostPicos = plus(totalCostPicos, costPicos);
    totalBilled = plus(totalBilled, rounded);
    if (sink.flush !== undefined && k % FLUSH_EVERY_USERS === FLUSH_EVERY_USERS - 1) await sink.flush();
  }
  if (sink.flush !== undefined) await sink.flush();
  return { decimals, users, totalDurationMs: BigInt(totalDurationMs), totalCostPicos: BigInt(totalCostPicos), totalBilled: BigInt(totalBilled) };
}

/** A user's total under a pricing plan: each component, so the rounded total can be re-derived. */
export interface PricedUser {
  readonly requests: number;
  readonly durationMs: Amount;
  /** Σ of the user's task costs, in picos. */
  readonly subtotal: Amount;
  /** The customer's discount as written (`10%`), or `0%`. */
  readonly discountText: string;
  /** subtotal × (1 − discount) in 10^-24 units; null when there is no discount (it is the subtotal). */
  readonly discountedYoctos: bigint | null;
  /** The minimum charge that applies to this user, in picos. */
  readonly minimum: bigint;
  /** The total, rounded once half-up, in 10^-decimals units. */
  readonly rounded: Amount;
}

/** Receives a priced bill in order: each billed task of a user with its charge, then that user's total. */
export interface PricedBillSink {
  /** `charge` is reused for the next task: read it during the call, copy what is kept. */
  task(user: string, task: number, requests: number, durationMs: Amount, charge: TaskCharge): void;
  user(user: string, total: PricedUser): void;
  flush?(): Promise<void>;
}

/**
 * Usage → bill under a pricing plan (SPEC "Pricing plans"), for every engine alike: the plan
 * is applied once, here, to each (user, task)'s totals of requests and duration.
 * config.rates must name exactly the plan's tasks (billingConfigFromPlan).
 */
export async function finalizePricedBill(usage: UsageRows, config: BillingConfig, plan: PricingPlan, sink: PricedBillSink): Promise<BillTotals> {
  const decimals = config.currencyDecimals;
  const T = config.rates.length;
  const compiled = compilePlan(plan, config.rates.map((r) => r.task));
  const ids = Array.from({ length: usage.size }, (_, i) => usage.userId(i));
  const order = billOrder(ids);
  let users = 0;
  let totalDurationMs: Amount = 0;
  let totalCostPicos: Amount = 0;
  let totalBilled: Amount = 0;
  // The exact sum of the users' amounts: picos for users without a discount, 10^-24 units for the others.
  let totalPlainPicos: Amount = 0;
  let totalDiscountedYoctos = 0n;
  const charge: TaskCharge = { billableMs: 0, usage: 0, fees: 0, cost: 0 };
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const user = ids[i]!;
    const terms = compiled.customers.size === 0 ? undefined : compiled.customers.get(user);
    const prices = terms === undefined ? compiled.prices : terms.prices;
    let requestsSum = 0;
    let durationMs: Amount = 0;
    let subtotal: Amount = 0;
    let billed = false;
    for (let t = 0; t < T; t++) {
      const requests = usage.requests(i, t);
      if (requests === 0) continue;
      billed = true;
      const n = usage.durationNumber(i, t);
      const big = n >= 0 ? null : usage.duration(i, t);
      priceTaskInto(charge, prices[t]!, requests, n, big);
      const d: Amount = big ?? n;
      sink.task(user, t, requests, d, charge);
      requestsSum += requests;
      durationMs = plus(durationMs, d);
      subtotal = plus(subtotal, charge.cost);
    }
    if (!billed) continue;
    const minimum = terms === undefined ? compiled.minimumCharge : terms.minimumCharge;
    const minimumAmount = terms === undefined ? compiled.minimumAmount : terms.minimumAmount;
    const discount = terms === undefined ? 0n : terms.terms.discount;
    let rounded: Amount;
    let discountedYoctos: bigint | null = null;
    if (discount === 0n) {
      const amount: Amount = subtotal < minimumAmount ? minimumAmount : subtotal;
      rounded = roundHalfUp(amount, decimals);
      totalPlainPicos = plus(totalPlainPicos, amount);
    } else {
      discountedYoctos = BigInt(subtotal) * (10n ** 12n - discount);
      const amount = userAmountYoctos(subtotal, discount, minimum);
      rounded = roundYoctos(amount, decimals);
      totalDiscountedYoctos += amount;
    }
    sink.user(user, {
      requests: requestsSum,
      durationMs,
      subtotal,
      discountText: terms === undefined ? '0%' : terms.terms.discountText,
      discountedYoctos,
      minimum,
      rounded,
    });
    users++;
    totalDurationMs = plus(totalDurationMs, durationMs);
    totalCostPicos = plus(totalCostPicos, subtotal);
    totalBilled = plus(totalBilled, rounded);
    if (sink.flush !== undefined && k % FLUSH_EVERY_USERS === FLUSH_EVERY_USERS - 1) await sink.flush();
  }
  if (sink.flush !== undefined) await sink.flush();
  const totalCostText = formatYoctos(BigInt(totalPlainPicos) * 10n ** 12n + totalDiscountedYoctos);
  return {
    decimals,
    users,
    totalDurationMs: BigInt(totalDurationMs),
    totalCostPicos: BigInt(totalCostPicos),
    totalBilled: BigInt(totalBilled),
    totalCostText,
  };
}

export interface TaskLine {
  readonly task: string;
  readonly rateText: string;
  readonly requests: number;
  readonly durationMs: bigint;
  /** Exact cost in 10^-12 units. */
  readonly costPicos: bigint;
  /** Cost rounded half-up, in 10^-decimals units (informational: the user's total is rounded once, from exact costs). */
  readonly costRounded: bigint;
}

export interface UserBill {
  readonly user: string;
  readonly durationMs: bigint;
  readonly costPicos: bigint;
  /** Total rounded half-up, in 10^-decimals units. */
  readonly costRounded: bigint;
  readonly tasks: readonly TaskLine[];
}

/** A bill as objects, for tests and small bills: the totals and every user's lines. */
export interface Bill extends BillTotals {
  readonly bills: readonly UserBill[];
}

export async function collectBill(usage: UsageRows, config: BillingConfig): Promise<Bill> {
  const bills: UserBill[] = [];
  let tasks: TaskLine[] = [];
  const totals = await finalizeBill(usage, config, {
    task(_user, t, requests, d, c, r) {
      const rate = config.rates[t]!;
      tasks.push({ task: rate.task, rateText: rate.text, requests, durationMs: BigInt(d), costPicos: BigInt(c), costRounded: BigInt(r) });
    },
    user(user, d, c, r) {
      bills.push({ user, durationMs: BigInt(d), costPicos: BigInt(c), costRounded: BigInt(r), tasks });
      tasks = [];
    },
  });
  return { ...totals, bills };
}
