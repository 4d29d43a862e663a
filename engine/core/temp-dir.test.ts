import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './temp-dir.js';
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
});
