/**
 * The commit of a set of outputs, journalled (SPEC "Outputs on failure"): the staged files
 * are flushed, then a journal listing every rename is made durable beside the outputs, then
 * the renames run, then the journal goes. A run killed between two renames leaves the
 * journal; the next run on the same `--out` rolls the commit forward before it reads
 * anything, so a mixed set never outlives the next run.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { stemWorkPath } from './paths.js';
import { RunFailure, systemReason } from '../errors.js';

export interface Rename {
  readonly from: string;
  readonly to: string;
  /** The staged file's identity (identity()), recorded in the journal: its rename is done when `to` is that file. */
  readonly id?: string;
}

/**
 * A file's identity as a rename keeps it: inode, size and modification time (`ino:size:mtimeNs`);
 * null when it is absent. Not the device: its number can change across a reboot or a remount
 * (NFS, overlayfs, device mapper), the very case a journal is for.
 */
function identity(path: string): string | null {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
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

/**
 * The journal of the outputs named after `bill`: a dot file beside it, named after the stem
 * the companions share (as the lock is, lock.ts): a run on `billing.csv` completes a commit
 * of `billing.txt` cut short, whose companions are its own.
 */
export function journalPath(bill: string): string {
  return stemWorkPath(bill, '.mr-commit');
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
  let placed = false;
  try {
    // Absolute paths: a roll-forward may run from another working directory.
    const absolute = renames.map((r) => ({ from: resolve(r.from), to: resolve(r.to), id: identity(r.from) }));
    writeDurable(tmp, `${JSON.stringify({ version: 1, renames: absolute })}\n`);
    renameSync(tmp, journal);
    placed = true;
    fsyncDir(dir);
  } catch (err) {
    rmSync(tmp, { force: true });
    // Nothing was renamed and the failed run removes its staged files: a journal put in place
    // (its folder's flush failed) would make the next run refuse to start over a commit that
    // never began. Removed as best it can be; the error reported is the first one.
    if (placed) {
      try {
        rmSync(journal, { force: true });
      } catch {
        // The next run finds the journal, its staged files gone and nothing renamed, and says so.
      }
    }
    // The user's outputs are named, not the journal (a working file): nothing was renamed, the previous set stands.
    const outputs = renames.length === 0 ? dir : renames[renames.length - 1]!.to;
    throw new RunFailure(`cannot write ${outputs}: ${systemReason(err)}`);
  }
}

/** Second step: the renames, then the journal is removed. */
export function applyJournal(journal: string, renames: readonly Rename[]): void {
  const dir = dirname(journal);
  try {
    renameAll(renames);
  } catch (err) {
    throw new RunFailure(`${(err as Error).message}; the commit is incomplete: the next run on the same --out completes it once that is fixed`);
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
    throw new RunFailure(`cannot read the commit journal ${journal}: ${systemReason(err)}`);
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
  const outside = renames.find((r) => !inDir(r.from, dir) || !inDir(r.to, dir));
  if (outside !== undefined) {
    throw new RunFailure(
      `the commit journal ${journal} names files outside ${dir} (${inDir(outside.to, dir) ? outside.from : outside.to}; was the directory moved or copied after a run was killed during its commit?): the outputs beside it may be from two runs; check them, remove the journal and run again`,
    );
  }
  // The renames run in the journal's order: those done are a prefix whose sources are gone,
  // and every source after it is still there. A source gone after a pending one was removed
  // (by hand, or by a cleaner of dot files after the kill), not renamed.
  const staged = renames.map((r) => existsSync(r.from));
  const first = staged.indexOf(true);
  const done = first === -1 ? renames : renames.slice(0, first);
  const pending = renames.filter((_, i) => staged[i]);
  const gone = renames.filter((r, i) => i >= done.length && !staged[i]);
  if (gone.length > 0 && done.length === 0) {
    // The first source is still there, so nothing was renamed: the previous set is whole, and the interrupted commit is dropped.
    for (const r of pending) rmSync(r.from, { force: true });
    rmSync(journal, { force: true });
    fsyncDir(dir);
    return { completed: [], abandoned: gone.map((r) => r.to) };
  }
  // An output the journal says was renamed that is not the file it staged (its staged file removed, or the output changed since).
  const unlike = done.filter((r) => r.id !== undefined && identity(r.to) !== r.id);
  if (gone.length > 0 || unlike.length > 0) {
    const why = [
      ...gone.map((r) => `the staged ${r.to} is gone`),
      ...unlike.map((r) => `${r.to} is not the file it staged (removed before its rename, or changed since)`),
    ];
    // Replaced for certain: the outputs that are the files it staged. An output that is not may have been left by the
    // rename (and changed since) or never replaced (its staged file removed): which, nothing on disk tells.
    const replaced = done.filter((r) => !unlike.includes(r)).map((r) => r.to);
    const which = replaced.length > 0 ? `the interrupted run had replaced ${replaced.join(', ')}` : 'whether the interrupted run replaced any of its files cannot be told';
    throw new RunFailure(
      `the commit journal ${journal} cannot be completed (${why.join('; ')}), and ${which}: the outputs may be a mixed set; check them, remove the journal and run again to replace the whole set`,
    );
  }
  applyJournal(journal, renames);
  return { completed: pending.map((r) => r.to), abandoned: [] };
}
