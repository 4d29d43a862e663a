/**
 * SIGINT, SIGTERM and SIGHUP. While a run is under way (inside withInterrupts) the first signal
 * aborts it through an AbortSignal and the run unwinds normally, so worker threads, Spark
 * operations and staging files are cleaned up before the process exits with 130, 143 or 129.
 * SIGHUP (the terminal that started mr closed) would otherwise end the process where it
 * stands: Node resets the disposition `nohup` sets, so even a nohup'd run gets it.
 * Nothing calls process.exit while workers live (that aborts Node natively); only a second
 * signal, or a run that has not unwound after a grace period, ends the process at once.
 * Outside a run there is nothing to clean up and a signal ends the process with its code.
 */

import { SIGNAL_EXIT_CODES } from '../engine/core/signal-exit-codes.js';

/** How long a run may take to unwind after the first signal before the process is ended anyway. */
export const UNWIND_GRACE_MS = 15_000;

const controller = new AbortController();
let interrupted: number | undefined;
let running = 0;
/** Set once the run's outputs are committed: it has succeeded, and only its tidying up (and the --json summary) is left. */
let committed = false;
/** After the commit: the --json summary is still to be printed. */
let owesSummary = false;
let signalsAfterCommit = 0;

/** How a stop forced by a signal is said before the process ends; program.ts says it as the run's errors are (a JSON line when logs are JSON). */
let say: (exitCode: number, message: string) => void = (_code, message) => void process.stderr.write(`mr: ${message}\n`);

/** Sets how a stop forced by a signal (a second signal, or a run that did not unwind in time) is said. */
export function sayForcedStopsWith(fn: (exitCode: number, message: string) => void): void {
  say = fn;
}

/** Ends a committed run stopped by a signal: exit 0, or 1 when the --json summary it owes was not printed. */
function stopCommitted(sig: NodeJS.Signals, why: string): never {
  const code = owesSummary ? 1 : 0;
  say(code, `${sig}${why}: stopping now (the bill was written${owesSummary ? '; its summary was not printed' : ''})`);
  process.exit(code);
}

function onSignal(sig: NodeJS.Signals): void {
  const code = (SIGNAL_EXIT_CODES as Readonly<Record<string, number>>)[sig] ?? 1;
  if (committed) {
    // The bill is written: a signal now cannot undo that, so it does not turn the exit code
    // into 130/143 (which would say the previous set was kept). The run finishes; a second
    // signal, or a tidying up that takes longer than the grace period, ends it at once.
    if (++signalsAfterCommit > 1) stopCommitted(sig, ' again');
    setTimeout(() => stopCommitted(sig, `, and the run did not end within ${UNWIND_GRACE_MS / 1000} s`), UNWIND_GRACE_MS).unref();
    return;
  }
  if (running === 0) process.exit(code);
  if (controller.signal.aborted) {
    say(code, `${sig} again: stopping now`);
    process.exit(code);
  }
  interrupted = code;
  process.exitCode = code;
  controller.abort(new Error(`interrupted by ${sig}`));
  setTimeout(() => {
    say(code, `the run did not stop within ${UNWIND_GRACE_MS / 1000} s of ${sig}: stopping now`);
    process.exit(code);
  }, UNWIND_GRACE_MS).unref();
}

/** Takes over SIGINT, SIGTERM and SIGHUP; called first thing by the `mr` binary, before the rest loads. */
export function listenForInterrupts(): void {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
}

/**
 * Called right after a run's outputs are committed (README "Signals"): later signals leave its
 * success as it is. `summary`: the run still prints its --json summary (summaryPrinted after).
 */
export function runCommitted(summary: boolean): void {
  committed = true;
  owesSummary = summary;
}

/** The --json summary of a committed run is on standard output. */
export function summaryPrinted(): void {
  owesSummary = false;
}

/** 130, 143 or 129 once a signal interrupted a run, else undefined. */
export function interruptedExitCode(): number | undefined {
  return interrupted;
}

/** Runs `fn` with an AbortSignal fired by the first SIGINT, SIGTERM or SIGHUP. */
export async function withInterrupts<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  running++;
  try {
    controller.signal.throwIfAborted();
    return await fn(controller.signal);
  } finally {
    running--;
  }
}
