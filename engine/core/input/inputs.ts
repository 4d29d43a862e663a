/**
 * The inputs of a run, from the command line's paths and input flags (SPEC "Input"): argument
 * checks (usage errors, exit 2, before anything is read), discovery or standard input, one
 * warning for skipped files, and the empty-input rule (exit 1 unless --allow-empty).
 */
import type { Logger } from '../../observability/logger.js';
import { InputError, UsageError } from '../errors.js';
import { FORMATS, type Format } from '../formats/format.js';
import { discoverInputs, type InputFile, type Skipped } from './discover.js';
import { readChunks } from './read.js';
import { spool, StdinSource } from './stdin.js';
import type { Readable } from 'node:stream';
import { DEFAULT_WRAPPED_KEY, WRAPPERS, type WrapperKind, type Wrapping } from '../formats/wrapped.js';
import { isS3Url, parseS3Url, s3SettingsFrom, useAwsEnv } from './s3-url.js';
import { countText } from '../count-text.js';

/** The input flags of `mr aggregate`. */
export interface InputFlags {
  /** --format: the format of standard input (`-` only). */
  readonly format?: string;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly allowEmpty?: boolean;
  /** --s3-endpoint: an S3-compatible store's URL, for s3:// paths. */
  readonly s3Endpoint?: string;
  /** --wrapped fluent-bit|cloudwatch, --wrapped-key NAME (SPEC "Wrapped lines"). */
  readonly wrapped?: string;
  readonly wrappedKey?: string;
}

/** The wrapping of the lines, from --wrapped and --wrapped-key (usage errors: exit 2). */
export function wrappingOf(flags: InputFlags): Wrapping | undefined {
  if (flags.wrapped === undefined) {
    if (flags.wrappedKey !== undefined) throw new UsageError('--wrapped-key names the key of --wrapped fluent-bit; give --wrapped fluent-bit too');
    return undefined;
  }
  if (!(WRAPPERS as readonly string[]).includes(flags.wrapped)) throw new UsageError(`--wrapped ${JSON.stringify(flags.wrapped)} is not one of ${WRAPPERS.join(', ')}`);
  if (flags.wrappedKey !== undefined && flags.wrapped !== 'fluent-bit') throw new UsageError('--wrapped-key applies to --wrapped fluent-bit only');
  if (flags.wrappedKey === '') throw new UsageError('--wrapped-key needs a key name');
  return { kind: flags.wrapped as WrapperKind, key: flags.wrappedKey ?? DEFAULT_WRAPPED_KEY };
}

export interface Inputs {
  readonly files: InputFile[];
  /** Files found in directories and not read for their name (not logs, or not regular files). */
  readonly skippedFiles: number;
  /** Log files found in directories and left out by --include/--exclude. */
  readonly filteredFiles: number;
  /** Removes what reading needed (standard input's spool file); call once the run is over, also on failure. */
  release(): Promise<void>;
}

export const STDIN = '-';

