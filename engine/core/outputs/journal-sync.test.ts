/**
 * A commit whose journal is put in place but whose folder's flush fails (the disk said EIO, or
 * a file system that cannot flush a folder): the run fails naming the bill, nothing is
 * renamed, and no journal is left behind, so the next run starts over instead of refusing to
 * complete a commit that never began.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunFailure } from '../errors.js';
import { StagedOutputs } from './staged.js';
import { journalPath, rollForward } from './journal.js';
import { cleanupTempDirs, listFiles, tempDir } from '../../../fixtures/harness.js';

vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  // A folder's flush fails; a file's goes through.
  const fsyncSync = (fd: number) => {
    if (fs.fstatSync(fd).isDirectory()) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', errno: -5, syscall: 'fsync' });
    return fs.fsyncSync(fd);
  };
  return { ...fs, default: { ...fs, fsyncSync }, fsyncSync };
});

afterAll(cleanupTempDirs);

describe('writeJournal, when the folder cannot be flushed', () => {
  it('fails the commit naming the bill, leaves the previous set and no journal; the next run finds nothing to complete', () => {
    const dir = tempDir();
    const names = ['billing.detail.csv', 'billing.txt'];
    for (const n of names) writeFileSync(join(dir, n), `old ${n}\n`);
    const journal = journalPath(join(dir, 'billing.txt'));
    const staged = new StagedOutputs(journal);
    for (const n of names) staged.add(join(dir, n)).write(`new ${n}\n`);
    expect(() => staged.commit()).toThrow(RunFailure);
    staged.discard();
    expect(existsSync(journal)).toBe(false);
    expect(listFiles(dir)).toEqual([...names].sort());
    for (const n of names) expect(readFileSync(join(dir, n), 'utf8')).toBe(`old ${n}\n`);
    expect(rollForward(journal)).toEqual({ completed: [], abandoned: [] });
  });

  it('names the bill in its message, not the journal', () => {
    const dir = tempDir();
    const journal = journalPath(join(dir, 'billing.txt'));
    const staged = new StagedOutputs(journal);
    staged.add(join(dir, 'billing.txt')).write('x\n');
    expect(() => staged.commit()).toThrow(new RegExp(`^cannot write ${join(dir, 'billing.txt').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*EIO`));
    staged.discard();
  });
});
