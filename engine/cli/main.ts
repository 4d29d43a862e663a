#!/usr/bin/env -S node --
/**
 * Entry point of the `mr` binary.
 *
 * The `--` in the shebang ends node's own options: Node 20 otherwise takes a script argument
 * `--env-file FILE` for its own flag (nodejs/node#54232) and exits 9 with "node: FILE: not
 * found" before mr runs, instead of mr's exit 2. Run mr as `mr ...` or `node -- main.js ...`.
 */
import { main } from './program.js';

process.exitCode = await main(process.argv);
