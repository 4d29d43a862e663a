/**
 * Runs an engine on files and gathers everything the contract fixes: counts, usage, the
 * bill text and the rejects (file, reason, raw column). Used by the spark integration
 * tests to compare the spark engine with the naive engine, line for line.
 */
import type { RunInput } from '../../engine/core/billing/run.js';
import { isSortedUsage, sortedUsageEntries, usageEntries, type BillingResult } from '../../engine/core/billing/usage.js';
import type { BillingConfig } from '../../engine/core/config/config.js';
import type { InputFile } from '../../engine/core/input/discover.js';
import { collectBill } from '../../engine/core/billing/finalize.js';
import { billText } from '../../engine/core/outputs/bill.js';
import { rawColumn, type RejectsWriter } from '../../engine/core/outputs/rejects.js';
import type { RejectReason } from '../../engine/core/validation/reasons.js';
import type { TimeWindow } from '../../engine/core/validation/timestamp.js';

export interface EngineOutcome {
  readonly counts: BillingResult['counts'];
  /** user → task index → [requests, duration] as text, for deep equality. */
  readonly usage: Record<string, Record<string, [number, string]>>;
  readonly bill: string;
  readonly rejects: Array<[string, RejectReason, string]>;
}

export async function runEngine(
  engine: (input: RunInput) => Promise<BillingResult>,
  files: readonly InputFile[],
  config: BillingConfig,
  window: TimeWindow = {},
): Promise<EngineOutcome> {
  const rejects: Array<[string, RejectReason, string]> = [];
  // A collecting stand-in for the rejects CSV writer (the CSV format itself is core's concern).
  const writer = {
    add(file: string, _offset: number | null, reason: RejectReason, raw: Uint8Array): boolean {
      rejects.push([file, reason, rawColumn(raw)]);
      return true;
    },
    drain: async () => undefined,
    end: async () => undefined,
  } as unknown as RejectsWriter;
  const result = await engine({ files, config, window, rejects: writer, onBytes: () => undefined, signal: new AbortController().signal });
  try {
    return await outcome(result, config, rejects);
  } finally {
    await result.release?.();
  }
}

async function outcome(result: BillingResult, config: BillingConfig, rejects: EngineOutcome['rejects']): Promise<EngineOutcome> {
  const usage: EngineOutcome['usage'] = {};
  const entries = isSortedUsage(result.usage) ? await sortedUsageEntries(result.usage) : usageEntries(result.usage);
  for (const [user, u] of entries) {
    const tasks: Record<string, [number, string]> = {};
    u.forEach(({ requests, durationMs }, t) => {
      if (requests !== 0) tasks[config.rates[t]!.task] = [requests, String(durationMs)];
    });
    usage[user] = tasks;
  }
  return { counts: result.counts, usage, bill: billText(await collectBill(result.usage, config)), rejects };
}
