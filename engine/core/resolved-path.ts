/**
 * A path spelled as the file system resolves it, for whatever reads `..` as text (Hadoop, a
 * tidy of `--out`): after a symbolic link, `link/../x` is `x` above the link's target, not
 * beside the link.
 */
import { accessSync, constants, lstatSync, realpathSync } from 'node:fs';
import { basename, dirname, join, normalize } from 'node:path';

/** A file system error with its code and the path it is about, as Node's own carry them. */
function fsError(code: string, message: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}, ${path}`), { code, path });
}

/**
 * The folder `folder` (a path with `..` parts) names once its missing parts are made, as a
 * `mkdir -p` and then the kernel resolve it: part by part from the left, each existing part
 * resolved (a link to the folder it names, as the C library's realpath does), each missing
 * part kept as a folder to make, `..` the parent of what the parts before it resolved to (one
 * to be made, or a real folder: not the folder a link sits in). Throws as the file system
 * would for a part that exists but is no folder (ENOTDIR), a link to nothing (ENOENT, which
 * mkdir cannot make a folder of), one that cannot be searched (EACCES) or a loop (ELOOP).
 */
function resolvedFolder(folder: string): string {
  let real = realpathSync.native(folder.startsWith('/') ? '/' : '.');
  const toMake: string[] = [];
  for (const part of folder.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (toMake.length > 0) {
        toMake.pop();
        continue;
      }
      // The kernel leaves a folder by its `..` only when it may search it.
      try {
        accessSync(real, constants.X_OK);
      } catch (err) {
        throw fsError((err as NodeJS.ErrnoException).code ?? 'EACCES', 'cannot be searched', real);
      }
      real = dirname(real);
      continue;
    }
    if (toMake.length > 0) {
      toMake.push(part);
      continue;
    }
    const next = join(real, part);
    let isLink: boolean;
    try {
      const st = lstatSync(next);
      if (!st.isDirectory() && !st.isSymbolicLink()) throw fsError('ENOTDIR', 'not a directory', next);
      isLink = st.isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      toMake.push(part);
      continue;
    }
    if (!isLink) {
      real = next;
      continue;
    }
    try {
      real = realpathSync.native(next);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw fsError('ENOENT', 'symbolic link to nothing', next);
      throw err;
    }
    if (!lstatSync(real).isDirectory()) throw fsError('ENOTDIR', 'not a directory', next);
  }
  return join(real, ...toMake);
}

/**
 * `path` without `.` and empty parts, which is exact, when it has no `..` part; else its folder
 * as the file system resolves it once its missing parts are made (resolvedFolder: absolute,
 * links resolved), then its own name as given (a link's own, not its target's). `folders`
 * keeps the folders resolved, for many files of one folder. Throws the file system's error
 * for a folder that cannot be resolved (see resolvedFolder).
 */
export function resolvedPath(path: string, folders?: Map<string, string>): string {
  if (!path.split('/').includes('..')) return normalize(path);
  const folder = dirname(path);
  let real = folders?.get(folder);
  if (real === undefined) {
    real = resolvedFolder(folder);
    folders?.set(folder, real);
  }
  return join(real, basename(path));
}
