/**
 * The rejects CSV formatted by RejectsWriter is byte for byte what fast-csv's formatter wrote
 * with the options the file used before (fast-csv is the reference here): drawn file names,
 * offsets, reasons and raw lines with every byte that needs quoting, NUL, invalid UTF-8, and
 * enough rows to fill several of the writer's chunks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeToString } from '@fast-csv/format';
import { REJECT_REASONS, type RejectReason } from '../validation/reasons.js';
import { REJECTS_HEADER, RejectsWriter, rejectsField, rawColumn } from './rejects.js';
import { StagedOutputs } from './staged.js';
import { cleanupTempDirs, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

interface Reject {
  readonly file: string;
  readonly offset: number | null;
  readonly reason: RejectReason;
  readonly raw: Uint8Array;
}

/** What the writer made with fast-csv's formatter stream (engine/core/outputs/csv.ts before the change). */
function fastCsv(rows: readonly Reject[]): Promise<string> {
  return writeToString(
    rows.map((r) => [r.file, r.offset === null ? '' : r.offset, r.reason, rawColumn(r.raw)].map(String)),
    { headers: [...REJECTS_HEADER], alwaysWriteHeaders: true, includeEndRowDelimiter: true, rowDelimiter: '\n' },
  );
}

async function written(rows: readonly Reject[]): Promise<string> {
  const path = join(tempDir(), 'billing.rejects.csv');
  const staged = new StagedOutputs();
  const w = new RejectsWriter(staged.add(path));
  for (const r of rows) expect(w.add(r.file, r.offset, r.reason, r.raw)).toBe(true);
  await w.end();
  staged.commit();
  return readFileSync(path, 'utf8');
}

// Text and bytes rich in what CSV quoting is about.
const special = fc.constantFrom(',', '"', '\r', '\n', '|', '\0', ' ', ';', "'", '\t', 'é', '😀', '\uFEFF', '\u2028');
const text = fc.array(fc.oneof(special, fc.string({ maxLength: 6 })), { maxLength: 8 }).map((p) => p.join(''));
const bytes = fc.oneof(
  text.map((t) => new Uint8Array(Buffer.from(t, 'utf8'))),
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ minLength: 1000, maxLength: 1100 }),
);
const reject = fc.record({
  file: fc.oneof(fc.constantFrom('logs/a.log', 's3://bucket/x,y.jsonl', 'dir with space/b.csv'), text),
  offset: fc.oneof(fc.constant(null), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
  reason: fc.constantFrom(...REJECT_REASONS),
  raw: bytes,
});

describe('RejectsWriter', () => {
  it("writes what fast-csv's formatter wrote, for any rejects", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(reject, { maxLength: 60, size: 'medium' }), async (rows) => {
        expect(await written(rows)).toBe(await fastCsv(rows));
      }),
      { numRuns: 150 },
    );
  });

  it('over several chunks: 5,000 rejects of 1 KiB and more', async () => {
    const rows: Reject[] = Array.from({ length: 5000 }, (_, i) => ({
      file: i < 2500 ? 'a.log' : 'b,"c".log',
      offset: i * 1100,
      reason: REJECT_REASONS[i % REJECT_REASONS.length]!,
      raw: new Uint8Array(Buffer.from(`${i},"x"|\r`.padEnd(1100, 'y'))),
    }));
    const text = await written(rows);
    expect(text.length).toBeGreaterThan(3 << 20);
    expect(text).toBe(await fastCsv(rows));
  });

  it('rejectsField: quotes a quote (doubled), comma, CR, LF and |; drops NUL; leaves the rest', () => {
    expect(rejectsField('a"b')).toBe('"a""b"');
    expect(rejectsField('a,b')).toBe('"a,b"');
    expect(rejectsField('a|b')).toBe('"a|b"');
    expect(rejectsField('a\rb')).toBe('"a\rb"');
    expect(rejectsField('a\nb')).toBe('"a\nb"');
    expect(rejectsField('a\0b')).toBe('ab');
    expect(rejectsField("a b;'\t")).toBe("a b;'\t");
    expect(rejectsField('')).toBe('');
  });
});
