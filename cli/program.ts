/**
 * The `mr` command line: aggregate (bill from logs), generate (synthetic logs), spark (a local cluster).
 * Exit codes: 0 success, 1 run failure, 2 usage or configuration error, 3 too many rejects,
 * 130/143/129 after SIGINT/SIGTERM/SIGHUP once workers, cluster jobs and staging files are cleaned up.
 * Every failure is reported once: one `mr: …` line for people, one JSON line for machines.
 */
import { rmSync, createReadStream } from 'node:fs';
import { makeTempDir } from '../engine/core/temp-dir.js';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from './commander.js';
import { createLogger, defaultLogFormat, levelFromEnv, LOG_FORMATS, routeProcessWarnings, type LogFormat } from '../engine/observability/logger.js';
import { exitCodeOf, RunFailure, UsageError, systemReason } from '../engine/core/errors.js';
import { loadEnv } from '../engine/core/config/env-file.js';
import { DEFAULT_REJECT_LIMIT, parseRejectLimit, type RejectLimit } from '../engine/core/billing/reject-limit.js';
import { aggregate, ENGINES, reportEarlierCommit, type EngineName } from './aggregate.js';
import { completeEarlierCommit } from '../engine/core/outputs/preflight.js';
import { registerGenerate } from './generate.js';
import { registerSpark } from './spark.js';
import { intInRange, positiveInt } from './options.js';
import { MAX_WORKERS } from '../engine/parallel/worker-count.js';
import { reportError, summaryTable } from './report.js';
import { interruptedExitCode, runCommitted, sayForcedStopsWith, summaryPrinted, withInterrupts } from './interrupts.js';


function rejectLimit(value: string): RejectLimit {
  const limit = parseRejectLimit(value);
  if (limit === null) throw new InvalidArgumentError('--max-rejects must be a count (e.g. 100) or a percentage of the records up to 100% (e.g. 0.5%)');
  return limit;
}

/** Flags that only one engine uses: given with another engine they are refused, never silently ignored. */
const ENGINE_ONLY: ReadonlyArray<[option: string, flag: string, engine: EngineName]> = [
  ['workers', '--workers', 'parallel'],
  ['shardSize', '--shard-size', 'parallel'],
  ['s3Streams', '--s3-streams', 'parallel'],
  ['remote', '--remote', 'spark'],
];

function checkEngineFlags(cmd: Command, engine: EngineName): void {
  for (const [option, flag, only] of ENGINE_ONLY) {
    if (engine !== only && cmd.getOptionValueSource(option) === 'cli') {
      throw new UsageError(`${flag} is an option of the ${only} engine; --engine ${engine} does not use it`);
    }
  }
}

/** Why standard output refused a write. */
function stdoutReason(err: unknown): string {
  return (err as NodeJS.ErrnoException).code === 'EPIPE' ? 'its reader closed it (EPIPE)' : systemReason(err);
}

/** Writes a finished file to standard output and waits until it is flushed; a failed write names standard output. */
async function copyToStdout(path: string): Promise<void> {
  try {
    await pipeline(createReadStream(path), process.stdout, { end: false });
  } catch (err) {
    throw new RunFailure(`cannot write the bill to standard output: ${stdoutReason(err)}`);
  }
}

/** The summary (--json) on standard output, flushed; a failed write is a run failure that says the bill itself was written. */
async function printSummary(summary: string, bill: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      // The stream also emits the failure as an event (after the callback): it stays handled, or Node would crash on it.
      process.stdout.on('error', reject);
      process.stdout.write(summary, (err) => (err ? reject(err) : resolve()));
    });
  } catch (err) {
    throw new RunFailure(`the bill was written to ${bill}, but its summary could not be written to standard output (--json): ${stdoutReason(err)}`);
  }
}

/**
 * A single-value option given twice with different values (`--engine naive --engine parallel`,
 * `--max-rejects 0 --max-rejects 100%`) is contradictory: exit 2, not the last one silently.
 * The same value twice is harmless. Repeatable options (--include, --exclude) are left. Every
 * command's options are checked so.
 */
function refuseRepeatedValues(cmd: Command): void {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  for (const opt of cmd.options) {
    if (!opt.required && !opt.optional) continue; // a flag without a value
    if (opt.long === '--include' || opt.long === '--exclude') continue;
    const parse = opt.parseArg;
    let seen: string | undefined;
    opt.parseArg = <T>(value: string, previous: T): T => {
      // A UsageError, not commander's InvalidArgumentError, which would wrap it in "argument … is invalid".
      if (seen !== undefined && seen !== value) throw new UsageError(`${opt.long} given twice, as ${JSON.stringify(seen)} and ${JSON.stringify(value)}: give one (see mr ${names.join(' ')} --help)`);
      seen = value;
      return parse === undefined ? (value as T) : parse(value, previous);
    };
  }
}

