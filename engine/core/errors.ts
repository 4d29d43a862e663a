/** The failures a run can end with, each mapped to the contract's exit code. */

/** Bad command line or unusable argument: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode = 2;
}

/** Malformed configuration (rates, settings, env file): exit 2, before any input is read. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly exitCode = 2;
}

/** Input that cannot be read as promised (missing path, unreadable file, corrupt gzip, missing CSV column): exit 1. */
export class InputError extends Error {
  override name = 'InputError';
  readonly exitCode = 1;
}

/** The InputError for a file that could not be opened or read: the path and the system's reason (`ENOENT`, ...). */
export function cannotRead(path: string, reason: unknown): InputError {
  const why = typeof reason === 'string' ? reason : ((reason as NodeJS.ErrnoException).code ?? String(reason));
  return new InputError(`cannot read ${path}: ${why}`);
}

/** A failure of the machinery: a worker, the cluster, the disk: exit 1. */
export class RunFailure extends Error {
  override name = 'RunFailure';
  readonly exitCode = 1;
}

/** More rejects than --max-rejects allows: exit 3, no bill. */
export class RejectLimitExceeded extends Error {
  override name = 'RejectLimitExceeded';
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
