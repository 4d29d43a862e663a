/**
 * Input discovery: paths → the files to read, in path order, each read once.
 * Directories are walked recursively (symlinked directories too, each directory once, so
 * link loops end); files whose names follow the log name rule (formats/format.ts) and pass
 * `--include`/`--exclude` are kept; other files are skipped and counted (a few named, for
 * one warning). A missing path or an unreadable entry is an InputError (exit 1): never a
 * silently smaller bill.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isUtf8 } from 'node:buffer';
import { extname } from 'node:path';
import { InputError, UsageError, changedWhileRead, systemReason } from '../errors.js';
import { kindOfPath, NAME_RULE, type FileKind, type Format } from '../formats/format.js';
import { compareUtf8 } from '../billing/order.js';
import type { StdinSource } from './stdin.js';
import type { Wrapping } from '../formats/wrapped.js';
import { isS3Url, parseS3Url, s3SettingsFrom, type S3Object, type S3Settings } from './s3-url.js';
import { isWorkFileName } from '../outputs/paths.js';

export interface InputFile {
  /** Path as reached from the command line argument (`-` for standard input). */
  readonly path: string;
  readonly format: Format;
  readonly gzip: boolean;
  /** Size on disk (compressed size for .gz); for standard input read as a stream, the bytes seen so far (at least 1 unless empty). */
  readonly size: number;
  /** Modification time at discovery (ns), to notice a file that changes while it is read. */
  readonly mtimeNs?: bigint;
  /** Where the bytes are read from when that is not `path`: standard input spooled to a temporary file. */
  readonly readPath?: string;
  /** Standard input read as a stream (the naive engine); `path` is then `-`. */
  readonly stream?: StdinSource;
  /** An object in S3 (`path` is then its `s3://` or `s3a://` URL). */
  readonly s3?: S3Object;
  /** --wrapped: each line is unwrapped before the format's rules (formats/wrapped.ts). */
  readonly wrapped?: Wrapping;
}

/** Files found in directories but not read: counted, with the first few named. */
export interface Skipped {
  readonly count: number;
  /** The first few, in walk order. */
  readonly examples: readonly string[];
  /** The first few distinct extensions (`.md`, `.json`; `no extension` for a name without one; `not a regular file` for a FIFO, socket or device). */
  readonly extensions: readonly string[];
  /** Other extensions than those were seen. */
  readonly moreExtensions: boolean;
}

export interface Discovery {
  readonly files: InputFile[];
  /** Files found in directories but skipped for their name (or not regular files). */
  readonly skipped: Skipped;
  /** Log files found in directories but left out by --include/--exclude. */
  readonly filtered: Skipped;
  /** Paths of files reached more than once, not read again, each with the path the file is read under. */
  readonly duplicates: Array<{ readonly path: string; readonly readAs: string }>;
  /** Arguments that are directories holding no file to read. */
  readonly emptyArguments: string[];
}

export interface DiscoverOptions {
  /** Globs on the path relative to its argument; a walked file is read when it matches one (or none is given). */
  readonly include?: readonly string[];
  /** Globs on the path relative to its argument; a walked file matching one is not read. */
  readonly exclude?: readonly string[];
  /** --wrapped: every file is read whatever its name, in this format (gzip is told by its bytes later). */
  readonly anyName?: Format;
  /** Where S3 URLs among the paths are read from (default: from the process environment). */
  readonly s3?: S3Settings;
  readonly signal?: AbortSignal;
}

const EXAMPLES = 3;

class SkipCounter {
  count = 0;
  readonly examples: string[] = [];
  readonly extensions: string[] = [];
  moreExtensions = false;
  /** `special`: not a regular file (a FIFO, a socket, a device), whatever its name says. */
  add(path: string, special = false): void {
    this.count++;
    if (this.examples.length < EXAMPLES) this.examples.push(path);
    const ext = special ? 'not a regular file' : extname(path) || 'no extension';
    if (this.extensions.includes(ext)) return;
    if (this.extensions.length < EXAMPLES) this.extensions.push(ext);
    else this.moreExtensions = true;
  }
  freeze(): Skipped {
    return { count: this.count, examples: this.examples, extensions: this.extensions, moreExtensions: this.moreExtensions };
  }
}


