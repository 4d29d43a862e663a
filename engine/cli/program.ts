/**
 * The `mr` command line: aggregate (bill from logs), generate (synthetic logs), spark (a local cluster).
 * Exit codes: 0 success, 1 run failure, 2 usage or configuration error, 3 too many rejects.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createLogger, maskSecrets } from '../observability/logger.js';
import { exitCodeOf } from '../core/errors.js';
import { aggregate, ENGINES, type EngineName } from './aggregate.js';
import { registerGenerate } from './generate.js';
import { registerSpark } from './spark.js';
import { nonNegativeInt, positiveInt } from './options.js';

/** Runs `fn` with an AbortSignal fired by SIGINT/SIGTERM; a second signal or 1.5 s later the process exits. */
export async function withInterrupts(fn: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGINT' ? 130 : 143;
    process.exitCode = code;
    if (controller.signal.aborted) process.exit(code);
    controller.abort(new Error(`interrupted by ${sig}`));
    setTimeout(() => process.exit(code), 1500).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Repeatable option: each occurrence appended. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mr')
    .description('Bill API customers from raw API logs: per user, total duration and exact cost at per-task rates.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  program
    .command('aggregate')
    .description('Aggregate API logs into a bill (billing.txt, .detail.csv, .summary.json, .rejects.csv)')
    .argument('<paths...>', "log files or directories (.log .txt .csv .jsonl .ndjson, optionally rotated .1 or -YYYYMMDD, optionally .gz), or - for standard input")
    .addOption(new Option('--engine <engine>', 'engine to run').choices([...ENGINES]).default('parallel'))
    .option('--out <file>', 'bill to write; companions are named after it', 'data/billing.txt')
    .option('--workers <n>', 'worker threads for the parallel engine (default: available cores)', positiveInt('--workers'))
    .addOption(new Option('--shard-size <bytes>', 'parallel engine shard size in bytes (default: about 4 shards per worker, 4-64 MiB)').argParser(positiveInt('--shard-size')))
    .option('--from <instant>', 'bill records at or after this RFC 3339 instant')
    .option('--to <instant>', 'bill records before this RFC 3339 instant')
    .option('--max-rejects <n>', 'fail with exit 3 and write no bill when more lines are rejected', nonNegativeInt('--max-rejects'))
    .option('--env-file <file>', 'read rates and settings from this file (default: .env when it exists)')
    .option('--remote <url>', 'Spark Connect endpoint for --engine spark (default: $SPARK_REMOTE, then sc://127.0.0.1:15002)')
    .option('--no-progress', 'no progress display even on a terminal')
    // Input (SPEC "Input"): engine/core/input/inputs.ts checks how they combine.
    .addOption(new Option('--format <format>', 'format of standard input (-): space, csv or jsonl (default: space)').choices(['space', 'csv', 'jsonl']))
    .option('--include <glob>', 'read only files found in directories whose path below the argument matches (repeatable)', collect, [])
    .option('--exclude <glob>', 'do not read files found in directories whose path below the argument matches (repeatable)', collect, [])
    .option('--allow-empty', 'no input file, or only empty ones, writes an empty bill instead of failing')
    .action(async (paths: string[], o: Record<string, unknown>) => {
      const log = createLogger();
      await withInterrupts(async (signal) => {
        await aggregate(
          paths,
          {
            engine: o.engine as EngineName,
            out: o.out as string,
            workers: o.workers as number | undefined,
            shardBytes: o.shardSize as number | undefined,
            from: o.from as string | undefined,
            to: o.to as string | undefined,
            maxRejects: o.maxRejects as number | undefined,
            envFile: o.envFile as string | undefined,
            remote: o.remote as string | undefined,
            progress: o.progress === false ? false : undefined,
            input: { format: o.format as string | undefined, include: o.include as string[], exclude: o.exclude as string[], allowEmpty: o.allowEmpty === true },
          },
          log,
          signal,
        );
      });
    });

  registerGenerate(program);
  registerSpark(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      // Commander printed its own parse errors; an InvalidArgumentError thrown by an action was not printed yet.
      if (err instanceof InvalidArgumentError) process.stderr.write(`mr: ${err.message}\n`);
      return 2;
    }
    const code = typeof process.exitCode === 'number' && process.exitCode > 3 ? process.exitCode : exitCodeOf(err);
    const message = maskSecrets(err instanceof Error ? err.message : String(err));
    createLogger().error({ exit_code: code, error: (err as Error).name }, message);
    process.stderr.write(`mr: ${message}\n`);
    return code;
  }
}

