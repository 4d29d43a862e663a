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
import { isSortedUsage, type SortedUsage, type UsageRows, type UserUsage } from './usage.js';

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

type UsageAccess = Pick<UsageRows, 'requests' | 'durationNumber' | 'duration'>;

/** The current user of a sorted stream, read through the UsageRows accessors (index ignored). */
class CurrentUser implements UsageAccess {
  u: UserUsage | null = null;
  requests(_i: number, t: number): number {
    return this.u!.requests[t]!;
  }
  durationNumber(_i: number, t: number): number {
    return this.u!.carry === null ? this.u!.duration[t]! : -1;
  }
  duration(_i: number, t: number): bigint {
    return this.u!.durationOf(t);
  }
}

/** One user's bill lines from their per-task usage; shared by the random-access and the streamed paths. */
class UserBiller {
  private readonly decimals: number;
  private readonly T: number;
  private readonly ratePicos: bigint[];
  private readonly rateNumber: number[];
  private readonly safeDuration: number[];
  users = 0;
  totalDurationMs: Amount = 0;
  totalCostPicos: Amount = 0;
  totalBilled: Amount = 0;

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
  bill(user: string, rows: UsageAccess, i: number): void {
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
    this.totalDurationMs = plus(this.totalDurationMs, durationMs);
    this.totalCostPicos = plus(this.totalCostPicos, costPicos);
    this.totalBilled = plus(this.totalBilled, rounded);
  }

  totals(): BillTotals {
    return {
      decimals: this.decimals,
      users: this.users,
      totalDurationMs: BigInt(this.totalDurationMs),
      totalCostPicos: BigInt(this.totalCostPicos),
      totalBilled: BigInt(this.totalBilled),
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
  if (isSortedUsage(usage)) {
    let previous: string | null = null;
    let previousSurrogate = false;
    let k = 0;
    const current = new CurrentUser();
    for await (const { user, usage: u } of usage.users()) {
      const surrogate = hasSurrogate(user);
      if (previous !== null) {
        const ordered = surrogate || previousSurrogate ? compareUtf8(previous, user) < 0 : previous < user;
        if (!ordered) throw new Error(`finalize: usage stream out of order: ${JSON.stringify(previous)} before ${JSON.stringify(user)}`);
      }
      previous = user;
      previousSurrogate = surrogate;
      current.u = u;
      biller.bill(user, current, 0);
      if (sink.flush !== undefined && ++k % FLUSH_EVERY_USERS === 0) await sink.flush();
    }
    if (sink.flush !== undefined) await sink.flush();
    return biller.totals();
  }
  const ids = Array.from({ length: usage.size }, (_, i) => usage.userId(i));
  const order = billOrder(ids);
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    biller.bill(ids[i]!, usage, i);
    if (sink.flush !== undefined && k % FLUSH_EVERY_USERS === FLUSH_EVERY_USERS - 1) await sink.flush();
  }
  if (sink.flush !== undefined) await sink.flush();
  return biller.totals();
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
      bills.push({ user, durationMs: BigInt(d), costPicos: BigInt(c), costRounded: BigInt(r), tasks });
      tasks = [];
    },
  });
  return { ...totals, bills };
}
