/**
 * The CSV header rule, for every engine: the first non-blank line of a CSV file (a BOM at
 * offset 0 dropped) names the columns; a line over the length limit before it is an
 * InputError naming the file.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { csvLayout, type CsvLayout } from './csv.js';
import { LineFramer, recordBytes, type LineSink } from './lines.js';
import { InputError, cannotRead } from '../errors.js';

export interface CsvHeader {
  /** File offset of the header line. */
  readonly offset: number;
  readonly layout: CsvLayout;
}

/** Takes a file's lines in order until it has seen the header. */
export class CsvHeaderFinder implements LineSink {
  found: CsvHeader | undefined;

  constructor(private readonly path: string) {}

  line(offset: number, bytes: Buffer): void {
    if (this.found !== undefined) return;
    const content = recordBytes(offset, bytes);
    if (content !== undefined) this.found = { offset, layout: csvLayout(content.toString('utf8'), this.path) };
  }

  tooLong(): void {
    if (this.found === undefined) throw new InputError(`${this.path}: the CSV header row is longer than 64 KiB`);
  }
}

/** The header of a CSV file, read from its start; undefined for a file with no non-blank line. */
export function readCsvHeader(path: string, readPath: string = path): CsvHeader | undefined {
  const finder = new CsvHeaderFinder(path);
  const framer = new LineFramer(finder);
  let fd: number;
  try {
    fd = openSync(readPath, 'r');
  } catch (err) {
    throw cannotRead(path, err);
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    let pos = 0;
    while (finder.found === undefined) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      framer.push(buf.subarray(0, n));
      pos += n;
    }
    if (finder.found === undefined) framer.end();
  } finally {
    closeSync(fd);
  }
  return finder.found;
}
