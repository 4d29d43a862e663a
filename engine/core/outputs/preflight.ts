/**
 * `--out` checked before any input is read (SPEC "Outputs on failure"): every output path
 * must be a file path in a writable directory (a missing parent is created); the outputs are
 * locked for the run (`lock.ts`); a commit an earlier run left half done is completed first;
 * staging files of runs that died (kill -9) are removed. A bad `--out` is a usage error
 * (exit 2) with nothing read.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, rmdirSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RunFailure, UsageError, systemCode, systemReason } from '../errors.js';
import { processAlive } from '../process-alive.js';
import { journalPath, rollForward } from './journal.js';
import { acquireOutputLock, LOCK_TMP, type OutputLock } from './lock.js';
import { outputPaths, outputSpelling, type OutputPaths } from './paths.js';
import { STAGED_NAME, stagingPath } from './staged.js';

export interface PreparedOutputs {
  readonly paths: OutputPaths;
  readonly journal: string;
  /** Outputs an earlier, interrupted commit put in place now. */
  readonly completed: readonly string[];
  /** Outputs of an earlier, interrupted commit that could not be completed (their staged files gone before any rename): the previous set was kept. */
  readonly abandoned: readonly string[];
  /** Staging files of dead runs that were removed. */
  readonly removed: readonly string[];
  /** The holder of a stale lock (a run that died) this run took over. */
  readonly tookOver: string | undefined;
  /** Ends the run's hold on the outputs: the lock removed, and a directory it created removed again if still empty. */
  release(): void;
}

/** The nearest ancestor of `dir` that exists (dir itself when it does). */
function nearestExisting(dir: string): string {
  let d = dir;
  for (;;) {
    try {
      statSync(d);
      return d;
    } catch {
      const up = dirname(d);
      if (up === d) return d;
      d = up;
    }
  }
}

/**
 * Checks that files can be written in `dir` (named by `flag` in the error): it is a writable
 * directory, or the nearest of its ancestors that exists is one (the rest can be created).
 * Usage error (exit 2) otherwise. Returns that nearest existing directory.
 */
export function checkWritableDirectory(flag: string, dir: string): string {
  const existing = nearestExisting(dir);
  if (!statSync(existing).isDirectory()) throw new UsageError(`${flag}: cannot create the directory ${dir}: ${existing} is a file`);
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`${flag}: the directory ${existing} is not writable`);
  }
  return existing;
}

/**
 * Checks `--out` without changing anything: a file name, none of the four paths a
 * directory, and its directory either there and writable or creatable (its nearest
 * existing ancestor a writable directory). Usage error (exit 2) otherwise.
 */
export function checkOutputs(given: string): OutputPaths {
  if (given === '' || given.endsWith('/') || basename(given) === '.' || basename(given) === '..') {
    throw new UsageError(`--out ${JSON.stringify(given)} names a directory; give the bill's file name, e.g. ${join(given || '.', 'billing.txt')}`);
  }
  // In one spelling (`./a//b/billing.txt` is `a/b/billing.txt`), as the staging and journal paths beside it are.
  const out = outputSpelling(given);
  const paths = outputPaths(out);
  const dir = dirname(out);
  const existing = checkWritableDirectory('--out', dir);
  if (existing === dir) {
    for (const p of [paths.bill, paths.detail, paths.summary, paths.rejects]) {
      let st: Stats | undefined;
      try {
        // Followed: a symbolic link to a directory names a directory too.
        st = statSync(p);
      } catch {
        // Absent: fine. A dangling link is refused below as any link is.
      }
      if (st?.isDirectory() === true) throw new UsageError(`--out: ${p} is a directory, so the bill's set of files cannot be written there`);
      // A device (`--out /dev/null`), FIFO or socket would be replaced by a file of that name, not written to.
      if (st !== undefined && !st.isFile()) {
        throw new UsageError(`--out: ${p} is not a regular file (a device, FIFO or socket), and the bill's set of files replaces its files; for the bill on standard output use --out -`);
      }
      // The commit renames over a link, not into the file it names (`--out /dev/stdout` would replace /dev/stdout).
      if (st?.isDirectory() !== true && isLink(p)) {
        throw new UsageError(`--out: ${p} is a symbolic link, and the bill's set of files replaces its files by renaming, which would replace the link, not the file it names: give the file's own path (for the bill on standard output, --out -)`);
      }
    }
  }
  return paths;
}

