/** billing.summary.json: the SPEC's keys plus what helps a reader (engine, bytes, seconds, throughput). */
import { formatExact, formatFixed } from '../money/decimal.js';
import type { BillTotals } from '../billing/finalize.js';
import type { RunCounts } from '../billing/usage.js';
import { compareUtf8 } from '../billing/order.js';

export interface RunFacts {
  readonly engine: string;
  readonly workers?: number;
  readonly files: number;
  /** Files found in directories and not read for their name (SPEC "Input"). */
  readonly skippedFiles?: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly window: { from: string | null; to: string | null };
  /** --dedupe (SPEC "Duplicate deliveries"). */
  readonly dedupe?: string;
}

export function summaryJson(counts: RunCounts, bill: BillTotals, facts: RunFacts): string {
  const rejected = Object.fromEntries(Object.entries(counts.rejected).filter(([, n]) => n > 0));
  const summary = {
    records: counts.records,
    accepted: counts.accepted,
    out_of_window: counts.outOfWindow,
    duplicates: counts.duplicates,
    conflicting_duplicates: counts.conflictingDuplicates,
    rejected,
    rejected_total: Object.values(counts.rejected).reduce((a, b) => a + b, 0),
    unknown_tasks: Object.fromEntries([...counts.unknownTasks].sort((a, b) => compareUtf8(a[0], b[0]))),
    users: bill.users,
    total_duration_ms: bill.totalDurationMs.toString(),
    total_cost: bill.totalCostText ?? formatExact(bill.totalCostPicos),
    total_billed: formatFixed(bill.totalBilled, bill.decimals),
    currency_decimals: bill.decimals,
    window: facts.window,
    ...(facts.dedupe !== undefined ? { dedupe: facts.dedupe } : {}),
    engine: facts.engine,
    ...(facts.workers !== undefined ? { workers: facts.workers } : {}),
    files: facts.files,
    skipped_files: facts.skippedFiles ?? 0,
    bytes: facts.bytes,
    seconds: Number(facts.seconds.toFixed(3)),
    mib_per_s: facts.seconds > 0 ? Number((facts.bytes / 1048576 / facts.seconds).toFixed(1)) : null,
  };
  return `${JSON.stringify(summary, null, 2)}\n`;
}