/** Repeatable option: each occurrence appended. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function buildProgram(logFormat: LogFormat): Command {
  const program = new Command();
  program
    .name('mr')
    .description('Bill API customers from raw API logs: per user, total duration and exact cost at per-task rates.')
    .version('0.1.0')
    .exitOverride()
    // Errors are reported once, by main(); help and version still print.
    .configureOutput({ outputError: () => undefined });

  const aggregateCommand = program
    .command('aggregate')
    .description('Aggregate API logs into a bill (billing.txt, .detail.csv, .summary.json, .rejects.csv)')
    .argument('<paths...>', "log files or directories (.log .txt .csv .jsonl .ndjson, optionally rotated .1 or -YYYYMMDD, optionally .gz), or - for standard input")
    .addOption(new Option('--engine <engine>', 'engine to run').choices([...ENGINES]).default('parallel'))
    .option('--out <file>', "bill to write, companions named after it; '-' writes the bill to standard output, no companions", 'data/billing.txt')
    .option('--workers <n>', `parallel engine: worker threads, 1 to ${MAX_WORKERS} (default: available cores)`, intInRange('--workers', MAX_WORKERS))
    .addOption(new Option('--shard-size <bytes>', 'parallel engine: shard size in bytes (default: about 4 shards per worker, 4-64 MiB; objects in S3 at most 16 MiB)').argParser(positiveInt('--shard-size')))
    .addOption(new Option('--s3-streams <n>', 'parallel engine: concurrent streamed GETs per object in S3, each over a run of its shards (default 1: one GET per object)').argParser(positiveInt('--s3-streams')))
    .option('--from <instant>', 'bill records at or after this RFC 3339 instant')
    .option('--to <instant>', 'bill records before this RFC 3339 instant')
    .option('--max-rejects <n|p%>', `fail with exit 3 and write nothing when more lines are rejected (default ${DEFAULT_REJECT_LIMIT} of the records)`, rejectLimit)
    .option('--env-file <file>', 'read rates and settings from this file (default: .env when it exists)')
    .option('--remote <url>', 'spark engine: Spark Connect endpoint (default: $SPARK_REMOTE, then sc://127.0.0.1:15002)')
    .addOption(new Option('--log-format <format>', 'log lines for people or JSON lines for machines (default: human on a terminal, else json)').choices([...LOG_FORMATS]))
    .option('--json', 'print the summary JSON on standard output after a successful run')
    .option('--no-progress', 'no progress bar on a terminal, and no progress log line (every 30 s) elsewhere')
    // Input (SPEC "Input"): engine/core/input/inputs.ts checks how they combine.
    .addOption(new Option('--format <format>', 'format of standard input (-), or of the lines inside --wrapped input: space, csv or jsonl (default: space)').choices(['space', 'csv', 'jsonl']))
    .option('--include <glob>', 'read only files found in directories whose path below the argument matches (repeatable)', collect)
    .option('--exclude <glob>', 'do not read files found in directories whose path below the argument matches (repeatable)', collect)
    .option('--allow-empty', 'no input file, or only empty ones, writes an empty bill instead of failing')
    .addOption(new Option('--wrapped <wrapper>', "each line wraps an API log line: fluent-bit (JSON, the line under 'log') or cloudwatch ('<timestamp> <line>'); every file is read whatever its name, gzip told by its bytes, the lines in --format").choices(['fluent-bit', 'cloudwatch']))
    .option('--wrapped-key <name>', "--wrapped fluent-bit: the JSON key holding the line (default: log)")
    .option('--s3-endpoint <url>', 's3:// inputs: an S3-compatible store at this URL, path-style (default: $AWS_ENDPOINT_URL_S3, then $AWS_ENDPOINT_URL, then AWS)')
    .option('--pricing <file>', 'bill by this pricing plan (YAML or JSON) instead of RATE_ rates; needs --from and --to')
    .addOption(new Option('--dedupe <mode>', 'duplicate deliveries: auto (by request_id where present), line (byte-identical valid lines), off (default: $DEDUPE, else auto)').choices(['auto', 'line', 'off']));
  refuseRepeatedValues(aggregateCommand);
  aggregateCommand.action(async (paths: string[], o: Record<string, unknown>, cmd: Command) => {
    const engine = o.engine as EngineName;
    const toStdout = o.out === '-';
    // Before anything can refuse the run: an earlier run's half-done commit beside --out is completed.
    const earlier = toStdout ? undefined : completeEarlierCommit(o.out as string);
    // Said at once, with the environment's LOG_LEVEL: the flags, the env file or the settings may still refuse the run.
    if (earlier !== undefined) reportEarlierCommit(createLogger(levelFromEnv(process.env['LOG_LEVEL']), 2, logFormat), earlier);
    checkEngineFlags(cmd, engine);
    if (toStdout && o.json === true) throw new UsageError('--out - and --json both write to standard output: choose one');
    // Settings (LOG_LEVEL included) come from the environment and the env file before anything is logged.
    const env = await loadEnv(process.env, o.envFile as string | undefined);
    const level = levelFromEnv(env['LOG_LEVEL'], true);
    const log = createLogger(level, 2, logFormat);
    routeProcessWarnings(log);
    const scratch = toStdout ? makeTempDir('mr-stdout-', 'the bill written to standard output') : undefined;
    try {
      const outcome = await withInterrupts((signal) =>
        aggregate(
          paths,
          {
            engine,
            out: scratch === undefined ? (o.out as string) : join(scratch, 'billing.txt'),
            // --out -: the bill is delivered by the copy to standard output after the run, which a signal still stops.
            ...(scratch === undefined ? { onCommitted: () => runCommitted(o.json === true) } : { outLabel: '-' }),
            workers: o.workers as number | undefined,
            shardBytes: o.shardSize as number | undefined,
            s3Streams: o.s3Streams as number | undefined,
            from: o.from as string | undefined,
            to: o.to as string | undefined,
            maxRejects: (o.maxRejects as RejectLimit | undefined) ?? parseRejectLimit(DEFAULT_REJECT_LIMIT)!,
            remote: o.remote as string | undefined,
            // JSON log lines are for machines: progress as log lines among them, never a bar's escape codes, even on a terminal.
            progress: o.progress === false ? 'off' : logFormat === 'json' ? 'log' : undefined,
            pricing: o.pricing as string | undefined,
            dedupe: o.dedupe as string | undefined,
            input: { format: o.format as string | undefined, include: (o.include as string[] | undefined) ?? [], exclude: (o.exclude as string[] | undefined) ?? [], allowEmpty: o.allowEmpty === true, s3Endpoint: o.s3Endpoint as string | undefined, wrapped: o.wrapped as string | undefined, wrappedKey: o.wrappedKey as string | undefined },
          },
          env,
          log,
          signal,
        ),
      );
      if (scratch !== undefined) await copyToStdout(join(scratch, 'billing.txt'));
      if (o.json === true) {
        await printSummary(outcome.summary, o.out as string);
        summaryPrinted();
      }
      if (logFormat === 'human' && level !== 'silent') process.stderr.write(summaryTable(outcome, engine));
    } finally {
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    }
  });

  registerGenerate(program);
  registerSpark(program);
  // Every other command's single-value options too (`mr generate --lines 1 --lines 2`).
  const others = (cmd: Command): Command[] => cmd.commands.flatMap((c) => [c, ...others(c)]);
  for (const cmd of others(program)) if (cmd !== aggregateCommand) refuseRepeatedValues(cmd);
  return program;
}

/** `--log-format X` from the command line (read before parsing, so that parse errors are reported in it too). */
export function logFormatOf(argv: readonly string[]): LogFormat {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = a === '--log-format' ? argv[i + 1] : a.startsWith('--log-format=') ? a.slice('--log-format='.length) : undefined;
    if (v === 'human' || v === 'json') return v;
  }
  return defaultLogFormat();
}

