/**
 * SPEC "Input" through the CLI, for the naive and the parallel engine: rotated log names,
 * --include/--exclude, one warning for skipped files, empty input (exit 1 unless --allow-empty),
 * and `-` (standard input, --format) billed byte-identically to the same bytes read from a file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ENGINE_ARGS, cleanupTempDirs, listFiles, repoRoot, reportedErrors, runCli, tempDir } from '../fixtures/harness.js';

const REFERENCE = resolve(repoRoot, '../shared/reference/api_logs.txt');
const RATES = 'RATE_login=0.005\nRATE_getUserProfile=0.002\nRATE_createOrder=0.010\nRATE_updateInventory=0.008\nRATE_deleteOrder=0.007\n';
const ENGINES_UNDER_TEST = ENGINE_ARGS.map((a) => a.join(' '));

let dir: string;
let runs = 0;
/** The reference sample in four parts (whole lines each). */
let parts: Buffer[];

beforeAll(async () => {
  dir = tempDir('mr-input-');
  writeFileSync(join(dir, '.env'), RATES);
  const lines = readFileSync(REFERENCE, 'utf8').split('\n').filter((l) => l !== '');
  const quarter = Math.ceil(lines.length / 4);
  parts = [0, 1, 2, 3].map((i) => Buffer.from(`${lines.slice(i * quarter, (i + 1) * quarter).join('\n')}\n`));
  const gen = (out: string, extra: string[] = []) =>
    runCli(['generate', '--out', out, '--lines', '3000', '--users', '200', '--bad', '0.005', '--seed', '7', ...extra], { cwd: dir });
  mkdirSync(join(dir, 'gen'));
  for (const r of await Promise.all([gen('gen/g.csv'), gen('gen/g.jsonl')])) expect(r.code, r.stderr).toBe(0);
});
afterAll(cleanupTempDirs);

function write(files: Record<string, string | Buffer>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
}

/** Runs `mr aggregate` in the shared dir with a fresh --out; the outputs are read back by name. */
async function aggregate(args: string[], opts: { stdin?: Buffer; env?: Record<string, string> } = {}) {
  const out = `out-${++runs}`;
  const r = await runCli(['aggregate', ...args, '--out', `${out}/billing.txt`, '--no-progress'], { cwd: dir, stdin: opts.stdin, env: opts.env });
  const file = (name: string) => join(dir, out, name);
  const read = (name: string) => readFileSync(file(name), 'utf8');
  return { ...r, out, exists: (name: string) => existsSync(file(name)), read, summary: () => JSON.parse(read('billing.summary.json')) as Record<string, any> };
}

describe('rotated log names', () => {
  beforeAll(() => {
    write({
      'plain/a.log': parts[0]!,
      'plain/b.log': parts[1]!,
      'plain/c.log.gz': gzipSync(parts[2]!),
      'plain/d.log.gz': gzipSync(parts[3]!),
      'rotated/api.log': parts[0]!,
      'rotated/api.log.1': parts[1]!,
      'rotated/api.log.2.gz': gzipSync(parts[2]!),
      'rotated/api.log-20251201.gz': gzipSync(parts[3]!),
    });
  });

  it.each(ENGINES_UNDER_TEST)('%s: api.log.1, api.log.2.gz, api.log-20251201.gz are billed exactly as the same bytes under plain names', async (engine) => {
    const args = engine.split(' ');
    const [whole, plain, rotated] = await Promise.all([aggregate([REFERENCE, ...args]), aggregate(['plain', ...args]), aggregate(['rotated', ...args])]);
    for (const r of [whole, plain, rotated]) expect(r.code, r.stderr).toBe(0);
    expect(rotated.summary().files).toBe(4);
    expect(rotated.summary().records).toBe(10_000);
    expect(rotated.summary().skipped_files).toBe(0);
    expect(rotated.read('billing.txt')).toBe(whole.read('billing.txt'));
    expect(rotated.read('billing.txt')).toBe(plain.read('billing.txt'));
    expect(rotated.read('billing.detail.csv')).toBe(plain.read('billing.detail.csv'));
    expect(rotated.stderr).not.toMatch(/skipped/);
  });

  it('a rotated file named as an argument is read; an unknown name as an argument is exit 2 naming the rule', async () => {
    write({ 'named/x.csv.3': 'timestamp,user,task,status,duration_ms\n2025-05-02T10:00:00Z,u1,login,200,100\n', 'named/x.csv.old': 'x' });
    const ok = await aggregate(['named/x.csv.3']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.read('billing.txt')).toBe('u1: total_duration=100ms, total_cost=0.50\n');
    const bad = await aggregate(['named/x.csv.old']);
    expect(bad.code, bad.stderr).toBe(2);
    expect(reportedErrors(bad.stderr).join('\n')).toMatch(/^named\/x\.csv\.old: unknown input format; .*rotation suffix/m);
  });
});

