/**
 * A path spelled as the file system resolves it, for whatever reads `..` as text (Hadoop, a
 * tidy of `--out`): after a symbolic link, `link/../x` is `x` above the link's target, not
 * beside the link.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join, normalize } from 'node:path';

/**
 * `path` without `.` and empty parts, which is exact, when it has no `..` part; else its
 * longest existing folder as the C library's realpath resolves it (links, `..`; Node's own
 * realpathSync resolves `..` as text first), then the folders below it, which do not exist
 * and so hold no link (tidied as text), then its own name as given (a link's own, not its
 * target's). `folders` keeps the folders resolved, for many files of one folder. Throws the
 * file system's error for a folder that exists but cannot be resolved (not a directory,
 * unreadable, a loop of links).
 */
export function resolvedPath(path: string, folders?: Map<string, string>): string {
  if (!path.split('/').includes('..')) return normalize(path);
  let folder = dirname(path);
  let below = '';
  for (;;) {
    let real = folders?.get(folder);
    if (real === undefined) {
      try {
        real = realpathSync.native(folder);
      } catch (err) {
        const parent = dirname(folder);
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === folder) throw err;
        below = join(basename(folder), below);
        folder = parent;
        continue;
      }
      folders?.set(folder, real);
    }
    return join(real, below, basename(path));
  }
}
