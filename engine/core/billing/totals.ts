/**
 * What a bill sums to, and the exact sum of bills made in parts (the parallel engine renders
 * a large bill in key ranges, one per worker: their totals add up to the whole bill's).
 */
import { formatYoctos } from '../pricing/price.js';

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
  /** With a pricing plan: that exact sum in 10^-24 units (totalCostText is its text). */
  readonly totalCostYoctos?: bigint;
}

/**
 * The totals of a bill made of disjoint parts, all flat-rate or all under one pricing plan
 * (`priced`); every sum is exact (bigints).
 */
export function sumTotals(decimals: number, priced: boolean, parts: readonly BillTotals[]): BillTotals {
  let users = 0;
  let totalDurationMs = 0n;
  let totalCostPicos = 0n;
  let totalBilled = 0n;
  let totalCostYoctos = 0n;
  for (const p of parts) {
    if (p.decimals !== decimals) throw new Error(`internal: a bill part in ${p.decimals} decimals, the bill in ${decimals}`);
    if ((p.totalCostYoctos !== undefined) !== priced) throw new Error('internal: the parts of a bill are not all priced alike');
    users += p.users;
    totalDurationMs += p.totalDurationMs;
    totalCostPicos += p.totalCostPicos;
    totalBilled += p.totalBilled;
    totalCostYoctos += p.totalCostYoctos ?? 0n;
  }
  const totals = { decimals, users, totalDurationMs, totalCostPicos, totalBilled };
  return priced ? { ...totals, totalCostText: formatYoctos(totalCostYoctos), totalCostYoctos } : totals;
}
