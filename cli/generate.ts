/** `mr generate`: synthetic logs for tests and benchmarks. */
import { Command, InvalidArgumentError, Option } from './commander.js';
import { kindOfPath, type Format } from '../engine/core/formats/format.js';
import { REJECT_REASONS, type RejectReason } from '../engine/core/validation/reasons.js';
import { DEFAULT_TASKS, generate, parseSize, reasonsFor } from '../engine/generate/generator.js';
import { SHAPES, shapeMismatch, type Shape } from '../engine/generate/shapes.js';
import { daysInMonth } from '../engine/core/validation/timestamp.js';
import { positiveInt } from './options.js';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RunFailure, UsageError, systemReason } from '../engine/core/errors.js';
import { checkWritableDirectory } from '../engine/core/outputs/preflight.js';
import { withInterrupts } from './interrupts.js';

/** A calendar date YYYY-MM-DD (2025-02-30 and 2025-13-01 are refused). */
function calendarDay(value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const [y, mo, d] = m === null ? [0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3])];
  if (m === null || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) {
    throw new InvalidArgumentError('--start-day must be a calendar date YYYY-MM-DD');
  }
  return value;
}

function size(value: string): number {
  const n = parseSize(value);
  if (n === null || n <= 0) throw new InvalidArgumentError('--size must be a size such as 64MiB or 1GiB');
  return n;
}

/** `--bad 0.01` spreads 1% over every reason of the format; `--bad bad_user=0.01,unknown_task=0.02` names them. */
function badShares(value: string): Partial<Record<RejectReason | '*', number>> {
  const out: Partial<Record<RejectReason | '*', number>> = {};
  for (const part of value.split(',')) {
    const [k, v] = part.includes('=') ? part.split('=', 2) : ['*', part];
    const share = Number(v);
    if (!/^\d*\.?\d+$/.test(v!.trim()) || !(share >= 0 && share <= 1)) throw new InvalidArgumentError(`--bad: ${JSON.stringify(part)} is not a share from 0 to 1`);
    if (k !== '*' && !(REJECT_REASONS as readonly string[]).includes(k!)) {
      throw new InvalidArgumentError(`--bad: unknown reason ${JSON.stringify(k)}; reasons: ${REJECT_REASONS.join(', ')}`);
    }
    out[k as RejectReason | '*'] = share;
  }
  return out;
}

