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
import { ExactSum, plus, roundHalfUp, type Amount } from '../money/decimal.js';
import { compareUtf8, hasSurrogate } from './order.js';
import { isSortedUsage, UserUsage, UserUsageAccess, type KeyedUsers, type SortedUsage, type UsageAccess, type UsageRows } from './usage.js';
import { KeptKey, UserKey, userText, type BillUser } from './user-key.js';
import type { PricingPlan } from '../pricing/plan.js';
import { compilePlan, formatYoctos, priceTaskInto, roundYoctos, userAmountYoctos, type TaskCharge } from '../pricing/price.js';
import type { BillTotals } from './totals.js';

export type { BillTotals };

/**
 * Receives a bill in order: each billed task of a user, then that user's total. A user is
 * their id, or from a keyed stream (a large bill of the parallel engine) its bytes (a
 * UserKey, reused for the next user: read it during the call).
 */
export interface BillSink {
  task(user: BillUser, task: number, requests: number, durationMs: Amount, costPicos: Amount, costRounded: Amount): void;
  user(user: BillUser, durationMs: Amount, costPicos: Amount, costRounded: Amount): void;
  /** Called every few thousand users: write out what is buffered, let the event loop turn. */
  flush?(): Promise<void>;
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

/** One user's bill lines from their per-task usage; shared by the random-access and the streamed paths. */
class UserBiller {
  private readonly decimals: number;
  private readonly T: number;
  private readonly ratePicos: bigint[];
  private readonly rateNumber: number[];
  private readonly safeDuration: number[];
  users = 0;
  private readonly totalDurationMs = new ExactSum();
  private readonly totalCostPicos = new ExactSum();
  private readonly totalBilled = new ExactSum();

  constructor(
    config: BillingConfig,
    private readonly sink: BillSink,
  ) {
    this.decimals = config.currencyDecimals;
    this.T = config.rates.length;
    this.ratePicos = config.rates.map((r) => r.picos);
    this.rateNumber = this.ratePicos.map(Number);
    // The largest duration whose cost at the rate is still a safe integer (-1: never).
    this.safeDuration = this.ratePicos.map((p) =>
      p === 0n ? Number.MAX_SAFE_INTEGER : p > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(BigInt(Number.MAX_SAFE_INTEGER) / p),
    );
  }

  /** Bills user `i` of `rows` (whose id is `user`). */
  bill(user: BillUser, rows: UsageAccess, i: number): void {
    const decimals = this.decimals;
    let durationMs: Amount = 0;
    let costPicos: Amount = 0;
    let billed = false;
    for (let t = 0; t < this.T; t++) {
      const n = rows.requests(i, t);
      if (n === 0) continue;
      billed = true;
      const dn = rows.durationNumber(i, t);
      let d: Amount;
      let c: Amount;
      if (dn >= 0 && dn <= this.safeDuration[t]!) {
        d = dn;
        c = dn * this.rateNumber[t]!;
      } else {
        d = rows.duration(i, t);
        c = d * this.ratePicos[t]!;
      }
      this.sink.task(user, t, n, d, c, roundHalfUp(c, decimals));
      durationMs = plus(durationMs, d);
      costPicos = plus(costPicos, c);
    }
    if (!billed) return;
    const rounded = roundHalfUp(costPicos, decimals);
    this.sink.user(user, durationMs, costPicos, rounded);
    this.users++;
    this.totalDurationMs.add(durationMs);
    this.totalCostPicos.add(costPicos);
    this.totalBilled.add(rounded);
  }

