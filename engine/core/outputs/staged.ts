/**
 * Outputs appear whole or not at all: every file is written under a temporary name in
 * its final directory, flushed to disk, and renamed only when the whole run succeeded.
 * The bill is renamed last, so a visible bill implies complete companions. An abort
 * removes every temporary file.
 */
import { mkdirSync, openSync, closeSync, fchmodSync, fstatSync, fsyncSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
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

/** Where bytes of an output are written (a staged file, or a part of one). */
export interface ByteSink {
  write(data: string | Uint8Array): void;
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
 * A new file written for an output (never over another): a failure to open it (no inode left,
 * a read-only file system) or to write it names the output.
 */
abstract class OutputFile implements ByteSink {
  protected fd: number | null;

  protected constructor(
    path: string,
    mode: number,
    readonly finalPath: string,
  ) {
    try {
      this.fd = openSync(path, 'wx', mode);
    } catch (err) {
      throw outputError(finalPath, err);
    }
  }

  write(data: string | Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.finalPath}: write after close`);
    writeAll(this.fd, data, this.finalPath);
  }
}

const APPEND_CHUNK = 4 << 20;

export class StagedFile extends OutputFile {
  readonly tempPath: string;

  constructor(finalPath: string) {
    const tempPath = stagingPath(finalPath);
    try {
      mkdirSync(dirname(finalPath), { recursive: true });
    } catch (err) {
      throw outputError(finalPath, err);
    }
    super(tempPath, 0o644, finalPath);
    this.tempPath = tempPath;
  }

  /**
   * Appends the whole of a part file (written by OutputPart, in this file's directory), which
   * is gone afterwards. While this file is empty (its size on disk), the part takes its place
   * by a rename, with this file's permissions, instead of being copied (at a million users
   * the copy of the bill's parts was a second of the main thread's). Else it is read in
   * chunks and removed.
   */
  append(partPath: string): void {
    if (this.fd === null) throw new Error(`${this.finalPath}: append after close`);
    let size: number;
    let mode: number;
    try {
      ({ size, mode } = fstatSync(this.fd));
    } catch (err) {
      throw outputError(this.finalPath, err);
    }
    if (size === 0) return this.adopt(partPath, mode & 0o7777);
    this.copy(partPath);
    rmSync(partPath, { force: true });
  }

  /** The part renamed into this file's place, given this file's permission bits. */
  private adopt(partPath: string, mode: number): void {
    const old = this.fd!;
    try {
      renameSync(partPath, this.tempPath);
      this.fd = null;
      closeSync(old);
      this.fd = openSync(this.tempPath, 'a');
      fchmodSync(this.fd, mode);
    } catch (err) {
      throw outputError(this.finalPath, err);
    }
  }

  private copy(partPath: string): void {
    const buf = Buffer.allocUnsafe(APPEND_CHUNK);
    let fd: number;
    try {
      fd = openSync(partPath, 'r');
    } catch (err) {
      throw outputError(this.finalPath, err);
    }
    try {
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (err) {
          throw outputError(this.finalPath, err);
        }
        if (n === 0) break;
        writeAll(this.fd!, buf.subarray(0, n), this.finalPath);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Flushes to disk and closes; the file is still under its temporary name. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
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
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
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
 * A part of an output, written by another thread under a staging name beside it
 * (stagingPath) and appended to the output's StagedFile by the main thread, then removed.
 * It is not flushed to disk: the output it is appended to is.
 */
export class OutputPart extends OutputFile {
  constructor(
    readonly path: string,
    finalPath: string,
  ) {
    super(path, 0o600, finalPath);
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
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
      applyJournal(this.journal, renames);
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