function share(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d*\.?\d+$/.test(value.trim()) || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${flag} must be a share from 0 to 1`);
    return n;
  };
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('Write synthetic API logs (space-separated, CSV or JSON lines) with a chosen share of bad lines')
    .requiredOption('--out <file>', 'file to write; its extension (.log .txt .csv .jsonl .ndjson, optionally .gz) picks the format')
    .addOption(
      new Option('--size <size>', 'approximate size to write, e.g. 64MiB, 1GiB (the bytes of the lines, before gzip for a .gz name: a shaped file holds fewer lines than a plain one of the same size; --lines gives the same records)')
        .argParser(size)
        .conflicts('lines'),
    )
    .addOption(new Option('--lines <n>', 'number of lines to write').argParser(positiveInt('--lines')).conflicts('size'))
    .option('--users <n>', 'number of distinct users', positiveInt('--users'), 1000)
    .option('--tasks <list>', 'comma-separated task names', DEFAULT_TASKS.join(','))
    .option('--bad <shares>', 'share of bad lines: one number spread over every reason, or reason=share,...; a reason the format cannot have is left out (default: none)', badShares)
    .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
    .option('--start-day <date>', 'first day of timestamps (YYYY-MM-DD)', calendarDay, '2025-05-01')
    .option('--days <n>', 'days the timestamps span', positiveInt('--days'), 7)
    .addOption(new Option('--format <format>', 'override the format implied by the extension').choices(['space', 'csv', 'jsonl']))
    .option('--request-ids', 'CSV and JSON lines: give every good record a unique request_id (the space format has none: left out there, so one set of options serves every format)')
    .option('--redeliver <share>', 'share of 100-line batches delivered twice (the batch repeated right after it, as a retrying shipper sends it)', share('--redeliver'), 0)
    .option('--conflicts <share>', 'with --request-ids and --redeliver: share of re-delivered good records that come back changed (their duration); nothing without them', share('--conflicts'), 0)
    .addOption(
      new Option(
        '--shape <shape>',
        'how the lines are written, the records being the same: quote-all (CSV, every field quoted), quote-text (CSV, text fields quoted, numbers bare), nested (JSON lines, a nested object in every record), fluent-bit (any format, every line wrapped as Fluent Bit writes it; read it with --wrapped fluent-bit --format FORMAT), cloudwatch (any format, every line after a timestamp as CloudWatch Logs exports it; --wrapped cloudwatch --format FORMAT)',
      )
        .choices(SHAPES)
        .default('plain'),
    )
    .action(async (o: Record<string, unknown>) => {
      const out = o.out as string;
      const kind = kindOfPath(out);
      const format = (o.format as Format | undefined) ?? kind?.format;
      if (format === undefined) throw new InvalidArgumentError(`--out ${out}: use a .log, .txt, .csv, .jsonl or .ndjson name, or --format`);
      if (o.size === undefined && o.lines === undefined) throw new InvalidArgumentError('give --size or --lines');
      const shape = o.shape as Shape;
      const misfit = shapeMismatch(shape, format);
      if (misfit !== null) throw new InvalidArgumentError(misfit);
      const shares = (o.bad as Partial<Record<RejectReason | '*', number>> | undefined) ?? {};
      const bad: Partial<Record<RejectReason, number>> = {};
      const applicable = reasonsFor(format, o.requestIds === true);
      if (shares['*'] !== undefined) for (const r of applicable) bad[r] = shares['*'] / applicable.length;
      for (const r of REJECT_REASONS) if (shares[r] !== undefined) bad[r] = shares[r];
      const tasks = (o.tasks as string).split(',').filter((t) => t.length > 0);
      if (tasks.length === 0) throw new InvalidArgumentError('--tasks: give at least one task name (comma-separated)');
      const odd = tasks.find((t) => /[\s\p{Cc}]/u.test(t));
      if (odd !== undefined) throw new InvalidArgumentError(`--tasks: ${JSON.stringify(odd)} holds whitespace or a control character, which would split or break the generated lines`);
      if (isDirectory(out)) throw new UsageError(`--out ${out} is a directory; give the file to write, e.g. ${join(out, 'api.log')}`);
      checkWritableDirectory('--out', dirname(out));
      const started = Date.now();
      const result = await withInterrupts((signal) => generate({
        out,
        format,
        bytes: o.size as number | undefined,
        lines: o.lines as number | undefined,
        users: o.users as number,
        tasks,
        bad,
        seed: o.seed as number,
        gzip: kind?.gzip ?? false,
        startDay: o.startDay as string,
        days: o.days as number,
        requestIds: o.requestIds === true,
        redeliver: o.redeliver as number,
        conflicts: o.conflicts as number,
        shape,
        signal,
      })).catch((err: unknown) => {
        // The file system's refusals (a read-only directory, a full disk) are run failures naming the file, not mr's bugs.
        if (typeof (err as NodeJS.ErrnoException | null)?.code === 'string') throw new RunFailure(`cannot write ${out}: ${systemReason(err)}`);
        throw err;
      });
      const secs = (Date.now() - started) / 1000;
      process.stdout.write(
        `${JSON.stringify({ out, format, shape, lines: result.lines, bytes: result.bytes, bad: result.bad, redelivered: result.redelivered, changed: result.changed, seconds: secs, mib_per_s: Number((result.bytes / 1048576 / secs).toFixed(1)) })}\n`,
      );
    });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
