/**
 * Line → counts, usage and rejects, for one file: the per-line contract shared by the naive
 * engine and the parallel engine's CSV/JSON path. BOM at offset 0 dropped, blank lines
 * skipped, the first non-blank CSV line read as the header.
 */
import { recordBytes, type LineSink } from '../formats/lines.js';
import type { CsvLayout } from '../formats/csv.js';
import { CsvHeaderFinder } from '../formats/csv-header.js';
import type { Format } from '../formats/format.js';
import type { RecordParser } from '../formats/records.js';
import { unwrapLine, type Wrapping } from '../formats/wrapped.js';
import type { RejectReason } from '../validation/reasons.js';
import { countUnknownTask, type RunCounts, type UsageTable } from './usage.js';
import { lineKey, type DedupeMode } from '../dedupe/dedupe.js';
import type { DedupeSink } from '../dedupe/seen.js';

/** Where valid records with an identity go (SPEC "Duplicate deliveries"), and how identity is found. */
export interface DedupeTarget {
  /** `auto` (request ids) or `line` (line bytes); with `off` no target is given. */
  readonly mode: Exclude<DedupeMode, 'off'>;
  readonly sink: DedupeSink;
}

export interface RejectSink {
  /** One rejected line: its offset in the file, the reason, its raw bytes (at least the first 1 KiB). */
  reject(offset: number, reason: RejectReason, raw: Uint8Array): void;
}

export class LineAccumulator implements LineSink {
  /** Reads the header while a CSV file's layout is not known yet. */
  private readonly header: CsvHeaderFinder | undefined;

  constructor(
    path: string,
    private readonly format: Format,
    private readonly parser: RecordParser,
    private readonly counts: RunCounts,
    private readonly usage: UsageTable,
    private readonly rejects: RejectSink,
    /** The CSV header's layout when already known (a shard after the header); otherwise read from the first non-blank line. */
    private csv?: CsvLayout,
    /** --wrapped: each line is unwrapped first (formats/wrapped.ts); rejects keep the wrapped line. */
    private readonly wrapping?: Wrapping,
    /** Dedupe: the parser must then be made with `deferWindow`. */
    private readonly dedupe?: DedupeTarget,
  ) {
    this.header = format === 'csv' && csv === undefined ? new CsvHeaderFinder(path) : undefined;
  }

  line(offset: number, raw: Buffer): void {
    const wrapped = recordBytes(offset, raw);
    if (wrapped === undefined) return;
    let bytes = wrapped;
    if (this.wrapping !== undefined) {
      const u = unwrapLine(wrapped, this.wrapping);
      if (u === null) return; // a blank inner line
      if (typeof u === 'string') {
        this.counts.records++;
        this.counts.rejected[u]++;
        this.rejects.reject(offset, u, wrapped);
        return;
      }
      bytes = u;
    }
    if (this.header !== undefined && this.csv === undefined) {
      // An inner line is no file start: never a BOM to drop (offset 1 says so).
      this.header.line(this.wrapping === undefined ? offset : 1, this.wrapping === undefined ? raw : bytes);
      this.csv = this.header.found!.layout;
      return;
    }
    this.counts.records++;
    const v = this.parser.parse(bytes, this.format, this.csv);
    if (v.kind === 'valid') {
      const key = this.dedupe === undefined ? null : this.dedupe.mode === 'line' ? lineKey(this.format, this.csv, bytes) : v.requestId;
      if (key !== null) {
        // Counted as accepted or out of window once dedupe has decided it is the first.
        this.dedupe!.sink.record(key, offset, v);
      } else if (v.inWindow) {
        this.counts.accepted++;
        this.usage.add(v.user, v.task, 1, v.durationMs);
      } else {
        this.counts.outOfWindow++;
      }
    } else if (v.kind === 'accepted') {
      this.counts.accepted++;
      this.usage.add(v.user, v.task, 1, v.durationMs);
    } else if (v.kind === 'out_of_window') {
      this.counts.outOfWindow++;
    } else {
      this.counts.rejected[v.reason]++;
      if (v.task !== undefined) countUnknownTask(this.counts.unknownTasks, v.task);
      this.rejects.reject(offset, v.reason, wrapped);
    }
  }

  tooLong(offset: number, head: Buffer): void {
    if (this.csv === undefined) this.header?.tooLong();
    this.counts.records++;
    this.counts.rejected.line_too_long++;
    this.rejects.reject(offset, 'line_too_long', head);
  }
}