describe('--include / --exclude', () => {
  beforeAll(() => {
    write({
      'tree/api/x.log': parts[0]!,
      'tree/web/y.log': parts[1]!,
      'tree/web/old/z.log.1': parts[2]!,
      'tree/.cache/w.log': parts[3]!,
      'one/x.log': parts[0]!,
      'one/y.log': parts[1]!,
    });
  });

  it.each(ENGINES_UNDER_TEST)('%s: repeated --include reads the union; the bill is that of those files named alone', async (engine) => {
    const args = engine.split(' ');
    const [filtered, named] = await Promise.all([
      aggregate(['tree', '--include', 'api/**', '--include', 'web/*.log', ...args]),
      aggregate(['one', ...args]),
    ]);
    expect(filtered.code, filtered.stderr).toBe(0);
    expect(filtered.summary().files).toBe(2);
    expect(filtered.read('billing.txt')).toBe(named.read('billing.txt'));
  });

  it('repeated --exclude leaves out every match; ** spans directories and dot directories match like any other', async () => {
    const r = await aggregate(['tree', '--exclude', '**/old/**', '--exclude', 'api/**']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary().files).toBe(2); // web/y.log and .cache/w.log
    expect(r.summary().records).toBe(5_000);
    const dots = await aggregate(['tree', '--include', '.*/**']);
    expect(dots.code, dots.stderr).toBe(0);
    expect(dots.summary().files).toBe(1);
  });

  it('matching is case-sensitive: a glob that matches nothing leaves no file to read → exit 1 saying why', async () => {
    const r = await aggregate(['tree', '--include', 'API/**']);
    expect(r.code, r.stderr).toBe(1);
    expect(reportedErrors(r.stderr).join('\n')).toMatch(/^no input files found in tree \(4 log files left out by --include\/--exclude\): .*--allow-empty/m);
  });

  it('a file named as an argument is always read, whatever the globs', async () => {
    const r = await aggregate(['tree/web/old/z.log.1', '--exclude', '**']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary().files).toBe(1);
  });
});

