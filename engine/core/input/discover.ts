/**
 * Input discovery: paths → the files to read, in path order, each read once.
 * Directories are walked recursively (symlinked directories too, each directory once, so
 * link loops end); files with a supported extension are kept, others skipped with a
 * warning. A missing path or an unreadable entry is an InputError (exit 1): never a
 * silently smaller bill.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import { kindOfPath, SUPPORTED_EXTENSIONS, type Format } from '../formats/format.js';
import { compareUtf8 } from '../billing/order.js';


export interface InputFile {
  /** Path as reached from the command line argument. */
  readonly path: string;
  readonly format: Format;
  readonly gzip: boolean;
  /** Size on disk (compressed size for .gz). */
  readonly size: number;
  /** Modification time at discovery (ns), to notice a file that changes while it is read. */
  readonly mtimeNs?: bigint;
}

export interface Discovery {
  readonly files: InputFile[];
  /** Files found in directories but skipped for their extension. */
  readonly skipped: string[];
  /** Files reached more than once and read once. */
  readonly duplicates: string[];
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file or directory';
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'ELOOP') return 'too many levels of symbolic links';
  return e.code ?? String(err);
}

export async function discoverInputs(paths: readonly string[]): Promise<Discovery> {
  const files: InputFile[] = [];
  const skipped: string[] = [];
  const duplicates: string[] = [];
  const seenFiles = new Set<string>();
  const seenDirs = new Set<string>();

  async function statOrFail(path: string) {
    try {
      return await stat(path, { bigint: true });
    } catch (err) {
      throw new InputError(`cannot read input ${path}: ${describe(err)}`);
    }
  }

  async function visit(path: string, explicit: boolean): Promise<void> {
    const st = await statOrFail(path);
    const id = `${st.dev}:${st.ino}`;
    if (st.isDirectory()) {
      if (seenDirs.has(id)) return;
      seenDirs.add(id);
      let names: string[];
      try {
        names = await readdir(path);
      } catch (err) {
        throw new InputError(`cannot read directory ${path}: ${describe(err)}`);
      }
      names.sort(compareUtf8);
      for (const name of names) await visit(join(path, name), false);
      return;
    }
    if (!st.isFile()) {
      if (explicit) throw new UsageError(`${path} is not a regular file or directory`);
      skipped.push(path);
      return;
    }
    const kind = kindOfPath(path);
    if (kind === null) {
      if (explicit) {
        throw new UsageError(`${path}: unknown input format; supported extensions are ${SUPPORTED_EXTENSIONS.join(', ')} (each optionally .gz)`);
      }
      skipped.push(path);
      return;
    }
    if (seenFiles.has(id)) {
      duplicates.push(path);
      return;
    }
    seenFiles.add(id);
    files.push({ path, format: kind.format, gzip: kind.gzip, size: Number(st.size), mtimeNs: st.mtimeNs });
  }

  for (const p of paths) await visit(p, true);
  files.sort((a, b) => compareUtf8(a.path, b.path));
  return { files, skipped, duplicates };
}

/**
 * Fails (exit 1, naming the file) when an input's size or modification time is no longer
 * what discovery saw: a log still being written, rotated or rewritten while it was read.
 * The engines read a file as planned (the parallel engine only the planned bytes, the naive
 * one to whatever end it finds), so such a bill would be of no well-defined content.
 */
export async function verifyUnchanged(files: readonly InputFile[]): Promise<void> {
  for (const f of files) {
    if (f.mtimeNs === undefined) continue;
    let now: { size: bigint; mtimeNs: bigint };
    try {
      now = await stat(f.path, { bigint: true });
    } catch (err) {
      throw new InputError(`input ${f.path} changed while it was read (${describe(err)}); nothing was written: run again once it is complete`);
    }
    if (Number(now.size) !== f.size || now.mtimeNs !== f.mtimeNs) {
      const what = Number(now.size) !== f.size ? `size ${f.size} → ${now.size} bytes` : 'modified';
      throw new InputError(`input ${f.path} changed while it was read (${what}); nothing was written: run again once it is complete`);
    }
  }
}
