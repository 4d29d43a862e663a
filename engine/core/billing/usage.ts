/**
 * Usage per (user, task): request counts and duration sums, exact at any size. Durations
 * are summed as numbers below 2^52 and carried into a bigint beyond, so no sum is ever
 * rounded. Keys live in a Map, so ids like `__proto__` are ordinary users.
 */
import { emptyReasonCounts, REJECT_REASONS, type RejectReason } from '../validation/reasons.js';

const CARRY = 2 ** 52;
const BIG_CARRY = 2n ** 52n;

export class UserUsage {
  readonly requests: Float64Array;
  readonly duration: Float64Array;
  carry: bigint[] | null = null;

  constructor(taskCount: number) {
    this.requests = new Float64Array(taskCount);
    this.duration = new Float64Array(taskCount);
  }

  add(task: number, requests: number, durationMs: number): void {
    this.requests[task]! += requests;
    const d = this.duration[task]! + durationMs;
    if (d >= CARRY) {
      this.carryOver(task, BigInt(d));
      this.duration[task] = 0;
    } else {
      this.duration[task] = d;
    }
  }

  addBig(task: number, requests: number, durationMs: bigint): void {
    if (durationMs < BIG_CARRY) return this.add(task, requests, Number(durationMs));
    this.requests[task]! += requests;
    this.carryOver(task, durationMs);
  }

  durationOf(task: number): bigint {
    const base = BigInt(this.duration[task]!);
    return this.carry === null ? base : base + this.carry[task]!;
  }

  private carryOver(task: number, amount: bigint): void {
    if (this.carry === null) this.carry = Array.from(this.requests, () => 0n);
    this.carry[task] = this.carry[task]! + amount;
  }
}

export class UsageTable {
  readonly users = new Map<string, UserUsage>();

  constructor(readonly taskCount: number) {}

  row(user: string): UserUsage {
    let u = this.users.get(user);
    if (u === undefined) this.users.set(user, (u = new UserUsage(this.taskCount)));
    return u;
  }

  add(user: string, task: number, requests: number, durationMs: number): void {
    this.row(user).add(task, requests, durationMs);
  }

  merge(other: UsageTable): void {
    for (const [user, o] of other.users) {
      const u = this.row(user);
      for (let t = 0; t < this.taskCount; t++) {
        if (o.requests[t] === 0) continue;
        u.addBig(t, o.requests[t]!, o.durationOf(t));
      }
    }
  }
}

/** Line counts of a run (SPEC summary keys). */
export interface RunCounts {
  records: number;
  accepted: number;
  outOfWindow: number;
  rejected: Record<RejectReason, number>;
}

export function emptyCounts(): RunCounts {
  return { records: 0, accepted: 0, outOfWindow: 0, rejected: emptyReasonCounts() };
}

export function addCounts(into: RunCounts, from: RunCounts): void {
  into.records += from.records;
  into.accepted += from.accepted;
  into.outOfWindow += from.outOfWindow;
  for (const r of REJECT_REASONS) into.rejected[r] += from.rejected[r];
}

export function totalRejected(c: RunCounts): number {
  let n = 0;
  for (const r of REJECT_REASONS) n += c.rejected[r];
  return n;
}

/** What every engine hands to finalize: counts and usage. */
export interface BillingResult {
  readonly counts: RunCounts;
  readonly usage: UsageTable;
}
