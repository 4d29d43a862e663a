/** The rejects CSV: file, byte offset of the line's start, reason, raw line (first 1 KiB). */
import { MAX_REJECT_RAW_BYTES, type RejectReason } from '../validation/reasons.js';
import type { StagedFile } from './staged.js';
import { csvFieldQuoting } from './csv.js';

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

const REJECTS_NEEDS_QUOTES = /[",\r\n|]/;

/**
 * A field of the rejects CSV as fast-csv's formatter writes it with the options the file used
 * (its writer until the rows were formatted here; `rejects.test.ts` compares the two on drawn
 * fields): NUL dropped; quoted when it holds a quote (each doubled), a comma, CR, LF or `|`.
 */
export function rejectsField(s: string): string {
  return csvFieldQuoting(REJECTS_NEEDS_QUOTES, s.includes('\0') ? s.replaceAll('\0', '') : s);
}

/** Text of rows gathered before it is written. */
const CHUNK_CHARS = 1 << 20;

/**
 * The rejects CSV, rows formatted here and written in chunks onto the staged file. A row
 * through fast-csv's formatter stream cost the main thread about 4 us: with one line in ten
 * rejected, the parallel engine's main thread was the bottleneck (256 MiB, 521,032 rejects:
 * 2 workers 2.78 s, slower than 1 worker's 2.38 s).
 */
export class RejectsWriter implements Rejects {
  /** The first rejected lines, in the order written (file order, then offset order). */
  readonly first: RejectedLine[] = [];
  private text = REJECTS_HEADER.map(rejectsField).join(',') + '\n';
  /** The last file named and its field (rejects come file after file). */
  private file = '';
  private fileField = '';

  constructor(private readonly out: StagedFile) {}

  /** Adds one reject; `offset` null when unknown (spark engine). Always true: rows are written as they fill a chunk. */
  add(file: string, offset: number | null, reason: RejectReason, raw: Uint8Array): boolean {
    if (this.first.length < FIRST_REJECTS_SHOWN) this.first.push({ file, offset, reason });
    if (file !== this.file) {
      this.file = file;
      this.fileField = rejectsField(file);
    }
    this.text += `${this.fileField},${offset === null ? '' : offset},${rejectsField(reason)},${rejectsField(rawColumn(raw))}\n`;
    if (this.text.length >= CHUNK_CHARS) this.flush();
    return true;
  }

  drain(): Promise<void> {
    return Promise.resolve();
  }

  /** Writes the rows still gathered (the staged file is committed or removed by its owner). */
  async end(): Promise<void> {
    this.flush();
  }

  private flush(): void {
    if (this.text.length === 0) return;
    this.out.write(this.text);
    this.text = '';
  }
}
