/**
 * Line → counts, usage and rejects, for one file: the per-line contract shared by the naive
 * engine and the parallel engine's CSV/JSON path. BOM at offset 0 dropped, blank lines
 * skipped, the first non-blank CSV line read as the header.
 */
import { bomLength, isBlank, type LineSink } from '../formats/lines.js';
import { csvLayout, type CsvLayout } from '../formats/csv.js';
import type { Format } from '../formats/format.js';
import type { RecordParser } from '../formats/records.js';
import { InputError } from '../errors.js';
import type { RejectReason } from '../validation/reasons.js';
import { countUnknownTask, type RunCounts, type UsageTable } from './usage.js';

export interface RejectSink {
  /** One rejected line: its offset in the file, the reason, its raw bytes (at least the first 1 KiB). */
  reject(offset: number, reason: RejectReason, raw: Uint8Array): void;
}

export class LineAccumulator implements LineSink {
  constructor(
    private readonly path: string,
    private readonly format: Format,
    private readonly parser: RecordParser,
    private readonly counts: RunCounts,
    private readonly usage: UsageTable,
    private readonly rejects: RejectSink,
    /** The CSV header's layout when already known (a shard after the header); otherwise read from the first non-blank line. */
    private csv?: CsvLayout,
  ) {}

  line(offset: number, bytes: Buffer): void {
    if (offset === 0) bytes = bytes.subarray(bomLength(bytes));
    if (isBlank(bytes)) return;
    if (this.format === 'csv' && this.csv === undefined) {
      this.csv = csvLayout(bytes.toString('utf8'), this.path);
      return;
    }
    this.counts.records++;
    const v = this.parser.parse(bytes, this.format, this.csv);
    if (v.kind === 'accepted') {
      this.counts.accepted++;
      this.usage.add(v.user, v.task, 1, v.durationMs);
    } else if (v.kind === 'out_of_window') {
      this.counts.outOfWindow++;
    } else {
      this.counts.rejected[v.reason]++;
      if (v.task !== undefined) countUnknownTask(this.counts.unknownTasks, v.task);
      this.rejects.reject(offset, v.reason, bytes);
    }
  }

  tooLong(offset: number, head: Buffer): void {
    if (this.format === 'csv' && this.csv === undefined) {
      throw new InputError(`${this.path}: the CSV header row is longer than 64 KiB`);
    }
    this.counts.records++;
    this.counts.rejected.line_too_long++;
    this.rejects.reject(offset, 'line_too_long', head);
  }
}
