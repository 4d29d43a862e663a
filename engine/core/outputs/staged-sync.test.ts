/**
 * A flush begun on another thread (StagedFile.syncSoon) that fails: the disk said EIO. The
 * failure is not lost (Linux reports a failed flush once, to whoever asked): the next
 * syncSoon and close() fail, naming the output, and nothing is committed.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RunFailure } from '../errors.js';
import { StagedFile, StagedOutputs } from './staged.js';
import { cleanupTempDirs, listFiles, tempDir } from '../../../fixtures/harness.js';

vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const fdatasync = (_fd: number, done: (err: NodeJS.ErrnoException | null) => void) =>
    setImmediate(() => done(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' })));
  return { ...fs, default: { ...fs, fdatasync }, fdatasync };
});

afterAll(cleanupTempDirs);

describe('StagedFile.syncSoon, when the flush fails', () => {
  it('fails the next flush asked and the commit, naming the output; nothing is committed', async () => {
    const dir = tempDir();
    const staged = new StagedOutputs();
    const f: StagedFile = staged.add(join(dir, 'billing.detail.csv'));
    f.write('user,task\n');
    await f.syncSoon(); // settles: the failure is kept
    expect(() => f.syncSoon()).toThrow(RunFailure);
    expect(() => f.syncSoon()).toThrow(/billing\.detail\.csv.*EIO/);
    expect(() => staged.commit()).toThrow(/cannot write \S*billing\.detail\.csv.*EIO/);
    staged.discard();
    expect(existsSync(join(dir, 'billing.detail.csv'))).toBe(false);
    expect(listFiles(dir)).toEqual([]);
  });

  it('a file discarded while a flush runs is closed once the flush ends, and removed', async () => {
    const dir = tempDir();
    const f = new StagedFile(join(dir, 'billing.txt'));
    f.write('x\n');
    const flushing = f.syncSoon();
    f.discard();
    expect(listFiles(dir)).toEqual([]);
    await flushing;
  });
});
