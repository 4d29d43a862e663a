/**
 * Outputs appear whole or not at all: every file is written under a temporary name in
 * its final directory, flushed to disk, and renamed only when the whole run succeeded.
 * The bill is renamed last, so a visible bill implies complete companions. An abort
 * removes every temporary file.
 */
import { mkdirSync, openSync, closeSync, fdatasync, fsyncSync, linkSync, lstatSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RunFailure, systemReason } from '../errors.js';
import { applyJournal, writeJournal } from './journal.js';

/** A write, flush or rename failure (full disk, file-size limit, I/O error) as a run failure naming the output. */
export function outputError(finalPath: string, err: unknown): RunFailure {
  if (err instanceof RunFailure) return err;
  return new RunFailure(`cannot write ${finalPath}: ${systemReason(err)}`);
}

/** Temporary files of staged outputs start with this, so leftovers of a killed run are recognisable. */
export const STAGING_PREFIX = '.mr-staging-';
/** A staging file's name: the prefix, the writing process's pid, a random part, the output's own name. */
export const STAGED_NAME = /^\.mr-staging-(\d+)-[0-9a-f]+-(.*)$/;

/**
 * A fresh temporary name for `finalPath`, in its directory: what a dead run leaves under such
 * a name is removed by the next run (preflight.ts), whichever thread wrote it.
 */
export function stagingPath(finalPath: string): string {
  return join(dirname(finalPath), `${STAGING_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}-${basename(finalPath)}`);
}

/** Where bytes of an output are written (a staged file, or a key range of one rendered in memory: parallel/jobs/bill-render.ts). */
export interface ByteSink {
  write(data: string | Uint8Array): void;
  /**
   * Optional: memory of the sink's own, with room for at least `bytes` bytes (0: whatever is
   * left of it, if any), where its next bytes are encoded in place, then handed over by
   * filled(): a writer that encodes into a buffer (bill.ts LineBuffer) then copies nothing.
   * A later call, or a write(), ends the room given before.
   */
  room?(bytes: number): Buffer;
  /** The first `bytes` bytes of the last room given are the sink's next bytes. */
  filled?(bytes: number): void;
}

/** Writes all of `data` to `fd`; a failure names the output. */
function writeAll(fd: number, data: string | Uint8Array, finalPath: string): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } catch (err) {
    throw outputError(finalPath, err);
  }
}

/**
 * An output written under a new temporary name in its final directory (never over another
 * file): a failure to open it (no inode left, a read-only file system), to write or to flush
 * it names the output.
 */
export class StagedFile implements ByteSink {
  readonly tempPath: string;
  private fd: number | null;

  constructor(readonly finalPath: string) {
    const tempPath = stagingPath(finalPath);
    try {
      mkdirSync(dirname(finalPath), { recursive: true });
      this.fd = openSync(tempPath, 'wx', 0o644);
    } catch (err) {
      throw outputError(finalPath, err);
    }
    this.tempPath = tempPath;
  }

  /** A flush of the file's data begun on another thread (syncSoon), while it runs. */
  private syncing: Promise<void> | null = null;
  /** What such a flush failed with: close() fails with it (a failed flush is reported once, to its caller). */
  private syncFailure: { readonly error: unknown } | null = null;

