/**
 * `mr aggregate`: configuration → outputs checked → inputs → engine → reject limit → exact
 * bill → outputs, whole or not at all.
 */
import { performance } from 'node:perf_hooks';
import { billingConfigFromEnv, billingConfigFromPlan, dedupeSettingsFromEnv, type BillingConfig } from '../engine/core/config/config.js';
import { conflictWarning } from '../engine/core/dedupe/dedupe.js';
import type { PricingPlan } from '../engine/core/pricing/plan.js';
import { unknownTasksMessage } from '../engine/core/config/near-miss.js';
import { countText } from '../engine/core/count-text.js';
import { verifyUnchanged } from '../engine/core/input/discover.js';
import { checkInputArgs, findInputs, type InputFlags } from '../engine/core/input/inputs.js';
import { isS3Url } from '../engine/core/input/s3-url.js';
import { ConfigError, RejectLimitExceeded, UsageError } from '../engine/core/errors.js';
import { parseTimestamp, compareInstants, type TimeWindow } from '../engine/core/validation/timestamp.js';
import type { BillTotals } from '../engine/core/billing/finalize.js';
import { totalRejected, type BillingResult } from '../engine/core/billing/usage.js';
import { overRejectLimit, type RejectLimit } from '../engine/core/billing/reject-limit.js';
import type { RunInput } from '../engine/core/billing/run.js';
import { checkOutputsNotInputs, prepareOutputs, type PreparedOutputs } from '../engine/core/outputs/preflight.js';
import { removeDeadRunsScratch } from '../engine/core/temp-dir.js';
import { StagedOutputs } from '../engine/core/outputs/staged.js';
import { RejectsWriter, type RejectedLine } from '../engine/core/outputs/rejects.js';
import { writeBillFiles } from '../engine/core/outputs/bill.js';
import { summaryJson } from '../engine/core/outputs/summary.js';
import { REJECT_REASONS } from '../engine/core/validation/reasons.js';
import { createProgress, type ProgressDisplay } from '../engine/observability/progress.js';
import type { Logger } from '../engine/observability/logger.js';
import { runNaive } from '../engine/naive/engine.js';
import { workerCount } from '../engine/parallel/worker-count.js';

