import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTempDir, makeTempDir } from './temp-dir.js';
import { RunFailure } from './errors.js';
import { cleanupTempDirs, tempDir } from '../../fixtures/harness.js';

afterAll(cleanupTempDirs);

describe('makeTempDir', () => {
  it('makes a new directory under the parent', () => {
    const parent = tempDir();
    const dir = makeTempDir('mr-test-', 'a test', parent);
    expect(dir.startsWith(join(parent, 'mr-test-'))).toBe(true);
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  it('a parent that is missing or a file is a run failure saying where and what to change', () => {
    const parent = tempDir();
    writeFileSync(join(parent, 'f'), 'x');
    for (const bad of [join(parent, 'missing'), join(parent, 'f')]) {
      expect(() => makeTempDir('mr-test-', 'request ids spilled to disk', bad)).toThrow(RunFailure);
      expect(() => makeTempDir('mr-test-', 'request ids spilled to disk', bad)).toThrow(
        new RegExp(`for request ids spilled to disk in ${bad} \\((ENOENT|ENOTDIR)\\): set TMPDIR to a writable directory`),
      );
    }
    expect(existsSync(join(parent, 'missing'))).toBe(false);
  });

  it('ensureTempDir makes a named directory once, and fails as makeTempDir does', () => {
    const parent = tempDir();
    const dir = join(parent, 'mr-usage-1');
    ensureTempDir(dir, 'users spilled to disk');
    ensureTempDir(dir, 'users spilled to disk');
    expect(statSync(dir).isDirectory()).toBe(true);
    writeFileSync(join(parent, 'f'), 'x');
    expect(() => ensureTempDir(join(parent, 'f', 'mr-usage-2'), 'users spilled to disk')).toThrow(RunFailure);
    expect(() => ensureTempDir(join(parent, 'f', 'mr-usage-2'), 'users spilled to disk')).toThrow(
      new RegExp(`for users spilled to disk in ${join(parent, 'f')} \\(ENOTDIR\\): set TMPDIR to a writable directory`),
    );
  });
});
