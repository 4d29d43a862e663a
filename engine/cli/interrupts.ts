/**
 * SIGINT and SIGTERM: the run is aborted through an AbortSignal and unwinds normally, so
 * worker threads, Spark operations and staging files are cleaned up before the process
 * exits with 130 or 143. Nothing calls process.exit while workers live (that aborts Node
 * natively); only a second signal, or a run that has not unwound after a grace period,
 * ends the process at once.
 */

const EXIT_CODE: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };
/** How long a run may take to unwind after the first signal before the process is ended anyway. */
export const UNWIND_GRACE_MS = 15_000;

let interrupted: number | undefined;

/** 130 or 143 once a signal arrived, else undefined. */
export function interruptedExitCode(): number | undefined {
  return interrupted;
}

/** Runs `fn` with an AbortSignal fired by the first SIGINT/SIGTERM. */
export async function withInterrupts<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    const code = EXIT_CODE[sig] ?? 1;
    if (controller.signal.aborted) {
      process.stderr.write(`mr: ${sig} again: stopping now\n`);
      process.exit(code);
    }
    interrupted = code;
    process.exitCode = code;
    controller.abort(new Error(`interrupted by ${sig}`));
    setTimeout(() => {
      process.stderr.write(`mr: the run did not stop within ${UNWIND_GRACE_MS / 1000} s of ${sig}: stopping now\n`);
      process.exit(code);
    }, UNWIND_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
