import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCsvHeader } from './csv-header.js';
import { csvLayout } from './csv.js';
import { LineAccumulator } from '../billing/accumulate.js';
import { RecordParser } from './records.js';
import { emptyCounts, UsageTable } from '../billing/usage.js';
import { billingConfigFromEnv } from '../config/config.js';
import { MAX_LINE_BYTES } from '../validation/reasons.js';
import { LineFramer } from './lines.js';
import { InputError } from '../errors.js';

const HEADER = 'timestamp,user,task,status,duration_ms';
const ROW = '2025-01-01T00:00:00Z,alice,build,200,10';

/** What the naive engine's path (LineAccumulator) makes of a file's text: its layout, or the error. */
function viaAccumulator(text: string): { records: number; accepted: number } | InputError {
  const config = billingConfigFromEnv({ RATE_build: '0.01' });
  const counts = emptyCounts();
  const acc = new LineAccumulator('f.csv', 'csv', new RecordParser(config, {}), counts, new UsageTable(1), { reject: () => undefined });
  try {
    const framer = new LineFramer(acc);
    framer.push(Buffer.from(text, 'utf8'));
    framer.end();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  return { records: counts.records, accepted: counts.accepted };
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function viaShardPlanning(text: string): ReturnType<typeof readCsvHeader> {
  const dir = mkdtempSync(join(tmpdir(), 'mr-csv-header-'));
  dirs.push(dir);
  const path = join(dir, 'f.csv');
  writeFileSync(path, text);
  return readCsvHeader(path);
}

describe('the CSV header rule, as the naive path and shard planning both read it', () => {
  it('the first non-blank line, after a BOM and blank lines, is the header', () => {
    const text = `\uFEFF \n\t\r\n${HEADER}\r\n${ROW}\n`;
    expect(viaShardPlanning(text)).toEqual({ offset: 8, layout: csvLayout(HEADER, 'f.csv') });
    expect(viaAccumulator(text)).toEqual({ records: 1, accepted: 1 });
  });

  it('a file with no non-blank line has no header', () => {
    expect(viaShardPlanning('\n  \n')).toBeUndefined();
    expect(viaAccumulator('\n  \n')).toEqual({ records: 0, accepted: 0 });
  });

  it('a line over the limit before the header is an InputError naming the file; after it, a reject', () => {
    const long = 'x'.repeat(MAX_LINE_BYTES + 1);
    expect(() => viaShardPlanning(`\n${long}\n${HEADER}\n`)).toThrow(/f\.csv: the CSV header row is longer than 64 KiB/);
    expect(viaAccumulator(`\n${long}\n${HEADER}\n`)).toBeInstanceOf(InputError);
    expect(viaShardPlanning(`${HEADER}\n${long}\n`)?.offset).toBe(0);
    expect(viaAccumulator(`${HEADER}\n${long}\n${ROW}\n`)).toEqual({ records: 2, accepted: 1 });
  });

  it('a malformed header is the same error on both paths', () => {
    const text = `"timestamp,user\n${ROW}\n`;
    expect(() => viaShardPlanning(text)).toThrow(/malformed/);
    const got = viaAccumulator(text);
    expect(got).toBeInstanceOf(InputError);
    expect((got as InputError).message).toMatch(/malformed/);
  });
});
