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
    files.push({ path, format: kind.format, gzip: kind.gzip, size: Number(st.size) });
  }

  for (const p of paths) await visit(p, true);
  files.sort((a, b) => compareUtf8(a.path, b.path));
  return { files, skipped, duplicates };
}
