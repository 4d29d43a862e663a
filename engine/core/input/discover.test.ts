import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverInputs } from './discover.js';
import { InputError, UsageError } from '../errors.js';
import { cleanupTempDirs, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

function tree(files: Record<string, string>): string {
  const root = tempDir();
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), content);
  }
  return root;
}

describe('discoverInputs', () => {
  it("walks directories recursively in path (UTF-8 byte) order ('-' < '/'), keeps supported extensions, skips others", async () => {
    const root = tree({
      'b.log': 'x',
      'a/z.csv': 'x',
      'a/y.jsonl.gz': 'x',
      'A.txt': 'x',
      'é.ndjson': 'x',
      'a-b.log': 'x',
      'notes.md': 'x',
      'a/deep/er/c.TXT': 'x',
      'data.json': 'x',
      'x.gz': 'x',
    });
    const d = await discoverInputs([root]);
    const rel = (p: string) => p.slice(root.length + 1);
    expect(d.files.map((f) => rel(f.path))).toEqual(['A.txt', 'a-b.log', 'a/deep/er/c.TXT', 'a/y.jsonl.gz', 'a/z.csv', 'b.log', 'é.ndjson']);
    expect(d.files.map((f) => [f.format, f.gzip])).toEqual([
      ['space', false],
      ['space', false],
      ['space', false],
      ['jsonl', true],
      ['csv', false],
      ['space', false],
      ['jsonl', false],
    ]);
    expect(d.skipped.map(rel).sort()).toEqual(['data.json', 'notes.md', 'x.gz']);
  });

  it('a file reached twice (named twice, through a symlink, a directory symlink, or a dir and a file) is read once', async () => {
    const root = tree({ 'd/a.log': 'aaa', 'd/b.log': 'b' });
    symlinkSync(join(root, 'd/a.log'), join(root, 'd/link.log'));
    symlinkSync(join(root, 'd'), join(root, 'dirlink'));
    const d = await discoverInputs([join(root, 'd'), join(root, 'd/a.log'), join(root, 'dirlink'), join(root, 'd/b.log')]);
    expect(d.files.map((f) => f.path.slice(root.length + 1))).toEqual(['d/a.log', 'd/b.log']);
    expect(d.files[0]!.size).toBe(3);
    expect(d.duplicates.length).toBeGreaterThan(0);
  });

  it('a symlink loop terminates', async () => {
    const root = tree({ 'd/a.log': 'x', 'd/sub/b.log': 'x' });
    symlinkSync(join(root, 'd'), join(root, 'd/sub/up'));
    symlinkSync('.', join(root, 'd/self'));
    const d = await discoverInputs([join(root, 'd')]);
    expect(d.files.map((f) => f.path.slice(root.length + 1))).toEqual(['d/a.log', 'd/sub/b.log']);
  });

  it('a missing path is an InputError (exit 1)', async () => {
    const root = tempDir();
    await expect(discoverInputs([join(root, 'nope.log')])).rejects.toBeInstanceOf(InputError);
    await expect(discoverInputs([join(root, 'nope.log')])).rejects.toThrow(/nope\.log/);
  });

  it('a file named on the command line with an unsupported extension is a UsageError (exit 2)', async () => {
    const root = tree({ 'notes.md': 'x' });
    await expect(discoverInputs([join(root, 'notes.md')])).rejects.toBeInstanceOf(UsageError);
  });

  it('an empty directory gives no files', async () => {
    const root = tempDir();
    expect((await discoverInputs([root])).files).toEqual([]);
  });
});
