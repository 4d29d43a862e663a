import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { systemCode, systemReason } from './errors.js';
import { cleanupTempDirs, tempDir } from '../../fixtures/harness.js';


afterAll(cleanupTempDirs);

describe('systemCode and systemReason', () => {
  it('name a real system error by its code, in words', () => {
    const dir = tempDir();
    let err: unknown;
    try {
      mkdirSync(join(dir, 'missing', 'x'));
    } catch (e) {
      err = e;
    }
    expect(systemCode(err)).toBe('ENOENT');
    expect(systemReason(err)).toBe('no such file or directory (ENOENT)');
  });

  it('name a disk quota exceeded EDQUOT, which Node 20 reports as an unknown error -122', () => {
    // As Node 20.20 gives it for EDQUOT (libuv has no name for it).
    const quota = Object.assign(new Error("Unknown system error -122: Unknown system error -122, mkdir '/q/n'"), {
      code: 'Unknown system error -122',
      errno: -122,
      syscall: 'mkdir',
    });
    expect(systemCode(quota)).toBe('EDQUOT');
    expect(systemReason(quota)).toBe('disk quota exceeded (EDQUOT)');
    // Another unknown errno stays as Node names it.
    const other = Object.assign(new Error('Unknown system error -999: Unknown system error -999, open'), { code: 'Unknown system error -999', errno: -999 });
    expect(systemCode(other)).toBe('Unknown system error -999');
    expect(systemReason('plain text')).toBe('plain text');
    expect(systemCode(new Error('no code'))).toBeUndefined();
  });
});
