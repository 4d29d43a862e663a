/** The failures a run can end with, each mapped to the contract's exit code. */
import { isSignalExitCode } from './signal-exit-codes.js';
import { constants as osConstants } from 'node:os';

/**
 * The kind of a failure as a JSON error line names it, for machines to branch on: one word
 * each, documented, never a class name. `interrupted` is a run stopped by SIGINT, SIGTERM or SIGHUP;
 * `internal` a failure mr did not foresee (a bug).
 */
export type ErrorKind = 'usage' | 'configuration' | 'input' | 'run_failure' | 'rejects_over_limit' | 'interrupted' | 'internal';

/** The kind of `err`, reported with `exitCode`. */
export function errorKind(err: unknown, exitCode: number): ErrorKind {
  if (isSignalExitCode(exitCode)) return 'interrupted';
  const kind = (err as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' && err instanceof Error && 'exitCode' in err ? (kind as ErrorKind) : 'internal';
}

/** Bad command line or unusable argument: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** The `error` field of its JSON log line (README "Exit codes"). */
  readonly kind: ErrorKind = 'usage';
  readonly exitCode = 2;
}

/** Malformed configuration (rates, settings, env file): exit 2, before any input is read. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  /** The `error` field of its JSON log line (README "Exit codes"). */
  readonly kind: ErrorKind = 'configuration';
  readonly exitCode = 2;
}

/** Input that cannot be read as promised (missing path, unreadable file, corrupt gzip, missing CSV column): exit 1. */
export class InputError extends Error {
  override name = 'InputError';
  /** The `error` field of its JSON log line (README "Exit codes"). */
  readonly kind: ErrorKind = 'input';
  readonly exitCode = 1;
}

/** Linux's errno for a disk quota exceeded, which libuv has no name for. */
const EDQUOT_ERRNO = osConstants.errno.EDQUOT ?? 122;

/**
 * A system call's error code (`ENOSPC`): Node's, and `EDQUOT` for a disk quota exceeded, which
 * Node 20 reports as `Unknown system error -122` (libuv has no name for it).
 */
export function systemCode(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code?.startsWith('Unknown system error') === true && e?.errno === -EDQUOT_ERRNO) return 'EDQUOT';
  return code;
}

/**
 * A system call's failure in words, with its code for searching: `no space left on device
 * (ENOSPC)`. Node's message (`ENOSPC: no space left on device, write '/path'`) gives the
 * words; the system call and the path are left out, since the message around it names the
 * file the user gave, not a staging name.
 */
export function systemReason(err: unknown): string {
  const code = systemCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === undefined) return message;
  if (code === 'EDQUOT' && !message.startsWith('EDQUOT')) return 'disk quota exceeded (EDQUOT)';
  const words = new RegExp(`^${code}: ([^,]+)`).exec(message)?.[1];
  if (words !== undefined) return `${words} (${code})`;
  // A code of Node's own (ERR_STREAM_PREMATURE_CLOSE: "Premature close") or a library's.
  return message === '' || message === code ? code : `${message} (${code})`;
}

/** The InputError for a file that could not be opened or read: the path and the system's reason (`no such file or directory (ENOENT)`, ...), or `reason` as given. */
export function cannotRead(path: string, reason: unknown): InputError {
  const why = typeof reason === 'string' ? reason : systemReason(reason);
  return new InputError(`cannot read ${path}: ${why}`);
}

/** The InputError for an input whose size, time or ETag is no longer what discovery saw: `what` says how. */
export function changedWhileRead(path: string, what: string): InputError {
  return new InputError(`input ${path} changed while it was read (${what}); nothing was written: run again once it is complete`);
}

/** A failure of the machinery: a worker, the cluster, the disk: exit 1. */
export class RunFailure extends Error {
  override name = 'RunFailure';
  /** The `error` field of its JSON log line (README "Exit codes"). */
  readonly kind: ErrorKind = 'run_failure';
  readonly exitCode = 1;
}

/** More rejects than --max-rejects allows: exit 3, no bill. */
export class RejectLimitExceeded extends Error {
  override name = 'RejectLimitExceeded';
  /** The `error` field of its JSON log line (README "Exit codes"). */
  readonly kind: ErrorKind = 'rejects_over_limit';
  readonly exitCode = 3;

  /** `details`: what the user needs to see to fix the input (counts per reason, the first rejected lines). */
  constructor(
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

export function exitCodeOf(err: unknown): number {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' ? code : 1;
}
