/** The input formats and how a file name maps to one (SPEC "Input"). */

export type Format = 'space' | 'csv' | 'jsonl';

export const FORMATS: readonly Format[] = ['space', 'csv', 'jsonl'];

const BY_EXTENSION: Readonly<Record<string, Format>> = {
  '.log': 'space',
  '.txt': 'space',
  '.csv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
};

export interface FileKind {
  readonly format: Format;
  readonly gzip: boolean;
}

/**
 * A log file's name: an extension, then optionally a rotation suffix (`.N`, one or more ASCII
 * digits, as logrotate and most handlers number them; or `-YYYYMMDD`, exactly eight ASCII
 * digits, logrotate's `dateext`, not checked as a calendar date), then optionally `.gz`.
 * Case-insensitive, like the extensions always were (`API.LOG.1.GZ`).
 */
const LOG_NAME = /(\.(?:log|txt|csv|jsonl|ndjson))(?:\.[0-9]+|-[0-9]{8})?(\.gz)?$/i;

/**
 * The format of a file from its name (`.log`, `.txt`, `.csv`, `.jsonl`, `.ndjson`, each optionally
 * followed by a rotation suffix and then `.gz`: `api.log.1`, `api.log.2.gz`, `api.log-20251201.gz`);
 * null otherwise. Only the last path segment counts (`dir.log/file` is not a log).
 */
export function kindOfPath(path: string): FileKind | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const m = LOG_NAME.exec(base);
  if (m === null) return null;
  const format = BY_EXTENSION[m[1]!.toLowerCase()]!;
  return { format, gzip: m[2] !== undefined };
}

export const SUPPORTED_EXTENSIONS = Object.keys(BY_EXTENSION);

/** The name rule in words, for messages. */
export const NAME_RULE = `${SUPPORTED_EXTENSIONS.join(', ')}, each optionally followed by a rotation suffix (.1, .2, … or -YYYYMMDD) and then .gz`;