describe('skipped files', () => {
  beforeAll(() => {
    const files: Record<string, string | Buffer> = { 'mixed/a.log': parts[0]! };
    for (let i = 0; i < 30; i++) files[`mixed/docs/n${String(i).padStart(2, '0')}.md`] = 'x';
    files['mixed/z.json'] = '{}';
    files['typo/README.md'] = 'x';
    files['typo/conf.yaml'] = 'x';
    write(files);
  });

  it('are counted in ONE warning naming a few, and in the summary as skipped_files', async () => {
    const r = await aggregate(['mixed']);
    expect(r.code, r.stderr).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('skipped'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/"level":"warn".*skipped 31 files that are not logs \(\.md, \.json\): mixed\/docs\/n00\.md, mixed\/docs\/n01\.md, mixed\/docs\/n02\.md \(and 28 more\)/);
    expect(r.summary().skipped_files).toBe(31);
    expect(r.summary().files).toBe(1);
  });

  it('a mistyped directory (it exists but holds no log) is exit 1 naming it and suggesting --allow-empty; no bill', async () => {
    const r = await aggregate(['typo']);
    expect(r.code, r.stderr).toBe(1);
    expect(reportedErrors(r.stderr).join('\n')).toMatch(/^no input files found in typo \(2 files skipped: not logs\): check the path \(or pass --allow-empty/m);
    expect(r.exists('billing.txt')).toBe(false);
  });
});

describe('standard input (-)', () => {
  const inputs: Array<[format: string, file: string]> = [
    ['space', REFERENCE],
    ['csv', 'gen/g.csv'],
    ['jsonl', 'gen/g.jsonl'],
  ];
  const cases = inputs.flatMap(([format, file]) => ENGINES_UNDER_TEST.map((engine) => [format, file, engine] as const));

  /** The rejects CSV with its file column dropped (stdin shows `-` there). */
  const rejectRows = (csv: string, file: string) =>
    csv
      .split('\n')
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => {
        expect(l.startsWith(`${file},`)).toBe(true);
        return l.slice(file.length + 1);
      });

  it.each(cases)('--format %s, %s, %s: `mr aggregate - < file` bills byte-identically to `mr aggregate file`', async (format, file, engine) => {
    const args = engine.split(' ');
    const bytes = readFileSync(resolve(dir, file));
    const tmp = tempDir('mr-tmp-');
    const [fromFile, fromStdin] = await Promise.all([
      aggregate([file, ...args]),
      aggregate(['-', '--format', format, ...args], { stdin: bytes, env: { TMPDIR: tmp } }),
    ]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(fromStdin.read('billing.txt')).toBe(fromFile.read('billing.txt'));
    expect(fromStdin.read('billing.txt').length).toBeGreaterThan(0);
    expect(fromStdin.read('billing.detail.csv')).toBe(fromFile.read('billing.detail.csv'));
    const s = fromStdin.summary();
    const f = fromFile.summary();
    expect([s.records, s.accepted, s.rejected, s.files]).toEqual([f.records, f.accepted, f.rejected, 1]);
    const rows = rejectRows(fromStdin.read('billing.rejects.csv'), '-');
    expect(rows).toEqual(rejectRows(fromFile.read('billing.rejects.csv'), file));
    if (format !== 'space') expect(rows.length).toBeGreaterThan(0); // the generated inputs hold bad lines
    expect(listFiles(tmp)).toEqual([]); // the parallel engine's spool file is removed
  });

  it.each(ENGINES_UNDER_TEST)('%s: megabytes on standard input, copied with back-pressure, raise no warning (a listener left per wait added up)', async (engine) => {
    const sample = readFileSync(REFERENCE, 'utf8').trimEnd();
    const bytes = Buffer.from(`${Array.from({ length: 8 }, () => sample).join('\n')}\n`);
    const r = await aggregate(['-', ...engine.split(' ')], { stdin: bytes });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Warning|MaxListeners/);
    expect(r.summary().records).toBe(80_000);
  });

  it.each(ENGINES_UNDER_TEST)('%s: gzip on standard input is recognised by its magic bytes', async (engine) => {
    const args = engine.split(' ');
    const [fromFile, fromStdin] = await Promise.all([
      aggregate(['gen/g.jsonl', ...args]),
      aggregate(['-', '--format', 'jsonl', ...args], { stdin: gzipSync(readFileSync(join(dir, 'gen/g.jsonl'))) }),
    ]);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(fromStdin.read('billing.txt')).toBe(fromFile.read('billing.txt'));
  });

  it.each(ENGINES_UNDER_TEST)('%s: a corrupt gzip stream on standard input is exit 1 naming -, no bill', async (engine) => {
    const gz = gzipSync(parts[0]!);
    const r = await aggregate(['-', ...engine.split(' ')], { stdin: Buffer.concat([gz.subarray(0, gz.length - 30), Buffer.alloc(30, 7)]) });
    expect(r.code, r.stderr).toBe(1);
    expect(reportedErrors(r.stderr).join('\n')).toMatch(/^(worker failed on - \(whole gzip file\): )?cannot read -: corrupt gzip stream/m);
    expect(r.exists('billing.txt')).toBe(false);
  });

  it.each(ENGINES_UNDER_TEST)('%s: empty standard input is exit 1; with --allow-empty, exit 0 and an empty bill', async (engine) => {
    const args = engine.split(' ');
    const empty = await aggregate(['-', ...args], { stdin: Buffer.alloc(0) });
    expect(empty.code, empty.stderr).toBe(1);
    expect(reportedErrors(empty.stderr).join('\n')).toMatch(/^standard input is empty: .*--allow-empty/m);
    expect(empty.exists('billing.txt')).toBe(false);
    const allowed = await aggregate(['-', '--allow-empty', ...args], { stdin: Buffer.alloc(0) });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.read('billing.txt')).toBe('');
    expect(allowed.summary().records).toBe(0);
  });

  it('the spark engine refuses - with exit 2, before reaching for a cluster', async () => {
    // Port 9 (discard) has no Spark Connect server: trying to reach it would be exit 1, not 2.
    const r = await aggregate(['-', '--engine', 'spark', '--remote', 'sc://127.0.0.1:9'], { stdin: parts[0]! });
    expect(r.code, r.stderr).toBe(2);
    expect(reportedErrors(r.stderr).join('\n')).toMatch(/^the spark engine cannot read standard input/m);
    expect(r.exists('billing.txt')).toBe(false);
  });

  it.each([
    [['-', 'one/x.log'], /^- \(standard input\) must be the only path argument$/m],
    [['one/x.log', '-'], /^- \(standard input\) must be the only path argument$/m],
    [['one/x.log', '--format', 'csv'], /^--format applies to standard input \(-\) only/m],
    [['one', '--format', 'space'], /^--format applies to standard input \(-\) only/m],
    [['-', '--include', '*.log'], /^--include and --exclude filter files found in directories/m],
    [['-', '--format', 'tsv'], /--format.*tsv/],
  ])('usage error, exit 2: mr aggregate %j', async (args, message) => {
    write({ 'one/x.log': parts[0]! });
    const r = await aggregate(args, { stdin: parts[0]! });
    expect(r.code, r.stderr).toBe(2);
    expect(reportedErrors(r.stderr)).toHaveLength(1);
    expect(reportedErrors(r.stderr)[0]).toMatch(message);
    expect(r.exists('billing.txt')).toBe(false);
  });
});
