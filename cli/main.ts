#!/usr/bin/env -S node --max-semi-space-size=32 --
/**
 * Entry point of the `mr` binary.
 *
 * --max-semi-space-size=32 (MiB, V8's young generation): writing a bill of a million users
 * makes tens of millions of short-lived strings; with V8's default young generation the
 * collector took 3 of a 16 s run (1 GiB, 1M users: 16.1 s → 13.2 s, no change at 1k users).
 * The bench reads the flags from this line, so it measures mr as `mr` runs.
 *
 * The `--` in the shebang ends node's own options: Node 20 otherwise takes a script argument
 * `--env-file FILE` for its own flag (nodejs/node#54232) and exits 9 with "node: FILE: not
 * found" before mr runs, instead of mr's exit 2. Run mr as `mr ...` or `node -- main.js ...`.
 *
 * Signals are taken over before the rest of mr loads, so that a SIGTERM at any moment ends
 * in exit 143 (SPEC "Exit codes").
 */
import { listenForInterrupts } from './interrupts.js';

listenForInterrupts();
const { main } = await import('./program.js').catch((err: unknown) => {
  // mr's own modules did not load (too low an open-files limit: `ulimit -n` under about 32): one line, not Node's stack trace.
  // Said without the path of the module that failed (a file inside mr's package).
  const e = err as NodeJS.ErrnoException;
  const why =
    e.code === 'EMFILE' || e.code === 'ENFILE'
      ? `too many open files (the ${e.code === 'EMFILE' ? 'open-files limit is too low: raise it with ulimit -n' : "system's open-files table is full"})`
      : `its own files did not load (reinstall mr): ${String(e.message ?? err)}`;
  process.stderr.write(`mr: cannot start: ${why}\n`);
  process.exit(1);
});
// Everything has unwound by now (workers destroyed, files committed or removed): exit at once, leaving
// no idle stretch in which a late signal would meet Node without its handlers.
process.exit(await main(process.argv));
