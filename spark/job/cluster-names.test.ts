/**
 * The names the spark engine refuses because the cluster would not read them as named (README
 * decision 45). That Spark reads the names it does not refuse is checked on the real cluster
 * in spark-engine.test.ts; here, which names are refused and which are not.
 */
import { describe, expect, it } from 'vitest';
import type { InputFile } from '../../engine/core/input/discover.js';
import { UsageError } from '../../engine/core/errors.js';
import { checkClusterNames } from './run.js';

const local = (path: string): InputFile => ({ path, format: 'space', gzip: false, size: 1 });
const object = (key: string): InputFile => ({
  path: `s3://b/${key}`,
  format: 'space',
  gzip: false,
  size: 1,
  s3: { bucket: 'b', key, size: 1, region: 'us-east-1' },
});

describe('checkClusterNames', () => {
  it.each([
    ['a hidden name', local('/logs/.a.log')],
    ['an underscore name', local('/logs/_a.log')],
    ["Parquet's metadata name", local('/logs/_metadata.log')],
    ['a copy in progress', local('/logs/a.log._COPYING_')],
    ['a hidden object', object('logs/.a.log')],
    ['an underscore object', object('logs/2025/_a.log')],
    ['a key with an empty part', object('logs//a.log')],
    ['a key starting with /', object('/a.log')],
    ['a key with a . part', object('logs/./a.log')],
    ['a key with a .. part', object('logs/x/../a.log')],
    ['a local file with : in its name', local('/logs/a:b.log')],
  ])('refuses %s (exit 2, naming the file)', (_what, file) => {
    expect(() => checkClusterNames([local('/logs/ok.log'), file])).toThrow(UsageError);
    expect(() => checkClusterNames([file])).toThrow(file.path);
  });

  it.each([
    ['names with _ or . inside', [local('/logs/a_b.log'), local('/logs/a.b.log'), local('/_dir/.d/a.log')]],
    ['an underscore name with = (a partition)', [local('/logs/_a=b.log')]],
    ['spaces, %, +, ?, #, non-ASCII', [local('/logs/a b%41+?#é.log'), object('logs/a b%41+?#é.log')]],
    ['a : in an S3 key or a local folder', [object('logs/2025-05-02T10:00/a:b.log'), local('/logs/2025-05-02T10:00/a.log')]],
    ['hidden and underscore folders of an S3 key', [object('_logs/.x/a.log')]],
  ])('reads %s', (_what, files) => {
    expect(() => checkClusterNames(files)).not.toThrow();
  });
});