  write(data: string | Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.finalPath}: write after close`);
    writeAll(this.fd, data, this.finalPath);
  }

  /**
   * Begins to flush the data written so far to disk on another thread (fdatasync), unless a
   * flush is running: close() then has less to wait for. Settles (never rejects) when the
   * flush has ended; the file must not be closed before.
   */
  syncSoon(): Promise<void> {
    if (this.fd === null) throw new Error(`${this.finalPath}: sync after close`);
    if (this.syncing !== null) return this.syncing;
    // An earlier flush failed: the run fails now, not after the rest is written.
    if (this.syncFailure !== null) throw outputError(this.finalPath, this.syncFailure.error);
    const fd = this.fd;
    this.syncing = new Promise<void>((resolve) => {
      fdatasync(fd, (err) => {
        if (err !== null) this.syncFailure ??= { error: err };
        this.syncing = null;
        resolve();
      });
    });
    return this.syncing;
  }

  /** Flushes to disk and closes; the file is still under its temporary name. */
  close(): void {
    if (this.fd === null) return;
    if (this.syncing !== null) throw new Error(`internal: ${this.finalPath} closed while it is flushed`);
    const fd = this.fd;
    this.fd = null;
    try {
      if (this.syncFailure !== null) throw this.syncFailure.error;
      fsyncSync(fd);
    } catch (err) {
      throw outputError(this.finalPath, err);
    } finally {
      closeSync(fd);
    }
  }

  commit(): void {
    this.close();
    try {
      renameSync(this.tempPath, this.finalPath);
    } catch (err) {
      throw outputError(this.finalPath, err);
    }
  }

  discard(): void {
    if (this.fd !== null) {
      const fd = this.fd;
      const close = () => {
        try {
          closeSync(fd);
        } catch {
          /* already closed */
        }
      };
      // A flush running on another thread uses the descriptor: it is closed once that ends.
      if (this.syncing !== null) void this.syncing.then(close);
      else close();
      this.fd = null;
    }
    try {
      rmSync(this.tempPath, { force: true });
    } catch {
      // Its file system made read-only (or gone) under the run: what failed the run is what it reports, and the next
      // run removes a dead run's staging files.
    }
  }
}

/**
 * The previous set's files given a second name (a staging name: a run killed before dropKept
 * leaves them to the next run's sweep, preflight.ts) while the commit renames over them: each
 * rename then only drops a name, and the set on disk is mixed only as long as the renames
 * take. Otherwise the rename frees the replaced file's blocks: 148 ms for the 235 MB detail of
 * a million users (strace), while the bill is still the previous run's. Returns the
 * names made; a path that is absent or not a regular file, or that cannot be linked (a file
 * system without hard links), gets none and is renamed over as before.
 */
export function keepPrevious(paths: readonly string[]): string[] {
  const kept: string[] = [];
  for (const p of paths) {
    try {
      if (!lstatSync(p).isFile()) continue;
      const name = stagingPath(p);
      linkSync(p, name);
      kept.push(name);
    } catch {
      // Absent, or not linkable: renamed over, as before.
    }
  }
  return kept;
}

/** Removes keepPrevious' names once the commit is over: the previous files' blocks are freed here, outside it. */
export function dropKept(kept: readonly string[]): void {
  for (const name of kept) {
    try {
      rmSync(name, { force: true });
    } catch {
      // A file system made read-only meanwhile: the next run's sweep removes a dead run's staging names.
    }
  }
}

/** A set of staged files committed together, the last one added last; journalled when given a journal path. */
export class StagedOutputs {
  private readonly files: StagedFile[] = [];
  private done = false;

  constructor(private readonly journal?: string) {}

  add(finalPath: string): StagedFile {
    const f = new StagedFile(finalPath);
    this.files.push(f);
    return f;
  }

  commit(): void {
    for (const f of this.files) f.close();
    if (this.journal === undefined) {
      for (const f of this.files) f.commit();
    } else {
      const renames = this.files.map((f) => ({ from: f.tempPath, to: f.finalPath }));
      writeJournal(this.journal, renames);
      // The journal owns the staged files now: a failure below leaves them for the next run's roll-forward.
      this.done = true;
      const kept = keepPrevious(this.files.map((f) => f.finalPath));
      try {
        applyJournal(this.journal, renames);
      } finally {
        dropKept(kept);
      }
    }
    this.done = true;
  }

  /** Removes every temporary file; safe to call more than once and after commit. */
  discard(): void {
    if (this.done) return;
    this.done = true;
    for (const f of this.files) f.discard();
  }
}