/** Whether `p` is a symbolic link (dangling or not); false when there is nothing there. */
function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Refuses a run whose outputs would replace one of its inputs (`--out` naming an input file,
 * or a companion such as billing.detail.csv given as input): the same file by device and
 * inode, however either is spelled or linked. Checked once the inputs are found, before any
 * is read. `inputs` are local paths (standard input and S3 objects are never outputs).
 */
export function checkOutputsNotInputs(paths: OutputPaths, inputs: readonly string[]): void {
  const identity = (p: string): string | null => {
    try {
      const st = statSync(p, { bigint: true });
      return `${st.dev}:${st.ino}`;
    } catch {
      return null; // absent: it cannot be an input
    }
  };
  const outputs = new Map<string, string>();
  for (const p of [paths.bill, paths.detail, paths.summary, paths.rejects]) {
    const id = identity(p);
    if (id !== null) outputs.set(id, p);
  }
  if (outputs.size === 0) return;
  for (const input of inputs) {
    const out = outputs.get(identity(input) ?? '');
    if (out !== undefined) throw new UsageError(`--out: ${out} is one of the inputs (${input}); the run would replace it`);
  }
}

/**
 * A file made and removed where the bill's staging files go: a directory that access() calls
 * writable may still refuse new files (a pseudo filesystem such as /proc, a server that maps
 * root to nobody). Named as a staging file, so a kill before its removal leaves what the next
 * run removes.
 */
function probe(bill: string): void {
  const path = stagingPath(bill);
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    throw probeFailure(`--out: cannot create files in ${dirname(bill)}`, err);
  }
  rmSync(path, { force: true });
}

/**
 * A probe's refusal: a full file system (no space or no inode left: ENOSPC, or a quota) is a
 * run failure (exit 1), which a retry may cure once space is freed; any other is a bad --out
 * (exit 2).
 */
function probeFailure(what: string, err: unknown, why = systemReason(err)): Error {
  const message = `${what}: ${why}`;
  return isFull(err) ? new RunFailure(message) : new UsageError(message);
}

/**
 * What stands in the way where `path` is a symbolic link that stat cannot follow (`err`): a
 * link to nothing, or a loop of links, named with its target; undefined for anything else.
 */
function linkTrouble(path: string, err: unknown): string | undefined {
  const code = systemCode(err);
  if (code !== 'ENOENT' && code !== 'ELOOP') return undefined;
  try {
    if (!lstatSync(path).isSymbolicLink()) return undefined;
    const target = readlinkSync(path);
    return code === 'ENOENT' ? `${path} is a symbolic link to ${target}, which does not exist (ENOENT)` : `${path} is a symbolic link to ${target}, a loop of links (ELOOP)`;
  } catch {
    return undefined;
  }
}

/** Whether a system call failed for a full file system: no space or no inode left (ENOSPC), or a quota (EDQUOT). */
function isFull(err: unknown): boolean {
  const code = systemCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Each output there now must be replaceable by a rename at the commit, or the commit would
 * stop after replacing some of the set. Refused (exit 2), naming the file:
 * - a file that is immutable or append-only (chattr +i, +a), or mounted over (docker -v
 *   ./billing.txt:…): it cannot be hard-linked either (EPERM, EXDEV), which is what is tried
 *   here, as the lock itself is made. Linux's protected_hardlinks also refuses a link to a
 *   file of another user that this one cannot read and write, which a rename may still
 *   replace: that refusal says nothing, and the file is let through;
 * - a file of another user in a sticky directory (as /tmp is) that this user does not own
 *   either: only they (or root) may rename over it.
 */
function checkReplaceable(paths: OutputPaths): void {
  const uid = process.getuid?.() ?? 0;
  const dir = dirname(paths.bill);
  const dirSt = statSync(dir);
  for (const p of [paths.bill, paths.detail, paths.summary, paths.rejects]) {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      continue; // absent: nothing to replace
    }
    const others = uid !== 0 && st.uid !== uid;
    if (others && (dirSt.mode & 0o1000) !== 0 && dirSt.uid !== uid) {
      throw new UsageError(`--out: ${p} belongs to another user in a directory only its owners may rename in (sticky, as /tmp is), so mr cannot replace it; remove it or choose another --out`);
    }
    const link = stagingPath(p);
    try {
      linkSync(p, link);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      let readWrite = true;
      try {
        accessSync(p, constants.R_OK | constants.W_OK);
      } catch {
        readWrite = false;
      }
      if (code === 'EPERM' && others && !readWrite) continue; // protected_hardlinks, not the file
      // A link can need a new directory block: a full file system says nothing of the file.
      if (isFull(err)) throw probeFailure(`--out: cannot check that ${p} can be replaced`, err);
      throw new UsageError(`--out: ${p} cannot be replaced (${systemReason(err)}): is it immutable (chattr +i) or mounted over? The set of four files is replaced whole or not at all`);
    }
    rmSync(link, { force: true });
  }
}