/** Usage errors in the paths and input flags, before anything is read (exit 2). Returns the standard input format, if `-`. */
export function checkInputArgs(paths: readonly string[], flags: InputFlags, engine: string): Format | undefined {
  const stdin = paths.includes(STDIN);
  if (flags.s3Endpoint !== undefined) {
    if (!paths.some(isS3Url)) throw new UsageError('--s3-endpoint applies to s3:// (or s3a://) paths only, and none is given');
    s3SettingsFrom({}, flags.s3Endpoint);
  }
  for (const p of paths) if (isS3Url(p)) parseS3Url(p);
  if (flags.format !== undefined && !(FORMATS as readonly string[]).includes(flags.format)) {
    throw new UsageError(`--format ${JSON.stringify(flags.format)} is not one of ${FORMATS.join(', ')}`);
  }
  const wrapping = wrappingOf(flags);
  if (!stdin) {
    if (flags.format !== undefined && wrapping === undefined) {
      throw new UsageError(`--format applies to standard input (-) only (or, with --wrapped, to the lines inside the wrappers); a file's format comes from its name`);
    }
    return undefined;
  }
  if (paths.length > 1) throw new UsageError(`- (standard input) must be the only path argument`);
  if (engine === 'spark') throw new UsageError(`the spark engine cannot read standard input (-): save it to a file the cluster can read`);
  if ((flags.include?.length ?? 0) > 0 || (flags.exclude?.length ?? 0) > 0) {
    throw new UsageError(`--include and --exclude filter files found in directories; they do not apply to standard input (-)`);
  }
  return (flags.format ?? 'space') as Format;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${countText(n)} ${n === 1 ? one : many}`;
}

/** One line for many skipped files: the count, a few extensions, a few names, how many more. */
export function skippedWarning(s: Skipped, what: (one: boolean) => string): string {
  const exts = s.extensions.join(', ') + (s.moreExtensions ? ', …' : '');
  const more = s.count > s.examples.length ? ` (and ${countText(s.count - s.examples.length)} more)` : '';
  return `skipped ${plural(s.count, 'file')} ${what(s.count === 1)} (${exts}): ${s.examples.join(', ')}${more}`;
}

/**
 * Whether every byte of these files is no byte at all: size 0 on disk, or a gzip file that
 * decompresses to nothing (read only until its first byte; a zero-byte .gz is not a gzip
 * stream and fails as corrupt). Checked only when no plain file holds a byte.
 */
async function allEmpty(files: readonly InputFile[], signal?: AbortSignal): Promise<boolean> {
  if (files.some((f) => !f.gzip && f.size > 0)) return false;
  for (const f of files) {
    if (!f.gzip) continue;
    for await (const chunk of readChunks(f, undefined, { signal })) if (chunk.length > 0) return false;
  }
  return true;
}

export interface FindOptions {
  readonly engine: string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Standard input (tests pass their own). */
  readonly stdin?: Readable;
  /** The settings (environment and env file): AWS_REGION, AWS_ENDPOINT_URL, credentials for s3:// paths. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export async function findInputs(paths: readonly string[], flags: InputFlags, opts: FindOptions): Promise<Inputs> {
  const stdinFormat = checkInputArgs(paths, flags, opts.engine);
  const { log } = opts;
  if (stdinFormat !== undefined) return stdinInputs(stdinFormat, flags, opts);

  let s3;
  if (paths.some(isS3Url)) {
    const env = opts.env ?? process.env;
    s3 = s3SettingsFrom(env, flags.s3Endpoint);
    useAwsEnv(env);
  }
  const wrapping = wrappingOf(flags);
  const anyName = wrapping === undefined ? undefined : ((flags.format ?? 'space') as Format);
  const found = await discoverInputs(paths, { include: flags.include, exclude: flags.exclude, s3, signal: opts.signal, anyName });
  if (wrapping !== undefined) found.files.splice(0, found.files.length, ...(await sniffWrapped(found.files, wrapping, opts.signal)));
  if (found.skipped.count > 0) log.warn({ skipped_files: found.skipped.count }, skippedWarning(found.skipped, (one) => (one ? 'that is not a log' : 'that are not logs')));
  if (found.filtered.count > 0) log.info({ filtered_files: found.filtered.count }, skippedWarning(found.filtered, () => 'left out by --include/--exclude'));
  if (found.duplicates.length > 0) {
    // A path named twice is one entry.
    const all = [...new Set(found.duplicates.map((d) => (d.path === d.readAs ? `${d.path} (named again)` : `${d.path} (read as ${d.readAs})`)))].sort();
    const more = all.length > 3 ? ` (and ${all.length - 3} more)` : '';
    log.warn({ paths_not_read_again: all.length }, `${plural(all.length, 'path')} not read again, each the same file as one read: ${all.slice(0, 3).join(', ')}${more}`);
  }
  if (found.files.length > 0) for (const p of found.emptyArguments) log.warn({ path: p }, `${p} holds no log file to read`);

  const allowEmpty = flags.allowEmpty === true;
  const hint = 'check the path (or pass --allow-empty to write an empty bill)';
  if (found.files.length === 0) {
    const why = [found.skipped.count > 0 ? `${plural(found.skipped.count, 'file')} skipped: not ${found.skipped.count === 1 ? 'a log' : 'logs'}` : '', found.filtered.count > 0 ? `${plural(found.filtered.count, 'log file')} left out by --include/--exclude` : '']
      .filter((x) => x !== '')
      .join(', ');
    const message = `no input files found in ${paths.join(', ')}${why === '' ? '' : ` (${why})`}`;
    if (!allowEmpty) throw new InputError(`${message}: ${hint}`);
    log.warn({ paths }, `${message}: the bill will be empty (--allow-empty)`);
  } else if (await allEmpty(found.files, opts.signal)) {
    const message = `every input file is empty (${plural(found.files.length, 'file')}, ${found.files.slice(0, 3).map((f) => f.path).join(', ')}${found.files.length > 3 ? ', …' : ''})`;
    if (!allowEmpty) throw new InputError(`${message}: ${hint}`);
    log.warn({ files: found.files.length }, `${message}: the bill will be empty (--allow-empty)`);
  }
  return { files: found.files, skippedFiles: found.skipped.count, filteredFiles: found.filtered.count, release: async () => {} };
}

/** --wrapped: each file is gzip when its first bytes are gzip's magic (1f 8b), whatever its name. */
async function sniffWrapped(files: readonly InputFile[], wrapped: Wrapping, signal?: AbortSignal): Promise<InputFile[]> {
  const out: InputFile[] = [];
  for (const f of files) {
    const head: Buffer[] = [];
    if (f.size >= 2) for await (const chunk of readChunks({ ...f, gzip: false }, undefined, { signal, end: 2 })) head.push(chunk);
    const b = Buffer.concat(head);
    out.push({ ...f, gzip: b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b, wrapped });
  }
  return out;
}

async function stdinInputs(format: Format, flags: InputFlags, opts: FindOptions): Promise<Inputs> {
  const source = await StdinSource.open(opts.stdin ?? process.stdin, opts.signal);
  if (source.empty) {
    if (flags.allowEmpty !== true) throw new InputError('standard input is empty: check the pipe (or pass --allow-empty to write an empty bill)');
    opts.log.warn({}, 'standard input is empty: the bill will be empty (--allow-empty)');
  }
  const none = { skippedFiles: 0, filteredFiles: 0 };
  const wrapping = wrappingOf(flags);
  const wrapped = wrapping === undefined ? {} : { wrapped: wrapping };
  if (opts.engine === 'naive') {
    // Read as a stream: its size is not known before it is read (0 here, for progress and the summary).
    return { ...none, files: [{ path: STDIN, format, gzip: source.gzip, size: 0, stream: source, ...wrapped }], release: async () => {} };
  }
  const spooled = await spool(source, opts.signal);
  return { ...none, files: [{ path: STDIN, format, gzip: source.gzip, size: spooled.size, readPath: spooled.path, ...wrapped }], release: spooled.remove };
}