/**
 * A matcher for --include/--exclude globs (picomatch): case-sensitive, `*` and `?` within one
 * path segment, `**` across segments, dot files like any other file, `[!…]` a negated class as
 * in a shell (picomatch's `posix`; without it `[!1]` is the class of `!` and `1`). An empty glob
 * is a usage error.
 */
export function globMatcher(flag: string, globs: readonly string[]): (relPath: string) => boolean {
  if (globs.length === 0) return () => false;
  // Required when there is a glob, not imported: see README.md, "Build and start-up".
  const picomatch = createRequire(import.meta.url)('picomatch') as typeof import('picomatch');
  const matchers = globs.map((g) => {
    if (g === '') throw new UsageError(`${flag} needs a glob such as '**/*.log'; an empty one matches nothing`);
    try {
      return picomatch(g, { dot: true, nocase: false, posix: true });
    } catch (err) {
      throw new UsageError(`${flag} ${JSON.stringify(g)} is not a valid glob: ${(err as Error).message}`);
    }
  });
  return (rel) => matchers.some((m) => m(rel));
}

/** The path of `name` in the directory at `dir`: the argument as given joined with the path below it (SPEC "Path order"), not normalized. */
function underArgument(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

export async function discoverInputs(paths: readonly string[], opts: DiscoverOptions = {}): Promise<Discovery> {
  const files: InputFile[] = [];
  const skipped = new SkipCounter();
  const filtered = new SkipCounter();
  /** Each path not read again, with its file's identity (the path it is read under is known at the end). */
  const duplicates: Array<[path: string, id: string]> = [];
  /** The path each file is read under, by its identity. */
  const readAs = new Map<string, string>();
  const emptyArguments: string[] = [];
  /** A file's identity (device and inode, or the S3 object) → its place in `files`. */
  const seenFiles = new Map<string, number>();
  const includes = opts.include ?? [];
  const included = includes.length === 0 ? () => true : globMatcher('--include', includes);
  const excluded = globMatcher('--exclude', opts.exclude ?? []);

  /**
   * The file or directory at `path` (links followed), or null for a symbolic link found by
   * walking that leads nowhere and is excluded by --exclude. Any other such link fails the
   * run whatever its name: it may have led to a directory of logs (a volume not mounted), and
   * a stopped run is better than a smaller bill (README "Inputs").
   */
  async function statOrFail(path: string, rel: string | null) {
    try {
      return await stat(path, { bigint: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ELOOP') && (await lstat(path).then((l) => l.isSymbolicLink(), () => false))) {
        if (rel !== null && excluded(rel)) {
          filtered.add(path);
          return null;
        }
        throw new InputError(`cannot read input ${path}: it is a symbolic link to ${code === 'ELOOP' ? 'a loop of links' : 'nothing (its target does not exist)'}${rel === null ? '' : '; remove it, or leave it out with --exclude'}`);
      }
      // Node reads a command line's bytes as UTF-8: a name that is not UTF-8 arrives with U+FFFD in it, naming no file.
      if (code === 'ENOENT' && rel === null && path.includes('\uFFFD')) {
        throw new InputError(`cannot read input ${path}: no such file; if its name is not UTF-8, it cannot be named on the command line: rename it`);
      }
      // `$(NAME)` is what Kubernetes leaves of a variable the container's environment lacks (a Secret without the key).
      // Still a missing path, so a run failure (SPEC), but one that says where the path went wrong.
      const variable = code === 'ENOENT' && rel === null ? /\$\((\w+)\)|\$\{(\w+)/.exec(path) : null;
      if (variable !== null) {
        const name = variable[1] ?? variable[2]!;
        // Set here, yet not expanded: the shell was kept from it (single quotes), or nothing was there to expand it (mr does not).
        const why =
          process.env[name] === undefined
            ? `set ${name} in the environment that starts mr (on Kubernetes, the Secret or ConfigMap the pod reads)`
            : `${name} is set, but mr does not expand variables: let the shell expand it (double quotes, not single) or give the path itself`;
        throw new InputError(`cannot read input ${path}: no such file, and it holds a variable that was never expanded: ${why}`);
      }
      throw new InputError(`cannot read input ${path}: ${systemReason(err)}`);
    }
  }

  /**
   * The format of a file to read, or null when it is skipped for its name or left out by a
   * glob (counted); a file named as an argument (`rel` null) must have a log name.
   */
  function admit(path: string, rel: string | null): FileKind | null {
    const kind = opts.anyName !== undefined ? { format: opts.anyName, gzip: false } : kindOfPath(path);
    if (kind === null) {
      if (rel === null) throw new UsageError(`${path}: unknown input format; a log file's name ends in ${NAME_RULE}`);
      skipped.add(path);
      return null;
    }
    if (rel !== null && (!included(rel) || excluded(rel))) {
      filtered.add(path);
      return null;
    }
    return kind;
  }

  /**
   * A file found: read once whatever the paths it is reached by, under the first of them in
   * path order (not the first found, which follows the arguments' order): its place among the
   * files, so the bill, does not depend on how the arguments are ordered (README "Inputs").
   */
  function found(id: string, file: InputFile): void {
    const at = seenFiles.get(id);
    if (at === undefined) {
      seenFiles.set(id, files.length);
      files.push(file);
      readAs.set(id, file.path);
    } else if (compareUtf8(file.path, files[at]!.path) < 0) {
      duplicates.push([files[at]!.path, id]);
      files[at] = file;
      readAs.set(id, file.path);
    } else {
      duplicates.push([file.path, id]);
    }
  }

  /**
   * `rel` is the path below the argument (null for the argument itself, which is never
   * filtered); `within` the directories being walked above it. A directory reached again
   * through a link below itself is a loop, not walked; one reached by another path is walked
   * again, so that its files are found under every path and kept under the first (found).
   */
  async function visit(path: string, rel: string | null, within: ReadonlySet<string> = new Set()): Promise<void> {
    const explicit = rel === null;
    const st = await statOrFail(path, rel);
    if (st === null) return;
    const id = `${st.dev}:${st.ino}`;
    if (st.isDirectory()) {
      if (within.has(id)) return;
      const inside = new Set(within).add(id);
      let raw: Buffer[];
      try {
        raw = await readdir(path, { encoding: 'buffer' });
      } catch (err) {
        throw new InputError(`cannot read directory ${path}: ${systemReason(err)}`);
      }
      // A name that is not UTF-8 has no path to bill or report it by (its text would name another file).
      const bad = raw.find((n) => !isUtf8(n));
      if (bad !== undefined) {
        const shown = [...bad].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
        throw new InputError(`cannot read ${underArgument(path, shown)}: its name is not UTF-8; rename it (or move it out of ${path})`);
      }
      const names = raw.map((n) => n.toString('utf8')).sort(compareUtf8);
      for (const name of names) {
        if (isWorkFileName(name)) continue;
        await visit(underArgument(path, name), rel === null ? name : `${rel}/${name}`, inside);
      }
      return;
    }
    if (!st.isFile()) {
      if (explicit) throw new UsageError(`${path} is not a regular file or directory`);
      skipped.add(path, true);
      return;
    }
    const kind = admit(path, rel);
    if (kind === null) return;
    found(id, { path, format: kind.format, gzip: kind.gzip, size: Number(st.size), mtimeNs: st.mtimeNs });
  }

  /**
   * An S3 URL: one object named exactly (a file named as an argument), or every object under
   * the prefix as a directory's files, with the same rules; the relative path of a glob is
   * the key below the prefix. Loads the AWS SDK only here.
   */
  async function visitS3(arg: string): Promise<void> {
    const { listS3 } = await import('./s3.js');
    const settings = opts.s3 ?? s3SettingsFrom(process.env);
    const { bucket } = parseS3Url(arg);
    const listed = await listS3(arg, settings, opts.signal);
    // Every folder the listed keys lie in (`a/b/c.log`: `a`, `a/b`): a key among them is also a folder.
    const folders = new Set<string>();
    if ('objects' in listed) {
      for (const o of listed.objects) for (let i = o.key.indexOf('/'); i >= 0; i = o.key.indexOf('/', i + 1)) folders.add(o.key.slice(0, i));
    }
    const add = (path: string, rel: string | null, o: { key: string; size: number; etag?: string }) => {
      const kind = admit(path, rel);
      if (kind === null) return;
      const id = `s3\n${settings.endpoint ?? ''}\n${bucket}\n${o.key}`;
      const s3: S3Object = { ...settings, bucket, key: o.key, size: o.size, ...(o.etag === undefined ? {} : { etag: o.etag }), ...(folders.has(o.key) ? { keysBelow: true as const } : {}) };
      found(id, { path, format: kind.format, gzip: kind.gzip, size: o.size, s3 });
    };
    if ('file' in listed) {
      add(arg, null, listed.file);
      return;
    }
    // The argument as given, joined with the key below the prefix.
    const base = arg.endsWith('/') || parseS3Url(arg).prefix === '' ? arg.replace(/\/?$/, '/') : `${arg}/`;
    for (const o of listed.objects) {
      const rel = o.key.slice(listed.dir.length);
      add(base + rel, rel, o);
    }
  }

  for (const p of paths) {
    const before = files.length + duplicates.length;
    if (isS3Url(p)) await visitS3(p);
    else await visit(p, null);
    if (files.length + duplicates.length === before) emptyArguments.push(p);
  }
  files.sort((a, b) => compareUtf8(a.path, b.path));
  return {
    files,
    skipped: skipped.freeze(),
    filtered: filtered.freeze(),
    duplicates: duplicates.map(([path, id]) => ({ path, readAs: readAs.get(id)! })),
    emptyArguments,
  };
}

/**
 * Fails (exit 1, naming the file) when an input's size or modification time is no longer
 * what discovery saw: a log still being written, rotated or rewritten while it was read.
 * The engines read a file as planned (the parallel engine only the planned bytes, the naive
 * one to whatever end it finds), so such a bill would be of no well-defined content.
 * Standard input (spooled or streamed) has no discovery-time snapshot and is not checked.
 * With `objects`, S3 objects are checked too (their ETag and size, by HEAD): for an engine
 * whose reads are not pinned to the listing's ETag (spark, through S3A); the others' reads are.
 */
export async function verifyUnchanged(files: readonly InputFile[], opts: { objects?: boolean; signal?: AbortSignal } = {}): Promise<void> {
  if (opts.objects === true && files.some((f) => f.s3 !== undefined)) {
    const { checkObjectUnchanged } = await import('./s3.js');
    const objects = files.filter((f) => f.s3 !== undefined);
    // A few HEADs at a time: a run of a thousand objects checks them in seconds, not minutes.
    for (let i = 0; i < objects.length; i += 16) {
      await Promise.all(objects.slice(i, i + 16).map((f) => checkObjectUnchanged(f.s3!, f.path, opts.signal)));
    }
  }
  for (const f of files) {
    if (f.mtimeNs === undefined) continue;
    let now: { size: bigint; mtimeNs: bigint };
    try {
      now = await stat(f.path, { bigint: true });
    } catch (err) {
      throw changedWhileRead(f.path, systemReason(err));
    }
    if (Number(now.size) !== f.size || now.mtimeNs !== f.mtimeNs) {
      const what = Number(now.size) !== f.size ? `size ${f.size} → ${now.size} bytes` : 'modified';
      throw changedWhileRead(f.path, what);
    }
  }
}
