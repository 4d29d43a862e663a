/**
 * Usage per (user, task): request counts and duration sums, exact at any size. Durations
 * are summed as numbers below 2^52 and carried into a bigint beyond, so no sum is ever
 * rounded. Keys live in a Map, so ids like `__proto__` are ordinary users.
 */
import { emptyReasonCounts, REJECT_REASONS, type RejectReason } from '../validation/reasons.js';
import { addTally, emptyTally, type DuplicateTally } from '../dedupe/dedupe.js';
import type { StagedFile } from '../outputs/staged.js';
import type { PricingPlan } from '../pricing/plan.js';
import type { BillTotals } from './totals.js';

/**
 * Duration sums are kept as numbers below this (every integer below 2^53 is exact, so a sum
 * of two values below it is too) and carried into a bigint at or above it. Every usage table
 * (this one, the parallel engine's byte-keyed table) uses these two constants.
 */
export const DURATION_CARRY = 2 ** 52;
export const DURATION_CARRY_BIG = 2n ** 52n;

export class UserUsage {
  readonly requests: Float64Array;
  readonly duration: Float64Array;
  carry: bigint[] | null = null;

  constructor(taskCount: number) {
    this.requests = new Float64Array(taskCount);
    this.duration = new Float64Array(taskCount);
  }

  /** This usage emptied, for reuse. */
  clear(): this {
    this.requests.fill(0);
    this.duration.fill(0);
    this.carry = null;
    return this;
  }

  add(task: number, requests: number, durationMs: number): void {
    this.requests[task]! += requests;
    const d = this.duration[task]! + durationMs;
    if (d >= DURATION_CARRY) {
      this.carryOver(task, BigInt(d));
      this.duration[task] = 0;
    } else {
      this.duration[task] = d;
    }
  }

