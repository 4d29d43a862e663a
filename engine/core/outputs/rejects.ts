/** The rejects CSV: file, byte offset of the line's start, reason, raw line (first 1 KiB). */
import { MAX_REJECT_RAW_BYTES, type RejectReason } from '../validation/reasons.js';
import { CsvWriter } from './csv.js';
import type { StagedFile } from './staged.js';

export const REJECTS_HEADER = ['file', 'offset', 'reason', 'raw'] as const;

// ignoreBOM: a U+FEFF that starts a raw line is content (a BOM at file offset 0 is removed before this).
const lossy = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * The raw column: at most 1 KiB of the line, invalid UTF-8 and NUL shown as U+FFFD (the CSV
 * writer would drop a NUL silently; a visible replacement marks that a byte was there).
 */
export function rawColumn(raw: Uint8Array): string {
  return lossy.decode(raw.length > MAX_REJECT_RAW_BYTES ? raw.subarray(0, MAX_REJECT_RAW_BYTES) : raw).replaceAll('\0', '\uFFFD');
}

/** A rejected line as shown to people when a run stops over the reject limit. */
export interface RejectedLine {
  readonly file: string;
  readonly offset: number | null;
  readonly reason: RejectReason;
}

/** How many of the first rejected lines are kept for the over-limit report. */
export const FIRST_REJECTS_SHOWN = 20;

/**
 * Where an engine sends rejected lines (RunInput.rejects): the rejects CSV in a run, any
 * collecting double in tests.
 */
export interface Rejects {
  /** Adds one reject; `offset` null when unknown (spark engine). Returns false when drain() is due. */
  add(file: string, offset: number | null, reason: RejectReason, raw: Uint8Array): boolean;
  /** Resolves when the rejects added so far may be followed by more. */
  drain(): Promise<void>;
}

export class RejectsWriter implements Rejects {
  private readonly csv: CsvWriter;
  /** The first rejected lines, in the order written (file order, then offset order). */
  readonly first: RejectedLine[] = [];

  constructor(file: StagedFile) {
    this.csv = new CsvWriter(file, REJECTS_HEADER);
  }

  /** Adds one reject; `offset` null when unknown (spark engine). Returns false when drain() is due. */
  add(file: string, offset: number | null, reason: RejectReason, raw: Uint8Array): boolean {
    if (this.first.length < FIRST_REJECTS_SHOWN) this.first.push({ file, offset, reason });
    return this.csv.write([file, offset === null ? '' : offset, reason, rawColumn(raw)]);
  }

  drain(): Promise<void> {
    return this.csv.drain();
  }

  end(): Promise<void> {
    return this.csv.end();
  }
}
