import { describe, expect, it } from 'vitest';
import { kindOfPath } from './format.js';

describe('kindOfPath', () => {
  it.each([
    ['a.log', 'space', false],
    ['a.txt', 'space', false],
    ['a.csv', 'csv', false],
    ['a.jsonl', 'jsonl', false],
    ['a.ndjson', 'jsonl', false],
    ['dir.d/a.log.gz', 'space', true],
    ['a.txt.gz', 'space', true],
    ['a.csv.gz', 'csv', true],
    ['a.jsonl.gz', 'jsonl', true],
    ['a.ndjson.gz', 'jsonl', true],
    ['A.LOG', 'space', false],
    ['x/y/api.2025-05-02.log', 'space', false],
  ])('%s → %s gzip=%s', (p, format, gzip) => {
    expect(kindOfPath(p)).toEqual({ format, gzip });
  });

  it.each(['a.json', 'a.gz', 'a.log.bz2', 'a.md', 'README', 'a.log.gz.bak', 'dir.log/file', 'a.tsv', 'a.log~'])('%s is not an input', (p) => {
    expect(kindOfPath(p)).toBeNull();
  });
});

describe('kindOfPath: rotated names', () => {
  it.each([
    ['api.log.1', 'space', false],
    ['api.log.2.gz', 'space', true],
    ['api.log.0', 'space', false],
    ['api.log.123', 'space', false],
    ['api.log-20251201', 'space', false],
    ['api.log-20251201.gz', 'space', true],
    ['dir/x.csv.3', 'csv', false],
    ['x.csv-20250101.gz', 'csv', true],
    ['x.jsonl.1', 'jsonl', false],
    ['x.ndjson.4.gz', 'jsonl', true],
    ['X.TXT.1.GZ', 'space', true],
  ])('%s → %s gzip=%s', (p, format, gzip) => {
    expect(kindOfPath(p)).toEqual({ format, gzip });
  });

  it.each(['api.log.', 'api.log.gz.1', 'api.log.1.2', 'api.log-2025120', 'api.log-202512011', 'api.log-2025-12-01', 'api.log.1a', 'api.log.old', 'api.log-', 'api.log.1.bak', 'api.log_1', 'dir.log.1/file', 'api.md.1'])(
    '%s is not an input',
    (p) => {
      expect(kindOfPath(p)).toBeNull();
    },
  );
});
