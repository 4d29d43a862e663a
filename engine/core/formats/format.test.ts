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
