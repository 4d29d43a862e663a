/**
 * A run's scratch directories (spilled dedupe ids, the shuffle, standard input spooled, the
 * bill before it goes to standard output): made under $TMPDIR, and when that cannot be done
 * a run failure (exit 1) that says where and what to change, not the system call's words.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunFailure } from './errors.js';

/** A new directory `<parent>/<prefix>XXXXXX` for `what` (e.g. "duplicate deliveries spilled to disk"). */
export function makeTempDir(prefix: string, what: string, parent: string = tmpdir()): string {
  try {
    return mkdtempSync(join(parent, prefix));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RunFailure(`cannot make a temporary directory for ${what} in ${parent} (${code}): set TMPDIR to a writable directory`);
  }
}
