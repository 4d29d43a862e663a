import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { outputPaths } from './paths.js';
import { rawColumn, RejectsWriter } from './rejects.js';
import { STAGING_PREFIX, StagedOutputs } from './staged.js';
import { billText } from './bill.js';
import { cleanupTempDirs, listFiles, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

describe('outputPaths', () => {
  it('names companions after the bill', () => {
    expect(outputPaths('data/billing.txt')).toEqual({
      bill: 'data/billing.txt',
      detail: 'data/billing.detail.csv',
      summary: 'data/billing.summary.json',
      rejects: 'data/billing.rejects.csv',
    });
    expect(outputPaths('/x/y/may.2025.txt').detail).toBe('/x/y/may.2025.detail.csv');
    expect(outputPaths('bill').summary).toBe('bill.summary.json');
  });
});

describe('rawColumn', () => {
  it('first 1 KiB, invalid UTF-8 as U+FFFD, a leading U+FEFF kept (it is content here)', () => {
    expect(rawColumn(Buffer.from('abc'))).toBe('abc');
    expect(rawColumn(Buffer.from([0x61, 0xff, 0x62]))).toBe('a\ufffdb');
    expect(rawColumn(Buffer.from('\ufeffx'))).toBe('\ufeffx');
    expect(rawColumn(Buffer.alloc(5000, 'a'))).toBe('a'.repeat(1024));
  });
});

describe('RejectsWriter + StagedOutputs', () => {
  it('writes RFC 4180 rows under a temporary name, renamed on commit', async () => {
    const dir = tempDir();
    const staged = new StagedOutputs();
    const rejects = new RejectsWriter(staged.add(join(dir, 'out', 'billing.rejects.csv')));
    rejects.add('a.csv', 10, 'bad_user', Buffer.from('x,"y"\rz'));
    rejects.add('b.log', 0, 'bad_encoding', Buffer.from([0xff]));
    rejects.add('s.log', null, 'bad_json', Buffer.from('{}'));
    await rejects.end();
    expect(listFiles(join(dir, 'out')).every((f) => f.startsWith(STAGING_PREFIX))).toBe(true);
    expect(existsSync(join(dir, 'out', 'billing.rejects.csv'))).toBe(false);
    staged.commit();
    expect(listFiles(join(dir, 'out'))).toEqual(['billing.rejects.csv']);
    expect(readFileSync(join(dir, 'out', 'billing.rejects.csv'), 'utf8')).toBe(
      'file,offset,reason,raw\na.csv,10,bad_user,"x,""y""\rz"\nb.log,0,bad_encoding,\ufffd\ns.log,,bad_json,{}\n',
    );
  });

  it('discard removes every temporary file and leaves nothing new', async () => {
    const dir = tempDir();
    const staged = new StagedOutputs();
    const a = staged.add(join(dir, 'a.txt'));
    a.write('partial');
    staged.add(join(dir, 'b.txt'));
    staged.discard();
    staged.discard();
    expect(listFiles(dir)).toEqual([]);
  });

  it('an empty rejects CSV is its header', async () => {
    const dir = tempDir();
    const staged = new StagedOutputs();
    const rejects = new RejectsWriter(staged.add(join(dir, 'r.csv')));
    await rejects.end();
    staged.commit();
    expect(readFileSync(join(dir, 'r.csv'), 'utf8')).toBe('file,offset,reason,raw\n');
  });
});

describe('billText', () => {
  it('one LF-terminated line per user; empty bill is empty', () => {
    expect(billText({ decimals: 2, users: [], totalDurationMs: 0n, totalCostPicos: 0n, totalBilled: 0n })).toBe('');
    expect(
      billText({
        decimals: 2,
        users: [{ user: 'user1', durationMs: 7235n, costPicos: 0n, costRounded: 4250n, tasks: [] }],
        totalDurationMs: 7235n,
        totalCostPicos: 0n,
        totalBilled: 4250n,
      }),
    ).toBe('user1: total_duration=7235ms, total_cost=42.50\n');
  });
});
