/** CSV files written with fast-csv onto a staged (temporary) file, with backpressure. */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { format, type CsvFormatterStream } from '@fast-csv/format';
import { outputError, type StagedFile } from './staged.js';

export type CsvRow = readonly (string | number)[];

export class CsvWriter {
  private readonly csv: CsvFormatterStream<string[], string[]>;
  private readonly done: Promise<void>;
  private failure: Error | null = null;

  constructor(file: StagedFile, headers: readonly string[]) {
    // alwaysWriteHeaders: a CSV with no rows is its header line, not a lone "\n".
    this.csv = format<string[], string[]>({ headers: [...headers], alwaysWriteHeaders: true, includeEndRowDelimiter: true, rowDelimiter: '\n' });
    const out = file.stream();
    this.csv.pipe(out);
    this.csv.on('error', (err: Error) => (this.failure ??= outputError(file.finalPath, err)));
    out.on('error', (err: Error) => {
      this.failure ??= outputError(file.finalPath, err);
      this.csv.unpipe(out);
    });
    this.done = finished(out).catch((err: unknown) => {
      throw (this.failure ??= outputError(file.finalPath, err));
    });
    this.done.catch(() => {});
  }

  /** Adds a row; false when the caller should await drain(). */
  write(row: CsvRow): boolean {
    if (this.failure !== null) throw this.failure;
    return this.csv.write(row.map(String));
  }

  async drain(): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (this.csv.writableNeedDrain) await Promise.race([once(this.csv, 'drain'), this.done]);
    if (this.failure !== null) throw this.failure;
  }

  async end(): Promise<void> {
    this.csv.end();
    await this.done;
    if (this.failure !== null) throw this.failure;
  }
}
