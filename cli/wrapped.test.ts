/**
 * --wrapped fluent-bit|cloudwatch (SPEC "Wrapped lines"): Fluent Bit- and CloudWatch-shaped
 * files, named as pipelines name them (no extension, gzip told by its bytes), bill exactly like
 * their bare lines in naive and parallel; broken wrappers are `bad_wrapper` rejects that keep
 * the wrapped line; flags that do not combine are exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ENGINE_ARGS, cleanupTempDirs, repoRoot, reportedErrors, runCli, summaryCounts, tempDir } from '../fixtures/harness.js';

const REFERENCE = resolve(repoRoot, '../shared/reference/api_logs.txt');
const RATES = resolve(repoRoot, '../shared/reference/original.env');

let work: string;
let lines: string[];

function write(path: string, body: string | Buffer): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body);
  return path;
}

beforeAll(() => {
  work = tempDir('mr-wrapped-');
  lines = readFileSync(REFERENCE, 'utf8').split('\n').filter((l) => l !== '');
});
afterAll(cleanupTempDirs);

async function bill(paths: string[], args: readonly string[]) {
  const out = join(tempDir('mr-wrapped-out-'), 'billing.txt');
  const r = await runCli(['aggregate', ...paths, '--env-file', RATES, '--out', out, '--max-rejects', '100%', '--log-format', 'json', ...args], { cwd: work });
  const read = (ext: string) => readFileSync(out.replace(/\.txt$/, ext), 'utf8');
  return {
    ...r,
    bill: () => readFileSync(out, 'utf8'),
    detail: () => read('.detail.csv'),
    summary: () => JSON.parse(read('.summary.json')) as Record<string, unknown>,
    rejects: () => read('.rejects.csv'),
  };
}

/** Fluent Bit's json_lines: one JSON record per line, the line under `log`, with other keys around it. */
function fluentBit(ls: readonly string[], key = 'log'): string {
  return ls.map((l, i) => JSON.stringify({ date: 1746227810.123 + i, [key]: i % 7 === 0 ? `${l}\n` : l, stream: 'stdout' })).join('\n') + '\n';
}

/** CloudWatch Logs export: `<RFC 3339 timestamp> <message>`. */
function cloudWatch(ls: readonly string[]): string {
  return ls.map((l, i) => `2025-05-03T00:00:${String(i % 60).padStart(2, '0')}.000Z ${l}`).join('\n') + '\n';
}