export const ENGINES = ['parallel', 'naive', 'spark'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface AggregateOptions {
  readonly engine: EngineName;
  /** The bill's path; its companions are named after it. */
  readonly out: string;
  /** How the bill is named to the user when `out` is a scratch file (`-`: standard output). */
  readonly outLabel?: string;
  readonly workers?: number;
  readonly shardBytes?: number;
  /** --s3-streams: concurrent streamed GETs per object in S3 (parallel engine). */
  readonly s3Streams?: number;
  readonly from?: string;
  readonly to?: string;
  readonly maxRejects: RejectLimit;
  readonly remote?: string;
  /** A bar, log lines or nothing (default: a bar on a terminal, else log lines). */
  readonly progress?: ProgressDisplay;
  /** --format, --include, --exclude, --allow-empty (SPEC "Input"). */
  readonly input?: InputFlags;
  /** --pricing FILE: the plan is the whole price list (SPEC "Pricing plans"). */
  readonly pricing?: string;
  /** --dedupe auto|line|off (SPEC "Duplicate deliveries"); else DEDUPE, else auto. */
  readonly dedupe?: string;
  /** Called right after the outputs are committed (the run has succeeded; a signal after it changes nothing). */
  readonly onCommitted?: () => void;
}

/** What became of an earlier run's interrupted commit (prepareOutputs, completeEarlierCommit), said once. */
export function reportEarlierCommit(log: Logger, earlier: Pick<PreparedOutputs, 'completed' | 'abandoned'>): void {
  if (earlier.completed.length > 0) {
    log.warn({ files: earlier.completed }, 'completed the commit of an earlier run that was interrupted between its renames');
  }
  if (earlier.abandoned.length > 0) {
    log.warn({ files: earlier.abandoned }, 'dropped the commit of an earlier run that was interrupted before its renames: its staged files are gone; the previous outputs stay as they were');
  }
}

export interface AggregateOutcome {
  readonly result: BillingResult;
  readonly bill: BillTotals;
  readonly seconds: number;
  readonly bytes: number;
  readonly files: number;
  /** The summary JSON as written beside the bill. */
  readonly summary: string;
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

/**
 * The warning of a run with an empty bill whose records lay outside --from/--to (an empty bill,
 * exit 0). Records rejected or dropped as duplicates are named beside those outside the window,
 * not as in it: a record is judged against the window last, so a rejected one's time may lie
 * anywhere (or be no time at all). Either way the advice to check the window stays.
 */
export function emptyWindowWarning(records: number, outOfWindow: number, from: string | undefined, to: string | undefined): string {
  const window = from !== undefined && to !== undefined ? `[${from}, ${to})` : from !== undefined ? `from ${from}` : `before ${to ?? ''}`;
  const outside = `${countText(outOfWindow)} record${outOfWindow === 1 ? '' : 's'} lay outside it`;
  const advice = "check --from and --to, or whether the period's logs have arrived";
  const unbilled = records - outOfWindow;
  if (unbilled > 0) {
    return `the bill is empty: no record was billed in the window ${window}; ${outside}, and ${countText(unbilled)} ${unbilled === 1 ? 'was' : 'were'} rejected or duplicates (see the summary and the rejects file); ${advice}`;
  }
  return `the bill is empty: no record fell in the window ${window}, and ${outside}; ${advice}`;
}

/** Worker threads of the parallel engine: --workers, else the available cores. */
function workersOf(opts: AggregateOptions): number {
  return workerCount(opts.workers);
}

type EngineRunner = (input: RunInput) => Promise<BillingResult>;

async function engineRunner(opts: AggregateOptions, env: Readonly<Record<string, string>>, log: Logger): Promise<EngineRunner> {
  switch (opts.engine) {
    case 'naive':
      return runNaive;
    case 'parallel': {
      const { runParallel } = await import('../engine/parallel/engine.js');
      const workers = workersOf(opts);
      // The result keeps the workers for a large bill; aggregate releases it in every case.
      return (input) => runParallel(input, { workers, shardBytes: opts.shardBytes, s3Streams: opts.s3Streams, billInWorkers: true });
    }
    case 'spark': {
      const { sparkEngine } = await import('../spark/job/run.js');
      const { parseRemote, redactRemote, resolveRemote } = await import('@mr/spark-connect');
      const remote = resolveRemote(opts.remote, env);
      try {
        parseRemote(remote);
      } catch (err) {
        // A bad address is a bad value (exit 2), found before anything is read: a usage error
        // from --remote, a configuration error from SPARK_REMOTE (as any other bad setting).
        const flag = opts.remote !== undefined && opts.remote !== '';
        const message = `${(err as Error).message} (from ${flag ? '--remote' : 'SPARK_REMOTE'})`;
        throw flag ? new UsageError(message) : new ConfigError(message);
      }
      log.info({ remote: redactRemote(remote) }, 'spark engine');
      // The settings of the env file too (SPEC "Command line": every setting the README lists), not only the environment's.
      return sparkEngine({ remote, functions: env['MR_SPARK_FUNCTIONS'] !== 'off', trace: env['MR_SPARK_TRACE'] === '1', onNotice: (message) => log.warn(message) });
    }
  }
}

function describeLine(r: RejectedLine): string {
  return `${r.file}${r.offset === null ? '' : ` @${r.offset}`}: ${r.reason}`;
}

function overLimitError(limit: RejectLimit, result: BillingResult, first: readonly RejectedLine[]): RejectLimitExceeded {
  const rejected = totalRejected(result.counts);
  const byReason = REJECT_REASONS.filter((r) => result.counts.rejected[r] > 0).map((r) => `${r} ${countText(result.counts.rejected[r])}`);
  const records = result.counts.records;
  const share = records > 0 ? ` (${((rejected * 100) / records).toFixed(2)}%)` : '';
  return new RejectLimitExceeded(
    `${countText(rejected)} of ${countText(records)} records rejected${share}, over --max-rejects ${limit.text}; no bill written (raise --max-rejects to bill anyway)`,
    [`rejected by reason: ${byReason.join(', ')}`, `first ${first.length} rejected lines:`, ...first.map((r) => `  ${describeLine(r)}`)],
  );
}

/**
 * Bills `paths` into the outputs named after `opts.out`. Nothing under `opts.out` changes
 * unless the run succeeds (the previous set stays as it was).
 */
export async function aggregate(
  paths: readonly string[],
  opts: AggregateOptions,
  env: Readonly<Record<string, string>>,
  log: Logger,
  signal: AbortSignal,
): Promise<AggregateOutcome> {
  const started = performance.now();
  checkInputArgs(paths, opts.input ?? {}, opts.engine);
  if (opts.s3Streams !== undefined && !paths.some(isS3Url)) throw new UsageError('--s3-streams applies to s3:// (or s3a://) paths only, and none is given');
  const window = timeWindow(opts.from, opts.to);
  let plan: PricingPlan | undefined;
  if (opts.pricing !== undefined) {
    // A plan bills one billing period: its allowances, tiers and minimums need both ends.
    if (opts.from === undefined || opts.to === undefined) {
      throw new UsageError('--pricing bills one billing period: give --from and --to');
    }
    // Loaded only for a plan: the schema validator and YAML reader cost a flat run nothing.
    const { loadPlan } = await import('../engine/core/pricing/plan.js');
    plan = await loadPlan(opts.pricing, signal);
  }
  const config: BillingConfig = plan === undefined ? billingConfigFromEnv(env) : billingConfigFromPlan(env, plan);
  const dedupe = dedupeSettingsFromEnv(env, opts.dedupe);
  // Before anything is read: a bad --out is refused, and an earlier run's half-done commit completed.
  const outputs = prepareOutputs(opts.out);
  try {
    reportEarlierCommit(log, outputs);
    if (outputs.tookOver !== undefined) log.info({ holder: outputs.tookOver }, 'took over the lock of the outputs from a run that died');
    if (outputs.removed.length > 0) log.info({ files: outputs.removed }, 'removed staging files left by a run that died');
    const scratch = removeDeadRunsScratch();
    if (scratch.length > 0) log.info({ dirs: scratch }, 'removed temporary directories left by runs that died');
    const run = await engineRunner(opts, env, log);
    log.info({ tasks: config.rates.map((r) => r.task), currency_decimals: config.currencyDecimals }, 'configuration loaded');

    const found = await findInputs(paths, opts.input ?? {}, { engine: opts.engine, log, signal, env });
    try {
      checkOutputsNotInputs(outputs.paths, found.files.filter((f) => f.s3 === undefined && f.stream === undefined && f.readPath === undefined).map((f) => f.path));
    } catch (err) {
      await found.release();
      throw err;
    }
    const bytes = found.files.reduce((n, f) => n + f.size, 0);
    log.info({ files: found.files.length, bytes, engine: opts.engine }, 'inputs found');

    // Unknown tasks are named (with a near-miss hint) whether the run ends over the reject limit or with a bill.
    const warnUnknownTasks = (r: BillingResult): void => {
      if (r.counts.unknownTasks.size > 0) log.warn(unknownTasksMessage(r.counts.unknownTasks, config.rates.map((t) => t.task), plan === undefined ? 'RATE_' : 'tasks.'));
    };
    const out = outputs.paths;
    const staged = new StagedOutputs(outputs.journal);
    let result: BillingResult | undefined;
    try {
      const rejects = new RejectsWriter(staged.add(out.rejects));
      const progress = createProgress(bytes, `mr ${opts.engine}`, opts.progress, (p) => log.info(p, 'progress'));
      try {
        result = await run({ files: found.files, config, window, rejects, onBytes: (n) => progress.add(n), signal, dedupe });
      } finally {
        progress.stop();
      }
      await rejects.end();
      signal.throwIfAborted();
      // The spark engine's reads (S3A's) are not pinned to the listing's ETags: its objects are checked here.
      await verifyUnchanged(found.files, { objects: opts.engine === 'spark', signal });

      if (overRejectLimit(opts.maxRejects, totalRejected(result.counts), result.counts.records)) {
        warnUnknownTasks(result);
        throw overLimitError(opts.maxRejects, result, rejects.first);
      }

      // The bill is staged last so that it is renamed last; its lines are written as finalize hands them over.
      const detailFile = staged.add(out.detail);
      const summaryFile = staged.add(out.summary);
      const billFile = staged.add(out.bill);
      const bill =
        result.writeBill !== undefined
          ? await result.writeBill(billFile, detailFile, signal, plan)
          : (await writeBillFiles(result.usage, config, plan, billFile, detailFile, { checkpoint: () => signal.throwIfAborted() })).totals;
      const seconds = (performance.now() - started) / 1000;
      const summary = summaryJson(result.counts, bill, {
        engine: opts.engine,
        workers: result.workers,
        files: found.files.length,
        skippedFiles: found.skippedFiles,
        bytes,
        seconds,
        window: { from: opts.from ?? null, to: opts.to ?? null },
        dedupe: dedupe.mode,
      });
      summaryFile.write(summary);
      signal.throwIfAborted();
      staged.commit();
      opts.onCommitted?.();
      warnUnknownTasks(result);
      if (result.counts.conflictingDuplicates > 0) {
        const files = found.files;
        log.warn(conflictWarning(result.counts, (order) => files[order]?.path ?? `file #${order}`));
      }
      // SPEC bills such a run (exit 0), but an empty bill from records that exist is more often a wrong window or a period whose logs have not arrived.
      if (bill.users === 0 && result.counts.outOfWindow > 0) log.warn(emptyWindowWarning(result.counts.records, result.counts.outOfWindow, opts.from, opts.to));
      log.info(
        {
          bill: opts.outLabel ?? out.bill,
          users: bill.users,
          records: result.counts.records,
          accepted: result.counts.accepted,
          rejected: totalRejected(result.counts),
          out_of_window: result.counts.outOfWindow,
          duplicates: result.counts.duplicates,
          seconds: Number(seconds.toFixed(3)),
        },
        'bill written',
      );
      return { result, bill, seconds, bytes, files: found.files.length, summary };
    } finally {
      await result?.release?.();
      staged.discard();
      await found.release();
    }
  } finally {
    outputs.release();
  }
}
