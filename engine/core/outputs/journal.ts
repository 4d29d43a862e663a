/**
 * The commit of a set of outputs, journalled (SPEC "Outputs on failure"): the staged files
 * are flushed, then a journal listing every rename is made durable beside the outputs, then
 * the renames run, then the journal goes. A run killed between two renames leaves the
 * journal; the next run on the same `--out` rolls the commit forward before it reads
 * anything, so a mixed set never outlives the next run.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { RunFailure, systemReason } from '../errors.js';

export interface Rename {
  readonly from: string;
  readonly to: string;
  /** The staged file's identity (`dev:ino`), recorded in the journal: a rename is done when `to` is that file. */
  readonly id?: string;
}

/** A file's identity (`dev:ino`), which a rename keeps; null when it is absent. */
function identity(path: string): string | null {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/** What a roll-forward did: the outputs it put in place, or, when it could not complete the commit, the staged files it found gone. */
export interface RollForward {
  readonly completed: readonly string[];
  /** Outputs whose staged file is gone though not renamed: the commit was abandoned (nothing had been renamed yet) and the previous set kept. */
  readonly abandoned: readonly string[];
}

/** The journal of the outputs named after `bill`: a dot file beside it. */
export function journalPath(bill: string): string {
  return join(dirname(bill), `.${basename(bill)}.mr-commit`);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeDurable(path: string, text: string): void {
  const fd = openSync(path, 'w', 0o644);
  try {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Whether `path` is a file right in `dir`, however either is spelled (relative or absolute, `./`, `//`, `..`). */
function inDir(path: string, dir: string): boolean {
  return resolve(dirname(path)) === resolve(dir);
}

function renameAll(renames: readonly Rename[]): void {
  for (const r of renames) {
    // Done already (a roll-forward after a kill between renames): the source is gone.
    if (!existsSync(r.from)) continue;
    try {
      renameSync(r.from, r.to);
    } catch (err) {
      throw new RunFailure(`cannot write ${r.to}: ${systemReason(err)}`);
    }
  }
}

/**
 * First step of a commit: makes the journal of `renames` durable. The sources must be
 * complete and flushed. From its return on, the journal owns the sources: a failure later
 * must leave them for the roll-forward, never remove them.
 */
export function writeJournal(journal: string, renames: readonly Rename[]): void {
  const dir = dirname(journal);
  for (const r of renames) {
    if (!inDir(r.from, dir) || !inDir(r.to, dir)) throw new RunFailure(`journal ${journal}: ${r.from} → ${r.to} leaves ${dir}`);
    // A staged file gone before the commit (its directory removed during the run, say): the set would be incomplete.
    if (!existsSync(r.from)) throw new RunFailure(`cannot write ${r.to}: its staged file ${r.from} is gone (was ${dir} removed during the run?)`);
  }
  const tmp = `${journal}.${process.pid}.tmp`;
  try {
    // Absolute paths: a roll-forward may run from another working directory.
    const absolute = renames.map((r) => ({ from: resolve(r.from), to: resolve(r.to), id: identity(r.from) }));
    writeDurable(tmp, `${JSON.stringify({ version: 1, renames: absolute })}\n`);
    renameSync(tmp, journal);
    fsyncDir(dir);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new RunFailure(`cannot write ${journal}: ${systemReason(err)}`);
  }
}

/** Second step: the renames, then the journal is removed. */
export function applyJournal(journal: string, renames: readonly Rename[]): void {
  const dir = dirname(journal);
  try {
    renameAll(renames);
  } catch (err) {
    throw new RunFailure(`${(err as Error).message}; the commit is incomplete and the next run on the same --out completes it`);
  }
  fsyncDir(dir);
  rmSync(journal, { force: true });
  fsyncDir(dir);
}

/**
 * Completes the commit an earlier run left half done, if any: returns the files it put in
 * place (empty when there was no journal). A journal that cannot be read is a run failure
 * naming it, never ignored: the set on disk may be mixed.
 */
export function rollForward(journal: string): RollForward {
  let text: string;
  try {
    text = readFileSync(journal, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { completed: [], abandoned: [] };
    throw new RunFailure(`cannot read the commit journal ${journal}: ${(err as Error).message}`);
  }
  let renames: Rename[];
  try {
    const parsed = JSON.parse(text) as { version?: unknown; renames?: unknown };
    if (parsed.version !== 1 || !Array.isArray(parsed.renames)) throw new Error('unknown layout');
    renames = parsed.renames.map((r: unknown) => {
      const o = r as Record<string, unknown>;
      if (typeof o.from !== 'string' || typeof o.to !== 'string' || (o.id !== undefined && o.id !== null && typeof o.id !== 'string')) throw new Error('bad entry');
      return { from: o.from, to: o.to, ...(typeof o.id === 'string' ? { id: o.id } : {}) };
    });
  } catch (err) {
    throw new RunFailure(
      `the commit journal ${journal} is damaged (${(err as Error).message}): the outputs beside it may be from two runs; check them, remove the journal and run again`,
    );
  }
  const dir = dirname(journal);
  for (const r of renames) {
    if (!inDir(r.from, dir) || !inDir(r.to, dir)) throw new RunFailure(`the commit journal ${journal} names files outside ${dir}`);
  }
  const pending = renames.filter((r) => existsSync(r.from));
  // A staged file gone though its output is not that file (removed by hand or by a cleaner of
  // dot files after the kill): the commit cannot be completed whole.
  const lost = renames.filter((r) => !existsSync(r.from) && r.id !== undefined && identity(r.to) !== r.id);
  if (lost.length > 0) {
    const done = renames.filter((r) => !existsSync(r.from) && !lost.includes(r));
    const gone = lost.map((r) => r.to).join(', ');
    if (done.length > 0) {
      throw new RunFailure(
        `the commit journal ${journal} cannot be completed: the staged ${gone} of the interrupted run is gone, and ${done.map((r) => r.to).join(', ')} are already that run's, so the outputs are a mixed set; remove the journal and run again to replace the whole set`,
      );
    }
    // Nothing renamed yet: the previous set is whole; the interrupted commit is dropped.
    for (const r of pending) rmSync(r.from, { force: true });
    rmSync(journal, { force: true });
    fsyncDir(dir);
    return { completed: [], abandoned: lost.map((r) => r.to) };
  }
  applyJournal(journal, renames);
  return { completed: pending.map((r) => r.to), abandoned: [] };
}