  totals(): BillTotals {
    return {
      decimals: this.decimals,
      users: this.users,
      totalDurationMs: this.totalDurationMs.value(),
      totalCostPicos: this.totalCostPicos.value(),
      totalBilled: this.totalBilled.value(),
    };
  }
}

/**
 * Usage → bill, in the bill's order. A UsageRows table is sorted here; a SortedUsage stream
 * arrives sorted and is billed user by user as it streams (its order is checked: a stream out
 * of order is an error, never a bill in the wrong order), so the bill of any number of users
 * is made in bounded memory.
 */
export async function finalizeBill(usage: UsageRows | SortedUsage, config: BillingConfig, sink: BillSink): Promise<BillTotals> {
  const biller = new UserBiller(config, sink);
  const keyed = isSortedUsage(usage) ? usage.keyed?.() : undefined;
  if (keyed !== undefined) await keyedBillOrder(keyed, (user, rows, i) => biller.bill(user, rows, i), sink.flush?.bind(sink));
  else await inBillOrder(usage, (user, rows, i) => biller.bill(user, rows, i), sink.flush?.bind(sink));
  return biller.totals();
}

/**
 * Visits every user of a keyed stream, as inBillOrder visits a sorted stream's: the order is
 * checked on the ids' bytes (the bill's order is their byte order), with no string made.
 * At a million users, decoding each id, its string comparison and the stream's objects were
 * about a third of writing the bill.
 */
async function keyedBillOrder(users: KeyedUsers, visit: (user: UserKey, rows: UsageAccess, i: number) => void, flush: (() => Promise<void>) | undefined): Promise<void> {
  const key = new UserKey();
  const previous = new KeptKey();
  let k = 0;
  try {
    while (users.next()) {
      key.set(users.bytes, users.at, users.length);
      if (previous.length >= 0 && previous.compare(key) >= 0) {
        throw new Error(`finalize: usage stream out of order: ${JSON.stringify(previous.text())} before ${JSON.stringify(key.text())}`);
      }
      previous.keep(key);
      visit(key, users.rows, users.row);
      if (flush !== undefined && ++k % FLUSH_EVERY_USERS === 0) await flush();
    }
  } finally {
    users.close();
  }
  if (flush !== undefined) await flush();
}

/**
 * Visits every user of `usage` in the bill's order, handing `visit` the user's id and an
 * accessor to their per-task usage (row `i`). A UsageRows table is sorted here; a
 * SortedUsage stream is checked to be in order as it streams. `flush` runs every few
 * thousand users and at the end.
 */
async function inBillOrder(
  usage: UsageRows | SortedUsage,
  visit: (user: string, rows: UsageAccess, i: number) => void,
  flush: (() => Promise<void>) | undefined,
): Promise<void> {
  if (isSortedUsage(usage)) {
    let previous: string | null = null;
    let previousSurrogate = false;
    let k = 0;
    const current = new UserUsageAccess(new UserUsage(usage.taskCount));
    /** Checks the stream's order, visits the user; true when it is time to flush. */
    const step = (user: string, u: UserUsage): boolean => {
      const surrogate = hasSurrogate(user);
      if (previous !== null) {
        const ordered = surrogate || previousSurrogate ? compareUtf8(previous, user) < 0 : previous < user;
        if (!ordered) throw new Error(`finalize: usage stream out of order: ${JSON.stringify(previous)} before ${JSON.stringify(user)}`);
      }
      previous = user;
      previousSurrogate = surrogate;
      current.u = u;
      visit(user, current, 0);
      return flush !== undefined && ++k % FLUSH_EVERY_USERS === 0;
    };
    const sync = usage.usersSync?.();
    if (sync !== undefined) {
      for (const { user, usage: u } of sync) if (step(user, u)) await flush!();
    } else {
      for await (const { user, usage: u } of usage.users()) if (step(user, u)) await flush!();
    }
  } else {
    const ids = Array.from({ length: usage.size }, (_, i) => usage.userId(i));
    const order = billOrder(ids);
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      visit(ids[i]!, usage, i);
      if (flush !== undefined && k % FLUSH_EVERY_USERS === FLUSH_EVERY_USERS - 1) await flush();
    }
  }
  if (flush !== undefined) await flush();
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
export async function finalizePricedBill(usage: UsageRows | SortedUsage, config: BillingConfig, plan: PricingPlan, sink: PricedBillSink): Promise<BillTotals> {
  const decimals = config.currencyDecimals;
  const T = config.rates.length;
  const compiled = compilePlan(plan, config.rates.map((r) => r.task));
  let users = 0;
  const totalDurationMs = new ExactSum();
  const totalCostPicos = new ExactSum();
  const totalBilled = new ExactSum();
  // The exact sum of the users' amounts: picos for users without a discount, 10^-24 units for the others.
  const totalPlainPicos = new ExactSum();
  let totalDiscountedYoctos = 0n;
  const charge: TaskCharge = { billableMs: 0, usage: 0, fees: 0, cost: 0 };
  const billUser = (user: string, rows: UsageAccess, i: number): void => {
    const terms = compiled.customers.size === 0 ? undefined : compiled.customers.get(user);
    const prices = terms === undefined ? compiled.prices : terms.prices;
    let requestsSum = 0;
    let durationMs: Amount = 0;
    let subtotal: Amount = 0;
    let billed = false;
    for (let t = 0; t < T; t++) {
      const requests = rows.requests(i, t);
      if (requests === 0) continue;
      billed = true;
      const n = rows.durationNumber(i, t);
      const big = n >= 0 ? null : rows.duration(i, t);
      priceTaskInto(charge, prices[t]!, requests, n, big);
      const d: Amount = big ?? n;
      sink.task(user, t, requests, d, charge);
      requestsSum += requests;
      durationMs = plus(durationMs, d);
      subtotal = plus(subtotal, charge.cost);
    }
    if (!billed) return;
    const minimum = terms === undefined ? compiled.minimumCharge : terms.minimumCharge;
    const minimumAmount = terms === undefined ? compiled.minimumAmount : terms.minimumAmount;
    const discount = terms === undefined ? 0n : terms.terms.discount;
    let rounded: Amount;
    let discountedYoctos: bigint | null = null;
    if (discount === 0n) {
      const amount: Amount = subtotal < minimumAmount ? minimumAmount : subtotal;
      rounded = roundHalfUp(amount, decimals);
      totalPlainPicos.add(amount);
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
    totalDurationMs.add(durationMs);
    totalCostPicos.add(subtotal);
    totalBilled.add(rounded);
  };
  await inBillOrder(usage, billUser, sink.flush?.bind(sink));
  const totalCostYoctos = totalPlainPicos.value() * 10n ** 12n + totalDiscountedYoctos;
  return {
    decimals,
    users,
    totalDurationMs: totalDurationMs.value(),
    totalCostPicos: totalCostPicos.value(),
    totalBilled: totalBilled.value(),
    totalCostText: formatYoctos(totalCostYoctos),
    totalCostYoctos,
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

export async function collectBill(usage: UsageRows | SortedUsage, config: BillingConfig): Promise<Bill> {
  const bills: UserBill[] = [];
  let tasks: TaskLine[] = [];
  const totals = await finalizeBill(usage, config, {
    task(_user, t, requests, d, c, r) {
      const rate = config.rates[t]!;
      tasks.push({ task: rate.task, rateText: rate.text, requests, durationMs: BigInt(d), costPicos: BigInt(c), costRounded: BigInt(r) });
    },
    user(user, d, c, r) {
      bills.push({ user: userText(user), durationMs: BigInt(d), costPicos: BigInt(c), costRounded: BigInt(r), tasks });
      tasks = [];
    },
  });
  return { ...totals, bills };
}
