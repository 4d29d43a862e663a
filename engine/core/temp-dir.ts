/**
 * A run's scratch directories (spilled dedupe ids, the shuffle, the workers' spilled usage,
 * standard input spooled, the bill before it goes to standard output): made under $TMPDIR,
 * and when that cannot be done a run failure (exit 1) that says where and what to change,
 * not the system call's words.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RunFailure, systemReason } from './errors.js';
import { processAlive } from './process-alive.js';

/** A run's scratch directories: `mr-<kind>-<pid>-…`, the pid of the run that made them. */
const SCRATCH_NAME = /^mr-(?:stdin|stdout|shuffle|dedupe|usage)-(\d+)-/;

function failure(what: string, parent: string, err: unknown): RunFailure {
  return new RunFailure(`cannot make a temporary directory for ${what} in ${parent}: ${systemReason(err)}; set TMPDIR to a writable directory`);
}

/** A new directory `<parent>/<prefix><pid>-XXXXXX` for `what` (e.g. "request ids spilled to disk"). */
export function makeTempDir(prefix: string, what: string, parent: string = tmpdir()): string {
  try {
    return mkdtempSync(join(parent, `${prefix}${process.pid}-`));
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

/** The path of a scratch directory named beforehand (`<parent>/<prefix><pid>-<id>`), made by ensureTempDir. */
export function namedTempPath(prefix: string, id: string, parent: string = tmpdir()): string {
  return join(parent, `${prefix}${process.pid}-${id}`);
}

/**
 * Removes the scratch directories of runs that died without removing them (`kill -9`: a spooled
 * copy of standard input, spilled ids or usage), as a run removes its output directory's dead
 * staging files. Only names of mr's scratch directories whose pid no longer runs; one that
 * cannot be removed (another user's) is left. Returns what was removed.
 */
export function removeDeadRunsScratch(parent: string = tmpdir()): string[] {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const m = SCRATCH_NAME.exec(entry);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      rmSync(join(parent, entry), { recursive: true, force: true });
      removed.push(join(parent, entry));
    } catch {
      // not ours to remove: left
    }
  }
  return removed;
}