describe('--wrapped', () => {
  it('Fluent Bit- and CloudWatch-shaped files bill exactly like their bare lines (extensionless and gzip names), naive and parallel', async () => {
    const bare = await bill([REFERENCE], ['--engine', 'naive']);
    expect(bare.code, bare.stderr).toBe(0);
    const half = Math.floor(lines.length / 2);
    const fb = join(work, 'fb');
    write(join(fb, '2025/05/02/23/16/50-objectIdx'), fluentBit(lines.slice(0, half)));
    write(join(fb, '2025/05/02/23/17/00-objectIdx'), gzipSync(fluentBit(lines.slice(half))));
    const cw = join(work, 'cw');
    write(join(cw, 'exportTask/stream/000000'), cloudWatch(lines.slice(0, half)));
    write(join(cw, 'exportTask/stream/000001.gz'), gzipSync(cloudWatch(lines.slice(half))));
    for (const [dir, kind] of [[fb, 'fluent-bit'], [cw, 'cloudwatch']] as const) {
      for (const engine of ENGINE_ARGS) {
        const r = await bill([dir], [...engine, '--wrapped', kind]);
        expect(r.code, `${kind} ${engine.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.bill()).toBe(bare.bill());
        expect(r.detail()).toBe(bare.detail());
        expect(summaryCounts(r.summary())).toEqual(summaryCounts(bare.summary()));
        expect(r.summary()['files']).toBe(2);
      }
    }
  }, 240_000);

  it('--wrapped-key and --format: CSV and JSON lines inside Fluent Bit records', async () => {
    const csv = ['timestamp,user,task,status,duration_ms', ...lines.slice(0, 3000).map((l) => l.trim().split(/\s+/).map((f, i) => (i === 4 ? f.replace(/ms$/, '') : f)).join(','))];
    const jsonl = lines.slice(0, 3000).map((l) => {
      const [timestamp, user, task, status, d] = l.trim().split(/\s+/);
      return JSON.stringify({ timestamp, user, task, status: Number(status), duration_ms: Number(d!.replace(/ms$/, '')) });
    });
    const bare = await bill([write(join(work, 'bare', 'first.log'), lines.slice(0, 3000).join('\n') + '\n')], ['--engine', 'naive']);
    expect(bare.code, bare.stderr).toBe(0);
    const csvFile = write(join(work, 'fbcsv', 'obj-1'), fluentBit(csv, 'message'));
    const jsonFile = write(join(work, 'fbjson', 'obj-1'), fluentBit(jsonl, 'message'));
    for (const engine of ENGINE_ARGS) {
      for (const [file, format] of [[csvFile, 'csv'], [jsonFile, 'jsonl']] as const) {
        const r = await bill([file], [...engine, '--wrapped', 'fluent-bit', '--wrapped-key', 'message', '--format', format]);
        expect(r.code, `${format} ${engine.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.bill()).toBe(bare.bill());
      }
    }
  }, 120_000);

  it('a wrapper that does not parse, a missing or non-string key, a bad CloudWatch timestamp are bad_wrapper; the wrapped line is what the rejects CSV keeps', async () => {
    const good = lines.slice(0, 20);
    const badFb = ['not json', '{"log": 5}', '{"other": "x"}', '[1]', '{"log": "a\\nb"}', '"just a string"'];
    const fbFile = write(join(work, 'badfb', 'obj'), fluentBit(good) + badFb.join('\n') + '\n' + JSON.stringify({ log: '   ' }) + '\n' + JSON.stringify({ log: 'x y' }) + '\n');
    const badCw = ['no-timestamp here', '2025-02-30T00:00:00Z ' + good[0], '2025-05-03T00:00:00Z'];
    const cwFile = write(join(work, 'badcw', 'obj'), cloudWatch(good) + badCw.join('\n') + '\n');
    for (const engine of ENGINE_ARGS) {
      const fb = await bill([fbFile], [...engine, '--wrapped', 'fluent-bit']);
      expect(fb.code, fb.stderr).toBe(0);
      const s = fb.summary();
      // 20 good, 6 broken wrappers, one blank inner line (skipped), one inner line with two fields.
      expect(s['records']).toBe(27);
      expect(s['rejected']).toEqual({ bad_wrapper: 6, bad_field_count: 1 });
      const rows = fb.rejects().split('\n').filter((l) => l.includes('bad_wrapper'));
      expect(rows).toHaveLength(6);
      expect(rows[0]).toContain(',bad_wrapper,not json');
      expect(fb.rejects()).toContain(',bad_field_count,"{""log"":""x y""}"');

      const cw = await bill([cwFile], [...engine, '--wrapped', 'cloudwatch']);
      expect(cw.code, cw.stderr).toBe(0);
      expect(cw.summary()['rejected']).toEqual({ bad_wrapper: 3 });
      expect(cw.summary()['accepted']).toBe(20);
    }
  }, 120_000);

  it('flags that do not combine are exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--wrapped-key', 'msg'], /--wrapped-key names the key of --wrapped fluent-bit/],
      [['--wrapped', 'cloudwatch', '--wrapped-key', 'msg'], /--wrapped-key applies to --wrapped fluent-bit only/],
      [['--wrapped', 'syslog'], /syslog/],
      [['--wrapped', 'fluent-bit', '--engine', 'spark'], /the spark engine does not read --wrapped input yet/],
      [['--format', 'csv'], /--format applies to standard input/],
    ];
    for (const [args, message] of cases) {
      const r = await bill([REFERENCE], args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(reportedErrors(r.stderr).join('\n')).toMatch(message);
    }
  });
});
