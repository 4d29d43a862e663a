/**
 * A full file system met where prepareOutputs checks that each output there can be replaced
 * (a hard link of it, which on ext4 or xfs can need a new directory block): a run failure
 * (exit 1, as any full disk), not a bad --out. No tmpfs fills that way, so the link is made to
 * fail here, in this file only.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { RunFailure, UsageError } from '../errors.js';
import { prepareOutputs } from './preflight.js';
import { cleanupTempDirs, listFiles, tempDir } from '../../../fixtures/harness.js';

/** The errno a link of an output (not the lock's) fails with; none while undefined. */
let failing: { code: string; errno: number; words: string } | undefined;

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    linkSync: (from: fs.PathLike, to: fs.PathLike) => {
      if (failing !== undefined && String(from).endsWith('billing.txt')) {
        const { code, errno, words } = failing;
        throw Object.assign(new Error(`${code}: ${words}, link '${String(from)}' -> '${String(to)}'`), { code, errno, syscall: 'link' });
      }
      return real.linkSync(from, to);
    },
  };
});

afterAll(cleanupTempDirs);

describe('prepareOutputs on a full file system at the check that the outputs can be replaced', () => {
  it.each([
    [{ code: 'ENOSPC', errno: -28, words: 'no space left on device' }, /no space left on device \(ENOSPC\)/, RunFailure],
    // Node 20 names EDQUOT so (libuv has no name for it).
    [{ code: 'Unknown system error -122', errno: -122, words: 'Unknown system error -122' }, /disk quota exceeded \(EDQUOT\)/, RunFailure],
    // Not a full disk: the file cannot be replaced (immutable, mounted over).
    [{ code: 'EPERM', errno: -1, words: 'operation not permitted' }, /cannot be replaced .*immutable/, UsageError],
  ] as const)('%o → %s, the previous set as it was', (error, message, kind) => {
    const dir = tempDir();
    for (const name of ['billing.txt', 'billing.detail.csv']) fs.writeFileSync(join(dir, name), `old ${name}\n`);
    const before = listFiles(dir);
    failing = error;
    try {
      expect(() => prepareOutputs(join(dir, 'billing.txt')).release()).toThrow(message);
      try {
        prepareOutputs(join(dir, 'billing.txt')).release();
      } catch (err) {
        expect(err).toBeInstanceOf(kind);
      }
    } finally {
      failing = undefined;
    }
    expect(listFiles(dir)).toEqual(before);
    expect(fs.readFileSync(join(dir, 'billing.txt'), 'utf8')).toBe('old billing.txt\n');
  });
});