export async function main(argv: string[]): Promise<number> {
  const format = logFormatOf(argv);
  sayForcedStopsWith((code, message) => {
    // Exit 0: a committed run's bill stands, so this is no error.
    if (code === 0) {
      if (format === 'json') createLogger('warn', 2, 'json').warn({}, message);
      else process.stderr.write(`mr: ${message}\n`);
      return;
    }
    reportError(format, code, code === 1 ? new RunFailure(message) : new Error(message));
  });
  const program = buildProgram(format);
  if (argv.length <= 2) {
    // Bare `mr`: help on stderr, and a usage error (a script that forgot its command must not pass).
    process.stderr.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv);
    return interruptedExitCode() ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      // `mr help CMD` (exit 0), or a command group without its subcommand (`mr spark`): commander printed the help.
      if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2;
      // One line: commander puts its suggestion on a line of its own.
      const message = err.message.replace(/^error: /, '').replace(/\s*\n\s*\(Did you mean ([^)]*)\)/, ': did you mean $1').replace(/\s*\n\s*/g, ' ');
      // The help that lists the flags: the command's own when one was named.
      const command = program.commands.some((c) => c.name() === argv[2]) ? ` ${argv[2]}` : '';
      reportError(format, 2, new UsageError(`${message} (see mr${command} --help)`));
      return 2;
    }
    const code = interruptedExitCode() ?? exitCodeOf(err);
    reportError(format, code, err);
    return code;
  }
}
