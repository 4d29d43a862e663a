import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensureTempDir, makeTempDir, namedTempPath, removeDeadRunsScratch } from './temp-dir.js';
import { RunFailure } from './errors.js';
import { cleanupTempDirs, tempDir } from '../../fixtures/harness.js';

afterAll(cleanupTempDirs);

describe('makeTempDir', () => {
  it('makes a new directory under the parent, named with the pid of the run', () => {
    const parent = tempDir();
    const dir = makeTempDir('mr-test-', 'a test', parent);
    expect(dir.startsWith(join(parent, `mr-test-${process.pid}-`))).toBe(true);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(namedTempPath('mr-usage-', 'job', parent)).toBe(join(parent, `mr-usage-${process.pid}-job`));
  });

  it('removeDeadRunsScratch removes the scratch directories of runs that no longer run, and only those', () => {
    const parent = tempDir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const leftover = ['stdin', 'stdout', 'shuffle', 'dedupe', 'usage'].map((kind) => `mr-${kind}-${dead}-abc`);
    const kept = [`mr-stdin-${process.pid}-live`, 'mr-stdin-1-init', `mr-other-${dead}-x`, `mr-dedupe-test-${dead}`, 'notes'];
    for (const name of [...leftover, ...kept]) mkdirSync(join(parent, name));
    writeFileSync(join(parent, leftover[0]!, 'stdin'), 'a spooled copy of standard input');
    expect(removeDeadRunsScratch(parent).sort()).toEqual(leftover.map((n) => join(parent, n)).sort());
    expect(readdirSync(parent).sort()).toEqual(kept.sort());
    expect(removeDeadRunsScratch(join(parent, 'missing'))).toEqual([]);
  });

  it('a parent that is missing or a file is a run failure saying where and what to change', () => {
    const parent = tempDir();
    writeFileSync(join(parent, 'f'), 'x');
    for (const bad of [join(parent, 'missing'), join(parent, 'f')]) {
      expect(() => makeTempDir('mr-test-', 'request ids spilled to disk', bad)).toThrow(RunFailure);
      expect(() => makeTempDir('mr-test-', 'request ids spilled to disk', bad)).toThrow(
        new RegExp(`for request ids spilled to disk in ${bad}: (no such file or directory \\(ENOENT\\)|not a directory \\(ENOTDIR\\)); set TMPDIR to a writable directory`),
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
      new RegExp(`for users spilled to disk in ${join(parent, 'f')}: not a directory \\(ENOTDIR\\); set TMPDIR to a writable directory`),
    );
  });
});