/**
 * A directory made and removed in `parent`, the nearest existing ancestor of a missing output
 * directory: one that access() calls writable may still refuse new directories (/proc, /sys),
 * and Node 20's recursive mkdir spins for ever on /proc. Not recursive here.
 */
function probeDirectory(parent: string): void {
  const path = join(parent, `.mr-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(path, 0o700);
  } catch (err) {
    throw probeFailure(`--out: cannot create directories in ${parent}`, err);
  }
  rmdirSync(path);
}

/**
 * Before anything else of a run: checks `--out` (checkOutputs), creates a missing directory,
 * takes the outputs' lock (one run at a time), completes a commit an earlier run left half
 * done, removes dead runs' staging files. The caller must call `release()` when the run ends.
 */
export function prepareOutputs(given: string): PreparedOutputs {
  const paths = checkOutputs(given);
  const out = paths.bill;
  const dir = dirname(out);
  const journal = journalPath(out);
  // The directories made, deepest first: removed again, if still empty, when the run ends without a bill.
  let created: string[] = [];
  let lock: OutputLock | undefined;
  const release = (): void => {
    lock?.release();
    for (const d of created) {
      try {
        rmdirSync(d);
      } catch {
        break; // not empty (the bill is there) or gone: what stays above it stays too
      }
    }
    created = [];
  };
  if (!existsSync(dir)) {
    const parent = nearestExisting(dir);
    probeDirectory(parent);
    // One level at a time, each recorded as it is made: a failure part way (no inode left) leaves none of them.
    const missing: string[] = [];
    for (let d = dir; d !== parent && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
    for (const d of missing) {
      try {
        mkdirSync(d);
      } catch (err) {
        // Made meanwhile by someone else: theirs, not removed. Something else there (a link to
        // nothing, a loop of links) fails with what stat says of it.
        let cause = err;
        if (systemCode(err) === 'EEXIST') {
          try {
            if (statSync(d).isDirectory()) continue;
          } catch (statErr) {
            cause = statErr;
          }
        }
        release();
        throw probeFailure(`--out: cannot create the directory ${dir}`, cause, linkTrouble(d, cause));
      }
      created.unshift(d);
    }
  }
  try {
    probe(paths.bill);
    lock = acquireOutputLock(paths.bill);
    const { completed, abandoned } = rollForward(journal);
    // After the roll-forward: an earlier commit is completed wherever it can be.
    checkReplaceable(paths);
    // A dead run's staging files: `.mr-staging-<pid>-<random>-<output name>` for one of this set's names,
    // and its journal's or lock's temporary files.
    const names = new Set([paths.bill, paths.detail, paths.summary, paths.rejects].map((p) => basename(p)));
    const removed: string[] = [];
    for (const entry of readdirSync(dir)) {
      const staged = STAGED_NAME.exec(entry);
      const journalTmp = entry.startsWith(`${basename(journal)}.`) ? /\.(\d+)\.tmp$/.exec(entry) : null;
      const lockTmp = entry.startsWith(`${basename(lock.path)}.`) ? LOCK_TMP.exec(entry) : null;
      const pid = staged !== null && names.has(staged[2]!) ? Number(staged[1]) : journalTmp !== null ? Number(journalTmp[1]) : lockTmp !== null ? Number(lockTmp[1]) : null;
      if (pid === null || pid === process.pid || processAlive(pid)) continue;
      rmSync(join(dir, entry), { force: true });
      removed.push(join(dir, entry));
    }
    return { paths, journal, completed, abandoned, removed, tookOver: lock.tookOver, release };
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * A commit an earlier run left half done beside `given` (`--out`), completed at the very start
 * of a run, before its flags' values or its configuration can fail it: SPEC wants a mixed set
 * never to outlive the next run, and a run refused with exit 2 is the next run too. Takes and
 * releases the lock as prepareOutputs does; anything that stops it (a bad --out, a busy lock,
 * a journal that cannot be completed) is left for the run's own prepareOutputs to report.
 */
export function completeEarlierCommit(given: string): Pick<PreparedOutputs, 'completed' | 'abandoned'> | undefined {
  try {
    if (!existsSync(journalPath(outputSpelling(given)))) return undefined;
    const prepared = prepareOutputs(given);
    prepared.release();
    return { completed: prepared.completed, abandoned: prepared.abandoned };
  } catch {
    return undefined;
  }
}
