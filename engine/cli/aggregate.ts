/**
 * `mr aggregate`: configuration → inputs → engine → exact bill → outputs, whole or not at all.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadEnv, billingConfigFromEnv, type BillingConfig } from '../core/config/config.js';
import { discoverInputs, verifyUnchanged } from '../core/input/discover.js';
import { RejectLimitExceeded, UsageError } from '../core/errors.js';
import { parseTimestamp, compareInstants, type TimeWindow } from '../core/validation/timestamp.js';
import { finalizeBill } from '../core/billing/finalize.js';
import { totalRejected, type BillingResult } from '../core/billing/usage.js';
import type { RunInput } from '../core/billing/run.js';
import { outputPaths } from '../core/outputs/paths.js';
import { StagedOutputs } from '../core/outputs/staged.js';
import { RejectsWriter } from '../core/outputs/rejects.js';
import { BillWriter } from '../core/outputs/bill.js';
import { summaryJson } from '../core/outputs/summary.js';
import { createProgress } from '../observability/progress.js';
import type { Logger } from '../observability/logger.js';
import { runNaive } from '../naive/engine.js';

export const ENGINES = ['parallel', 'naive', 'spark'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface AggregateOptions {
  readonly engine: EngineName;
  readonly out: string;
  readonly workers?: number;
  readonly shardBytes?: number;
  readonly from?: string;
  readonly to?: string;
  readonly maxRejects?: number;
  readonly envFile?: string;
  readonly remote?: string;
  readonly progress?: boolean;
}

export interface AggregateOutcome {
  readonly result: BillingResult;
  readonly users: number;
  readonly seconds: number;
  readonly bytes: number;
}

function parseInstant(flag: string, text: string | undefined) {
  if (text === undefined) return undefined;
  const t = parseTimestamp(text);
  if (t === null) throw new UsageError(`${flag} ${JSON.stringify(text)} is not an RFC 3339 date-time such as 2025-05-02T00:00:00Z`);
  return t;
}

export function timeWindow(from: string | undefined, to: string | undefined): TimeWindow {
  const w = { from: parseInstant('--from', from), to: parseInstant('--to', to) };
  if (w.from !== undefined && w.to !== undefined && compareInstants(w.from, w.to) >= 0) {
    throw new UsageError(`--from ${from} is not before --to ${to}: the window is empty`);
  }
  return w;
}

export function loadBillingConfig(envFile: string | undefined): { config: BillingConfig; env: Record<string, string> } {
  const env = loadEnv(process.env, envFile);
  return { config: billingConfigFromEnv(env), env };
}

/** Worker threads of the parallel engine: --workers, else the available cores. */
function workersOf(opts: AggregateOptions): number {
  return opts.workers ?? availableParallelism();
}

type EngineRunner = (input: RunInput) => Promise<BillingResult>;

async function engineRunner(opts: AggregateOptions, env: Record<string, string>, log: Logger): Promise<EngineRunner> {
  switch (opts.engine) {
    case 'naive':
      return runNaive;
    case 'parallel': {
      const { runParallel } = await import('../parallel/engine.js');
      const workers = workersOf(opts);
      return (input) => runParallel(input, { workers, shardBytes: opts.shardBytes });
    }
    case 'spark': {
      const { sparkEngine } = await import('../../spark/job/run.js');
      const { resolveRemote } = await import('../../spark/connect/client.js');
      const remote = resolveRemote(opts.remote, env);
      log.info({ remote }, 'spark engine');
      return sparkEngine({ remote });
    }
  }
}

export async function aggregate(paths: readonly string[], opts: AggregateOptions, log: Logger, signal: AbortSignal): Promise<AggregateOutcome> {
  const started = performance.now();
  const window = timeWindow(opts.from, opts.to);
  const { config, env } = loadBillingConfig(opts.envFile);
  const run = await engineRunner(opts, env, log);
  log.info({ tasks: config.rates.map((r) => r.task), currency_decimals: config.currencyDecimals }, 'configuration loaded');

  const found = await discoverInputs(paths);
  for (const path of found.skipped) log.warn({ path }, 'skipped: not a supported input file');
  for (const path of found.duplicates) log.warn({ path }, 'skipped: same file already read through another path');
  const bytes = found.files.reduce((n, f) => n + f.size, 0);
  log.info({ files: found.files.length, bytes, engine: opts.engine }, 'inputs found');
  // An empty bill is a valid outcome (no records), but never a silent one.
  if (found.files.length === 0) log.warn({ paths }, 'no input files found: the bill will be empty');

  const paths_ = outputPaths(opts.out);
  const staged = new StagedOutputs();
  let result: BillingResult | undefined;
  try {
    const rejects = new RejectsWriter(staged.add(paths_.rejects));
    const progress = createProgress(bytes, `mr ${opts.engine}`, opts.progress);
    try {
      result = await run({ files: found.files, config, window, rejects, onBytes: (n) => progress.add(n), signal });
    } finally {
      progress.stop();
    }
    await rejects.end();
    signal.throwIfAborted();
    await verifyUnchanged(found.files);

    const rejected = totalRejected(result.counts);
    if (opts.maxRejects !== undefined && rejected > opts.maxRejects) {
      const byReason = Object.fromEntries(Object.entries(result.counts.rejected).filter(([, n]) => n > 0));
      throw new RejectLimitExceeded(
        `${rejected} rejected lines exceed --max-rejects ${opts.maxRejects} (${JSON.stringify(byReason)}); no bill written`,
      );
    }

    // The bill is staged last so that it is renamed last; its lines are written as finalize hands them over.
    const detailFile = staged.add(paths_.detail);
    const summaryFile = staged.add(paths_.summary);
    const billFile = staged.add(paths_.bill);
    const bill = await finalizeBill(result.usage, config, new BillWriter(billFile, detailFile, config, signal));
    const seconds = (performance.now() - started) / 1000;
    summaryFile.write(
      summaryJson(result.counts, bill, {
        engine: opts.engine,
        workers: opts.engine === 'parallel' ? workersOf(opts) : undefined,
        files: found.files.length,
        bytes,
        seconds,
        window: { from: opts.from ?? null, to: opts.to ?? null },
      }),
    );
    signal.throwIfAborted();
    staged.commit();
    log.info(
      { bill: paths_.bill, users: bill.users, records: result.counts.records, accepted: result.counts.accepted, rejected, out_of_window: result.counts.outOfWindow, seconds: Number(seconds.toFixed(3)) },
      'bill written',
    );
    return { result, users: bill.users, seconds, bytes };
  } finally {
    await result?.release?.();
    staged.discard();
  }
}
