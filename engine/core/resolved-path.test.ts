import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolvedPath } from './resolved-path.js';
import { cleanupTempDirs, tempDir } from '../../fixtures/harness.js';

afterAll(cleanupTempDirs);

describe('resolvedPath: `..` as the file system resolves it', () => {
  it('after a link, `..` leads above the link\'s target; folders that do not exist are tidied as text; the own name stays as given', () => {
    const root = realpathSync(tempDir());
    mkdirSync(join(root, 'real', 'sub'), { recursive: true });
    mkdirSync(join(root, 'decoy'));
    symlinkSync('../real/sub', join(root, 'decoy', 'link'));
    symlinkSync('elsewhere.log', join(root, 'real', 'named.log'));
    // (Built as text: path.join would tidy the `..` away first.)
    expect(resolvedPath(`${root}/decoy/link/../a.log`)).toBe(join(root, 'real', 'a.log'));
    expect(resolvedPath(`${root}/decoy/link/new/../../b/c.txt`)).toBe(join(root, 'real', 'b', 'c.txt'));
    expect(resolvedPath(`${root}/decoy/link/../named.log`)).toBe(join(root, 'real', 'named.log'));
    // Without `..`: `.` and empty parts dropped, links kept as spelled, a relative path stays relative.
    expect(resolvedPath(`${root}//decoy/./link/a.log`)).toBe(join(root, 'decoy', 'link', 'a.log'));
    expect(resolvedPath('./o//billing.txt')).toBe('o/billing.txt');
  });

  it('resolves a folder once for many of its files; throws for a folder that exists but is not one', () => {
    const root = realpathSync(tempDir());
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'file'), '');
    const folders = new Map<string, string>();
    expect(resolvedPath(`${root}/d/../x.log`, folders)).toBe(join(root, 'x.log'));
    expect([...folders]).toEqual([[`${root}/d/..`, root]]);
    folders.set(`${root}/d/..`, '/cached');
    expect(resolvedPath(`${root}/d/../y.log`, folders)).toBe('/cached/y.log');
    expect(() => resolvedPath(`${root}/file/../z.log`)).toThrow(/ENOTDIR/);
  });

  it('resolves part by part as mkdir -p and the kernel do: `..` after missing folders climbs back into existing ones, links there resolved', () => {
    const root = realpathSync(tempDir());
    mkdirSync(join(root, 'real', 'sub'), { recursive: true });
    mkdirSync(join(root, 'x'));
    symlinkSync('real/sub', join(root, 'link'));
    expect(resolvedPath(`${root}/x/new/../../link/../b.txt`)).toBe(join(root, 'real', 'b.txt'));
    expect(resolvedPath(`${root}/x/new/more/../../../link/c/d/../e.txt`)).toBe(join(root, 'real', 'sub', 'c', 'e.txt'));
    // Relative paths come back absolute, from the working folder as it resolves.
    expect(resolvedPath('a/../b.txt')).toBe(join(realpathSync(process.cwd()), 'b.txt'));
    expect(resolvedPath('/../b.txt')).toBe('/b.txt');
  });

  it('throws as the file system would for a part that exists but leads nowhere: a file, a link to a file, a link to nothing, a loop', () => {
    const root = realpathSync(tempDir());
    writeFileSync(join(root, 'file'), '');
    symlinkSync('file', join(root, 'to-file'));
    symlinkSync('nowhere/deeper', join(root, 'dangling'));
    symlinkSync('loop', join(root, 'loop'));
    expect(() => resolvedPath(`${root}/file/x/../z.log`)).toThrow(/ENOTDIR/);
    expect(() => resolvedPath(`${root}/to-file/../z.log`)).toThrow(/ENOTDIR/);
    expect(() => resolvedPath(`${root}/dangling/../z.log`)).toThrow(/ENOENT: symbolic link to nothing/);
    expect(() => resolvedPath(`${root}/loop/../z.log`)).toThrow(/ELOOP/);
  });
});
