/**
 * The exit code of a run stopped by a signal (SPEC "Exit codes": 128 + the signal's number).
 * Imports nothing: the `mr` binary's signal handlers load it before the rest of mr.
 */
export const SIGNAL_EXIT_CODES: Readonly<Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** True for an exit code that says a signal stopped the run. */
export function isSignalExitCode(code: number): boolean {
  return code === SIGNAL_EXIT_CODES.SIGINT || code === SIGNAL_EXIT_CODES.SIGTERM || code === SIGNAL_EXIT_CODES.SIGHUP;
}
