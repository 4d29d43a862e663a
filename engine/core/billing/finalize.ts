/**
 * Usage → bill. Cost per (user, task) is duration × rate exactly; a user's total is the
 * exact sum of their task costs, rounded once, half-up, to CURRENCY_DECIMALS.
 */
import type { BillingConfig } from '../config/config.js';
import { cost, roundHalfUp } from '../money/decimal.js';
import { compareUtf8, hasSurrogate } from './order.js';
import type { UsageTable } from './usage.js';

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

export interface Bill {
  readonly decimals: number;
  /** Users with at least one accepted record, in UTF-8 byte order of their ids. */
  readonly users: readonly UserBill[];
  readonly totalDurationMs: bigint;
  /** Exact sum of every cost. */
  readonly totalCostPicos: bigint;
  /** Sum of the users' rounded totals: what is invoiced. */
  readonly totalBilled: bigint;
}

export function finalizeBill(usage: UsageTable, config: BillingConfig): Bill {
  const decimals = config.currencyDecimals;
  const names = [...usage.users.keys()];
  // Without surrogates, UTF-16 code-unit order (the native sort) is UTF-8 byte order.
  names.sort(names.some(hasSurrogate) ? compareUtf8 : undefined);
  const users: UserBill[] = [];
  let totalDurationMs = 0n;
  let totalCostPicos = 0n;
  let totalBilled = 0n;
  for (const user of names) {
    const u = usage.users.get(user)!;
    const tasks: TaskLine[] = [];
    let durationMs = 0n;
    let costPicos = 0n;
    config.rates.forEach((rate, t) => {
      const requests = u.requests[t]!;
      if (requests === 0) return;
      const d = u.durationOf(t);
      const c = cost(d, rate.picos);
      tasks.push({ task: rate.task, rateText: rate.text, requests, durationMs: d, costPicos: c, costRounded: roundHalfUp(c, decimals) });
      durationMs += d;
      costPicos += c;
    });
    if (tasks.length === 0) continue;
    const costRounded = roundHalfUp(costPicos, decimals);
    users.push({ user, durationMs, costPicos, costRounded, tasks });
    totalDurationMs += durationMs;
    totalCostPicos += costPicos;
    totalBilled += costRounded;
  }
  return { decimals, users, totalDurationMs, totalCostPicos, totalBilled };
}