  addBig(task: number, requests: number, durationMs: bigint): void {
    if (durationMs < DURATION_CARRY_BIG) return this.add(task, requests, Number(durationMs));
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

/**
 * What finalize reads from an engine: users by index (any order), each with per-task
 * request counts and exact duration sums. The naive and spark engines hand over a
 * UsageTable; the parallel engine its byte-keyed table, without building a string-keyed
 * copy of millions of users.
 */
export interface UsageRows {
  readonly taskCount: number;
  /** Users, numbered 0..size-1. */
  readonly size: number;
  userId(i: number): string;
  requests(i: number, task: number): number;
  /** The exact duration sum. */
  duration(i: number, task: number): bigint;
  /** The duration sum when it is a number below 2^52 (exact), else -1 (ask `duration`). */
  durationNumber(i: number, task: number): number;
}

/** The accessors of one user's usage that finalize reads (row `i` of a UsageRows, or a stream's current user). */
export type UsageAccess = Pick<UsageRows, 'requests' | 'durationNumber' | 'duration'>;

/** One user's usage read through the UsageRows accessors (the row ignored): a stream's current user. */
export class UserUsageAccess implements UsageAccess {
  constructor(public u: UserUsage) {}
  requests(_i: number, t: number): number {
    return this.u.requests[t]!;
  }
  durationNumber(_i: number, t: number): number {
    return this.u.carry === null ? this.u.duration[t]! : -1;
  }
  duration(_i: number, t: number): bigint {
    return this.u.durationOf(t);
  }
}

/**
 * A sorted stream's users as their id's bytes, with their usage read where it lies (no
 * string and no object per user): what finalize bills a large bill from (SortedUsage.keyed).
 * After next() returns true, the current user's id is the UTF-8 bytes[at, at + length)
 * (valid UTF-8: validated when it was read), and their usage is row `row` of `rows`; both are
 * valid until the next call of next().
 */
export interface KeyedUsers {
  next(): boolean;
  readonly bytes: Uint8Array;
  readonly at: number;
  readonly length: number;
  readonly rows: UsageAccess;
  readonly row: number;
  /** Ends the stream early (closes what it reads). */
  close(): void;
}

/**
 * Usage streamed in the bill's order, one user at a time: what an engine hands over when
 * its result lives elsewhere (the spark engine's per-(user, task) totals, sorted by the
 * cluster), so that finalize never holds every user at once. `users()` may be iterated more
 * than once; `release()` frees what holds the result.
 */
export interface SortedUsage {
  readonly taskCount: number;
  /** Users in UTF-8 byte order of their ids, each once; a user's object is theirs to keep. */
  users(): AsyncIterable<{ readonly user: string; readonly usage: UserUsage }>;
  /**
   * The same users as users(), read synchronously, when no step of the stream waits for I/O
   * (a merge of sorted tables): finalize then takes no promise and no turn of the event
   * loop per user, only every few thousand. Unlike users(), a user's object may be reused by
   * the next step: it is read before the next one is taken.
   */
  usersSync?(): Iterable<{ readonly user: string; readonly usage: UserUsage }>;
  /** The same users as usersSync(), by their ids' bytes (KeyedUsers): optional, for streams whose users lie as bytes (a merge of sorted tables). */
  keyed?(): KeyedUsers;
}

export function isSortedUsage(u: UsageRows | SortedUsage): u is SortedUsage {
  return typeof (u as SortedUsage).users === 'function';
}

/** Each user's usage as plain values (tests and differential checks). */
export function usageEntries(rows: UsageRows | SortedUsage): Map<string, Array<{ requests: number; durationMs: bigint }>> {
  if (isSortedUsage(rows)) throw new TypeError('usageEntries: a sorted usage stream is read with sortedUsageEntries');
  const out = new Map<string, Array<{ requests: number; durationMs: bigint }>>();
  for (let i = 0; i < rows.size; i++) {
    const tasks = [];
    for (let t = 0; t < rows.taskCount; t++) tasks.push({ requests: rows.requests(i, t), durationMs: rows.duration(i, t) });
    out.set(rows.userId(i), tasks);
  }
  return out;
}

/** usageEntries for a sorted usage stream. */
export async function sortedUsageEntries(rows: SortedUsage): Promise<Map<string, Array<{ requests: number; durationMs: bigint }>>> {
  const out = new Map<string, Array<{ requests: number; durationMs: bigint }>>();
  for await (const { user, usage } of rows.users()) {
    out.set(user, Array.from(usage.requests, (requests, t) => ({ requests, durationMs: usage.durationOf(t) })));
  }
  return out;
}

export class UsageTable implements UsageRows {
  readonly users = new Map<string, UserUsage>();
  /** Index view for UsageRows, taken on first use (the table is complete by then). */
  private ids: string[] | null = null;
  private rows: UserUsage[] | null = null;

  constructor(readonly taskCount: number) {}

  get size(): number {
    return this.users.size;
  }

  userId(i: number): string {
    return this.ids?.[i] ?? this.snapshot().ids![i]!;
  }

  requests(i: number, task: number): number {
    return this.at(i).requests[task]!;
  }

  duration(i: number, task: number): bigint {
    return this.at(i).durationOf(task);
  }

  durationNumber(i: number, task: number): number {
    const u = this.at(i);
    return u.carry === null ? u.duration[task]! : -1;
  }

  private at(i: number): UserUsage {
    return this.rows?.[i] ?? this.snapshot().rows![i]!;
  }

  private snapshot(): this {
    if (this.ids === null || this.ids.length !== this.users.size) {
      this.ids = [...this.users.keys()];
      this.rows = [...this.users.values()];
    }
    return this;
  }

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

/** Line counts of a run (SPEC summary keys); duplicates, conflicts and a few conflict examples from DuplicateTally. */
export interface RunCounts extends DuplicateTally {
  records: number;
  accepted: number;
  outOfWindow: number;
  rejected: Record<RejectReason, number>;
  /** Task name → records rejected as `unknown_task` for it (SPEC summary `unknown_tasks`). */
  unknownTasks: Map<string, number>;
}

export function emptyCounts(): RunCounts {
  return { records: 0, accepted: 0, outOfWindow: 0, rejected: emptyReasonCounts(), unknownTasks: new Map(), ...emptyTally() };
}

/** Adds `n` records of an unknown task to a tally. */
export function countUnknownTask(tally: Map<string, number>, task: string, n = 1): void {
  tally.set(task, (tally.get(task) ?? 0) + n);
}

export function mergeUnknownTasks(into: Map<string, number>, from: ReadonlyMap<string, number>): void {
  for (const [task, n] of from) countUnknownTask(into, task, n);
}

/**
 * Line counts with rejects tallied by reason (RunCounts) or by index in REJECT_REASONS (the
 * parallel engine's compact ShardCounts): addCounts merges any two of them.
 */
export interface CountsTally extends DuplicateTally {
  records: number;
  accepted: number;
  outOfWindow: number;
  rejected: Record<RejectReason, number> | number[];
  unknownTasks: Map<string, number>;
}

/** Adds `from` into `into`: the one counts merge of every engine. */
export function addCounts(into: CountsTally, from: CountsTally): void {
  into.records += from.records;
  into.accepted += from.accepted;
  into.outOfWindow += from.outOfWindow;
  const to = into.rejected;
  const by = from.rejected;
  REJECT_REASONS.forEach((r, i) => {
    const n = Array.isArray(by) ? by[i]! : by[r];
    if (Array.isArray(to)) to[i]! += n;
    else to[r] += n;
  });
  mergeUnknownTasks(into.unknownTasks, from.unknownTasks);
  addTally(into, from);
}

export function totalRejected(c: RunCounts): number {
  let n = 0;
  for (const r of REJECT_REASONS) n += c.rejected[r];
  return n;
}

/** What every engine hands to finalize: counts and usage. */
export interface BillingResult {
  readonly counts: RunCounts;
  readonly usage: UsageRows | SortedUsage;
  /** Frees what still holds the usage (the spark engine's cluster-side result and session); called once the bill is made or the run failed. */
  readonly release?: () => Promise<void>;
  /** The parallel engine's worker threads that ran (--workers, at most one per shard). */
  readonly workers?: number;
  /**
   * Optional: the engine writes the bill (billing.txt and the detail CSV) itself, byte for byte
   * what finalizeBill with a BillWriter writes from `usage`, or with `plan` finalizePricedBill
   * with a PricedBillWriter, and returns the same totals (the parallel engine writes a large
   * bill in key ranges, in its workers). Called at most once, instead of reading `usage`, and
   * before `release`.
   */
  readonly writeBill?: (bill: StagedFile, detail: StagedFile, signal: AbortSignal, plan?: PricingPlan) => Promise<BillTotals>;
}
