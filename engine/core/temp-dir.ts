/**
 * A run's scratch directories (spilled dedupe ids, the shuffle, the workers' spilled usage,
 * standard input spooled, the bill before it goes to standard output): made under $TMPDIR,
 * and when that cannot be done a run failure (exit 1) that says where and what to change,
 * not the system call's words.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RunFailure } from './errors.js';

function failure(what: string, parent: string, err: unknown): RunFailure {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new RunFailure(`cannot make a temporary directory for ${what} in ${parent} (${code}): set TMPDIR to a writable directory`);
}

/** A new directory `<parent>/<prefix>XXXXXX` for `what` (e.g. "request ids spilled to disk"). */
export function makeTempDir(prefix: string, what: string, parent: string = tmpdir()): string {
  try {
    return mkdtempSync(join(parent, prefix));
  } catch (err) {
    throw failure(what, parent, err);
  }
}

/** The directory `path`, named beforehand and shared (the workers' spilled usage), made when missing. */
export function ensureTempDir(path: string, what: string): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw failure(what, dirname(path), err);
  }
}
