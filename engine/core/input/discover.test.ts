import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverInputs, globMatcher } from './discover.js';
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
    expect(d.skipped.count).toBe(3);
    expect(d.skipped.examples.map(rel)).toEqual(['data.json', 'notes.md', 'x.gz']);
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

  it('a file reached by several paths is kept under the first in path order, whatever the order of the arguments', async () => {
    const root = tree({ 'real/z.jsonl': 'z', 'm.jsonl': 'm', 'd/x.log': 'x' });
    symlinkSync(join(root, 'real/z.jsonl'), join(root, 'a.jsonl'));
    symlinkSync(join(root, 'd'), join(root, 'c-link'));
    const orders = [
      [join(root, 'a.jsonl'), join(root, 'm.jsonl'), join(root, 'real'), join(root, 'c-link'), join(root, 'd')],
      [join(root, 'd'), join(root, 'real'), join(root, 'm.jsonl'), join(root, 'c-link'), join(root, 'a.jsonl')],
      [join(root, 'c-link'), join(root, 'real'), join(root, 'a.jsonl'), join(root, 'd'), join(root, 'm.jsonl')],
    ];
    for (const args of orders) {
      const d = await discoverInputs(args);
      expect(d.files.map((f) => f.path.slice(root.length + 1))).toEqual(['a.jsonl', 'c-link/x.log', 'm.jsonl']);
      expect(d.duplicates.map((p) => [p.path, p.readAs].map((x) => x.slice(root.length + 1))).sort()).toEqual([
        ['d/x.log', 'c-link/x.log'],
        ['real/z.jsonl', 'a.jsonl'],
      ]);
      expect(d.emptyArguments).toEqual([]);
    }
  });

  it('a path below a directory is the argument as given joined with it, not normalized: path order as the arguments were written', async () => {
    const root = tree({ 's/d/m.jsonl': 'm', 's/0.jsonl': '0' });
    const cwd = process.cwd();
    process.chdir(join(root, 's'));
    try {
      // './d/m.jsonl' sorts before '0.jsonl' ('.' < '0'), whether d is named as a directory or the file itself.
      for (const args of [['./d', '0.jsonl'], ['./d/m.jsonl', '0.jsonl'], ['0.jsonl', './d/']]) {
        expect((await discoverInputs(args)).files.map((f) => f.path)).toEqual(['./d/m.jsonl', '0.jsonl']);
      }
      expect((await discoverInputs(['.//d', 'd/.'])).files.map((f) => f.path)).toEqual(['.//d/m.jsonl']);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a name that is not UTF-8 is an InputError naming its bytes', async () => {
    const root = tree({ 'd/a.log': 'x' });
    writeFileSync(Buffer.concat([Buffer.from(join(root, 'd/')), Buffer.from([0xff, 0x2e, 0x6c, 0x6f, 0x67])]), 'x');
    await expect(discoverInputs([join(root, 'd')])).rejects.toBeInstanceOf(InputError);
    await expect(discoverInputs([join(root, 'd')])).rejects.toThrow(/d\/\\xff\.log: its name is not UTF-8/);
  });

  it('a name that is not UTF-8, given as an argument (Node reads it with U+FFFD): says why it names no file', async () => {
    const root = tree({ 'd/a.log': 'x' });
    writeFileSync(Buffer.concat([Buffer.from(join(root, 'd/')), Buffer.from([0xff, 0x2e, 0x6c, 0x6f, 0x67])]), 'x');
    await expect(discoverInputs([join(root, 'd', '\uFFFD.log')])).rejects.toThrow(/\uFFFD\.log: no such file; if its name is not UTF-8, it cannot be named on the command line: rename it$/);
  });

  it('an argument holding a variable never expanded ($(NAME), as Kubernetes leaves one the pod lacks; ${NAME}): a run failure naming the variable', async () => {
    const root = tree({ 'd/a.log': 'x' });
    for (const [arg, name] of [['$(LOG_SOURCE_PATH_AWS)', 'LOG_SOURCE_PATH_AWS'], [join(root, '${LOGS}/a.log'), 'LOGS']] as const) {
      const run = discoverInputs([arg]);
      await expect(run).rejects.toBeInstanceOf(InputError);
      await expect(discoverInputs([arg])).rejects.toThrow(`cannot read input ${arg}: no such file, and it holds a variable that was never expanded: set ${name} in the environment`);
    }
    // Set in mr's environment, yet not expanded (single quotes in a shell): said so, not "set it".
    process.env['MR_TEST_LOGS'] = root;
    try {
      await expect(discoverInputs(['${MR_TEST_LOGS}/d/a.log'])).rejects.toThrow(
        'cannot read input ${MR_TEST_LOGS}/d/a.log: no such file, and it holds a variable that was never expanded: MR_TEST_LOGS is set, but mr does not expand variables',
      );
    } finally {
      delete process.env['MR_TEST_LOGS'];
    }
    // A file whose name holds such text is read as any other.
    const named = tree({ '$(X).log': '' });
    await expect(discoverInputs([join(named, '$(X).log')])).resolves.toBeDefined();
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

describe('rotated logs', () => {
  it('rotation suffixes (.N, -YYYYMMDD) then optionally .gz are read in directories, with the format of the extension before them', async () => {
    const root = tree({
      'api.log': 'x',
      'api.log.1': 'x',
      'api.log.2.gz': 'x',
      'api.log-20251201.gz': 'x',
      'api.log-20251202': 'x',
      'x.csv.3': 'x',
      'e.jsonl.10.gz': 'x',
      'n.ndjson-20250101': 'x',
      't.TXT.1.GZ': 'x',
      // not logs: a date of another length or shape, a suffix after .gz, a suffix that is not a rotation
      'api.log-2025120': 'x',
      'api.log-202512011': 'x',
      'api.log-2025-12-01': 'x',
      'api.log.gz.1': 'x',
      'api.log.1.bak': 'x',
      'api.log.old': 'x',
      'api.log.1.2': 'x',
    });
    const d = await discoverInputs([root]);
    const rel = (p: string) => p.slice(root.length + 1);
    expect(d.files.map((f) => [rel(f.path), f.format, f.gzip])).toEqual([
      ['api.log', 'space', false],
      ['api.log-20251201.gz', 'space', true],
      ['api.log-20251202', 'space', false],
      ['api.log.1', 'space', false],
      ['api.log.2.gz', 'space', true],
      ['e.jsonl.10.gz', 'jsonl', true],
      ['n.ndjson-20250101', 'jsonl', false],
      ['t.TXT.1.GZ', 'space', true],
      ['x.csv.3', 'csv', false],
    ]);
    expect(d.skipped.count).toBe(7);
  });

  it('a rotated file named as an argument is read; an unknown name as an argument is still a UsageError naming the rule', async () => {
    const root = tree({ 'api.log.1': 'x', 'api.log.old': 'x' });
    expect((await discoverInputs([join(root, 'api.log.1')])).files.map((f) => f.format)).toEqual(['space']);
    await expect(discoverInputs([join(root, 'api.log.old')])).rejects.toBeInstanceOf(UsageError);
    await expect(discoverInputs([join(root, 'api.log.old')])).rejects.toThrow(/rotation suffix \(\.1, \.2, … or -YYYYMMDD\)/);
  });
});

describe('skipped files', () => {
  it('are counted, with the first three named and the first distinct extensions, however many there are', async () => {
    const files: Record<string, string> = { 'a.log': 'x' };
    for (let i = 0; i < 50; i++) files[`doc${String(i).padStart(2, '0')}.md`] = 'x';
    files['z.json'] = 'x';
    files['README'] = 'x';
    const root = tree(files);
    const d = await discoverInputs([root]);
    const rel = (p: string) => p.slice(root.length + 1);
    expect(d.skipped.count).toBe(52);
    expect(d.skipped.examples.map(rel)).toEqual(['README', 'doc00.md', 'doc01.md']);
    expect(d.skipped.extensions).toEqual(['no extension', '.md', '.json']);
    expect(d.skipped.moreExtensions).toBe(false);
    files['zz.yaml'] = 'x';
    expect((await discoverInputs([tree(files)])).skipped.moreExtensions).toBe(true);
    expect(d.files.map((f) => rel(f.path))).toEqual(['a.log']);
  });

  it('mr’s own working files beside outputs in the directory are passed over; other dot files are read', async () => {
    const line = '2025-05-02T10:00:00Z u1 login 200 5ms\n';
    const root = tree({
      'a.log': line,
      '.hidden.log': line,
      '.mr-staging-123-0a1b2c3d-billing.txt': line,
      '.mr-probe-123-0a1b2c3d': '',
      '.billing.mr-lock': '{}',
      '.billing.mr-lock.123.tmp': '{}',
      '.billing.mr-commit': '{}',
      '.billing.mr-commit.123.tmp': '{}',
    });
    const d = await discoverInputs([root]);
    expect(d.files.map((f) => f.path)).toEqual([join(root, '.hidden.log'), join(root, 'a.log')]);
    expect(d.skipped.count).toBe(0);
  });

  it('a FIFO named like a log is skipped as what it is, not for its name', async () => {
    const root = tree({ 'a.log': 'x' });
    execFileSync('mkfifo', [join(root, 'pipe.log')]);
    const d = await discoverInputs([root]);
    expect(d.skipped.count).toBe(1);
    expect(d.skipped.extensions).toEqual(['not a regular file']);
    expect(d.files.map((f) => f.path)).toEqual([join(root, 'a.log')]);
  });
});

describe('--include / --exclude', () => {
  const layout = {
    'top.log': 'x',
    'api/a.log': 'x',
    'api/sub/b.log': 'x',
    'api/sub/deeper/c.csv': 'x',
    'web/a.log': 'x',
    'web/A.LOG': 'x',
    '.hidden/h.log': 'x',
    'api/.dot.log': 'x',
    'api/notes.md': 'x',
  };
  async function found(include: string[], exclude: string[] = []) {
    const root = tree(layout);
    const d = await discoverInputs([root], { include, exclude });
    return { rel: d.files.map((f) => f.path.slice(root.length + 1)), d };
  }

  it('none given: every log is read, dot files and dot directories included', async () => {
    expect((await found([])).rel).toEqual(['.hidden/h.log', 'api/.dot.log', 'api/a.log', 'api/sub/b.log', 'api/sub/deeper/c.csv', 'top.log', 'web/A.LOG', 'web/a.log']);
  });

  it('* stays within one segment; ** spans segments (zero or more)', async () => {
    expect((await found(['*.log'])).rel).toEqual(['top.log']);
    expect((await found(['api/*.log'])).rel).toEqual(['api/.dot.log', 'api/a.log']);
    expect((await found(['api/**'])).rel).toEqual(['api/.dot.log', 'api/a.log', 'api/sub/b.log', 'api/sub/deeper/c.csv']);
    expect((await found(['**/*.log'])).rel).toEqual(['.hidden/h.log', 'api/.dot.log', 'api/a.log', 'api/sub/b.log', 'top.log', 'web/a.log']);
    expect((await found(['api/**/*.csv'])).rel).toEqual(['api/sub/deeper/c.csv']);
  });

  it('? matches one character within a segment, not a slash', async () => {
    expect((await found(['???/a.log'])).rel).toEqual(['api/a.log', 'web/a.log']);
    expect((await found(['api?a.log'])).rel).toEqual([]);
  });

  it('dot files match like any other file', async () => {
    expect((await found(['api/*'])).rel).toEqual(['api/.dot.log', 'api/a.log']);
    expect((await found(['*/*.log'])).rel).toEqual(['.hidden/h.log', 'api/.dot.log', 'api/a.log', 'web/a.log']);
    expect((await found([], ['**/.*'])).rel).toEqual(['.hidden/h.log', 'api/a.log', 'api/sub/b.log', 'api/sub/deeper/c.csv', 'top.log', 'web/A.LOG', 'web/a.log']);
    expect((await found([], ['.hidden/**'])).rel).toEqual(['api/.dot.log', 'api/a.log', 'api/sub/b.log', 'api/sub/deeper/c.csv', 'top.log', 'web/A.LOG', 'web/a.log']);
    expect((await found(['**/h.log'])).rel).toEqual(['.hidden/h.log']);
  });

  it('matching is case-sensitive', async () => {
    expect((await found(['web/*.log'])).rel).toEqual(['web/a.log']);
    expect((await found(['web/*.LOG'])).rel).toEqual(['web/A.LOG']);
    expect((await found(['API/**'])).rel).toEqual([]);
  });

  it('repeated flags: read when some include matches and no exclude does', async () => {
    expect((await found(['api/**', 'web/**'])).rel).toEqual(['api/.dot.log', 'api/a.log', 'api/sub/b.log', 'api/sub/deeper/c.csv', 'web/A.LOG', 'web/a.log']);
    expect((await found(['api/**', 'web/**'], ['**/sub/**', 'web/A.LOG'])).rel).toEqual(['api/.dot.log', 'api/a.log', 'web/a.log']);
    expect((await found([], ['api/**', '*.log'])).rel).toEqual(['.hidden/h.log', 'web/A.LOG', 'web/a.log']);
  });

  it('filtered logs are counted apart from files that are not logs', async () => {
    const { d } = await found(['api/*.log']);
    expect(d.filtered.count).toBe(6);
    expect(d.skipped.count).toBe(1); // api/notes.md
  });

  it('the glob is matched against the path relative to its argument, and a file named as an argument is always read', async () => {
    const root = tree(layout);
    const d = await discoverInputs([join(root, 'api'), join(root, 'web/A.LOG')], { include: ['sub/*.log'] });
    expect(d.files.map((f) => f.path.slice(root.length + 1))).toEqual(['api/sub/b.log', 'web/A.LOG']);
    const none = await discoverInputs([join(root, 'top.log')], { exclude: ['**'] });
    expect(none.files.length).toBe(1);
  });

  it('classes as in a shell: [0-9], and [!…] and [^…] negated (never the class of `!`)', () => {
    const m = (g: string) => globMatcher('--exclude', [g]);
    expect(['api.log.1', 'api.log.2', 'api.log.!'].filter(m('api.log.[!1]'))).toEqual(['api.log.2', 'api.log.!']);
    expect(['api.log.1', 'api.log.2', 'api.log.!'].filter(m('api.log.[^1]'))).toEqual(['api.log.2', 'api.log.!']);
    expect(['x/f1.log', 'x/g1.log'].filter(m('x/[!f]*.log'))).toEqual(['x/g1.log']);
    expect(['a1.log', 'ab.log'].filter(m('a[0-9].log'))).toEqual(['a1.log']);
    // A negated class stays within its path segment.
    expect(m('a[!x]b')('a/b')).toBe(false);
  });

  it('an empty glob is a UsageError', () => {
    expect(() => globMatcher('--include', [''])).toThrow(UsageError);
  });
});
