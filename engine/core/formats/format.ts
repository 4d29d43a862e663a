/** The input formats and how a file name maps to one (SPEC "Input"). */

export type Format = 'space' | 'csv' | 'jsonl';

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

/** The format of a file from its name (`.log`, `.txt`, `.csv`, `.jsonl`, `.ndjson`, each optionally `.gz`); null otherwise. */
export function kindOfPath(path: string): FileKind | null {
  const lower = path.toLowerCase();
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  const dot = base.lastIndexOf('.');
  if (dot < 0 || base.lastIndexOf('/') > dot) return null;
  const format = BY_EXTENSION[base.slice(dot)];
  return format === undefined ? null : { format, gzip };
}

export const SUPPORTED_EXTENSIONS = Object.keys(BY_EXTENSION);
