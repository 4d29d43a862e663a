/**
 * The naive engine: one streaming pass on the main thread, file after file, line after
 * line. It is the honest baseline and the reference the other engines are checked against.
 */
import { LineFramer, bomLength, isBlank, type LineSink } from '../core/formats/lines.js';
import { RecordParser } from '../core/formats/records.js';
import { csvLayout, type CsvLayout } from '../core/formats/csv.js';
import { readChunks } from '../core/input/read.js';
import type { InputFile } from '../core/input/discover.js';
import { UsageTable, emptyCounts, type BillingResult, type RunCounts } from '../core/billing/usage.js';
import type { RunInput } from '../core/billing/run.js';
import type { RejectsWriter } from '../core/outputs/rejects.js';

export async function runNaive(input: RunInput): Promise<BillingResult> {
  const counts = emptyCounts();
  const usage = new UsageTable(input.config.rates.length);
  const parser = new RecordParser(input.config, input.window);
  for (const file of input.files) {
    input.signal.throwIfAborted();
    const sink = new FileSink(file, parser, counts, usage, input.rejects);
    const framer = new LineFramer(sink);
    for await (const chunk of readChunks(file, input.onBytes, { signal: input.signal })) {
      framer.push(chunk);
      if (sink.backpressure) {
        sink.backpressure = false;
        await input.rejects.drain();
      }
    }
    framer.end();
  }
  return { counts, usage };
}

class FileSink implements LineSink {
  backpressure = false;
  private csv: CsvLayout | undefined;

  constructor(
    private readonly file: InputFile,
    private readonly parser: RecordParser,
    private readonly counts: RunCounts,
    private readonly usage: UsageTable,
    private readonly rejects: RejectsWriter,
  ) {}

  line(offset: number, bytes: Buffer): void {
    if (offset === 0) bytes = bytes.subarray(bomLength(bytes));
    if (isBlank(bytes)) return;
    if (this.file.format === 'csv' && this.csv === undefined) {
      this.csv = csvLayout(bytes.toString('utf8'), this.file.path);
      return;
    }
    this.counts.records++;
    const v = this.parser.parse(bytes, this.file.format, this.csv);
    if (v.kind === 'accepted') {
      this.counts.accepted++;
      this.usage.add(v.user, v.task, 1, v.durationMs);
    } else if (v.kind === 'out_of_window') {
      this.counts.outOfWindow++;
    } else {
      this.reject(offset, v.reason, bytes);
    }
  }

  tooLong(offset: number, head: Buffer): void {
    this.counts.records++;
    this.reject(offset, 'line_too_long', head);
  }

  private reject(offset: number, reason: Parameters<RejectsWriter['add']>[2], raw: Buffer): void {
    this.counts.rejected[reason]++;
    if (!this.rejects.add(this.file.path, offset, reason, raw)) this.backpressure = true;
  }
}
