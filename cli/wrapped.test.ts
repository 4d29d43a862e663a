/**
 * --wrapped fluent-bit|cloudwatch (SPEC "Wrapped lines"): Fluent Bit- and CloudWatch-shaped
 * files, named as pipelines name them (no extension, gzip told by its bytes), bill exactly like
 * their bare lines in naive and parallel; broken wrappers are `bad_wrapper` rejects that keep
 * the wrapped line; flags that do not combine are exit 2. The spark engine (its SQL in
 * spark/job/wrapped-sql.ts) against naive on the same files, edge cases of the wrappers
 * included: same bill, counts and rejects; the names it cannot read as the others do are exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ENGINE_ARGS, cleanupTempDirs, repoRoot, reportedErrors, runCli, summaryCounts, tempDir } from '../fixtures/harness.js';
import { useTestCluster } from '../fixtures/spark/cluster-hooks.js';

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
      [['--format', 'csv'], /--format applies to standard input/],
    ];
    for (const [args, message] of cases) {
      const r = await bill([REFERENCE], args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(reportedErrors(r.stderr).join('\n')).toMatch(message);
    }
  });
});

/**
 * Wrapped lines the core decides in every way it can (formats/wrapped.ts), as Fluent Bit
 * records: each must come out of the cluster's SQL the same.
 */
const FLUENT_EDGES = [
  'not json',
  '{"log": 5}',
  '{"other": "x"}',
  '[1]',
  'null',
  '"just a string"',
  '{"log": "a\\nb"}', // an LF inside the line
  '{"log": null}',
  '{"log": {"x": "y"}}',
  '{"log":"x"} {"log":"y"}', // two values
  '{"log":"x"}}',
  '{"log":"x",}', // not JSON
  "{'log':'x'}",
  '{"log":"2025-05-02T23:16:50Z u1 login 200 5ms", "n": NaN}',
  '{"log":"2025-05-02T23:16:50Z u1 login 200 5ms", "n": 01}',
  '{"log":"2025-05-02T23:16:50Z u\\ud800 login 200 5ms"}', // a lone surrogate: bad_encoding
  '{"log":"2025-05-02T23:16:50Z u\\udc00x login 200 5ms"}',
  '{"log":"2025-05-02T23:16:50Z u\\\\ud800 login 200 5ms"}', // an escaped backslash, then text
  '{"log":"2025-05-02T23:16:50Z u\\ud83d\\ude00 login 200 5ms"}', // a pair: one character
  '{"x":"\\ud800","log":"2025-05-02T23:16:50Z u1 login 200 5ms"}', // the surrogate is elsewhere
  '{"log":"2025-05-02T23:16:50Z u1 login 200 5ms\\r"}', // a CR the inner line keeps
  '{"log":"2025-05-02T23:16:50Z u1 login 200 5ms\\r\\n"}', // one final CRLF dropped
  '{"log":"2025-05-02T23:16:50Z u1 login 200 5ms\\n\\n"}',
  '{"log":"\\r"}',
  '{"log":"   "}', // a blank inner line: skipped
  '{"log":""}',
  '{"log":"a","log":"2025-05-02T23:16:50Z u2 login 200 7ms"}', // the last duplicate key
  '{"log":"2025-05-02T23:16:50Z u2 login 200 7ms","log":1}',
  '  {"log":"2025-05-02T23:16:50Z u3 login 200 7ms"}\t',
  '{"log":"2025-05-02T23:16:50Z \\u0075\\u0034 login 200 7ms"}', // escapes decoded
  '{"log":"2025-05-02T23:16:50Z u5 login 200 7ms","nested":{"log":"x"},"a":[1,{"b":[]}]}',
  '{"log":"2025-05-02T23:16:50Z u6\\tlogin 200 7ms"}',
  '{"log":"2025-05-02T23:16:50Z üser login 200 7ms"}',
  '{"__proto__":"x","log":"2025-05-02T23:16:50Z __proto__ login 200 7ms"}',
  '{"log":"2025-05-02T23:16:50Z u7 login 200 7ms"}\r', // a CRLF line ending
  '{"log":"x y"}',
  '   ', // a blank wrapped line: skipped
];

const CLOUDWATCH_EDGES = [
  'no-timestamp here',
  '2025-02-30T00:00:00Z 2025-05-02T23:16:50Z u1 login 200 5ms', // no such day
  '2024-02-29T23:59:59.5+01:00 2025-05-02T23:16:50Z u1 login 200 5ms', // a leap day, an offset
  '2025-05-03T00:00:00Z',
  '2025-05-03T00:00:00Z ',
  ' 2025-05-03T00:00:00Z 2025-05-02T23:16:50Z u1 login 200 5ms', // a space first
  '2025-05-03T00:00:00+25:00 2025-05-02T23:16:50Z u1 login 200 5ms',
  '2025-05-03t00:00:00z 2025-05-02T23:16:50Z u1 login 200 5ms',
  '2025-05-03T00:00:00Z  2025-05-02T23:16:50Z u1 login 200 5ms', // the message starts with a space
  '2025-05-03T00:00:00Z 2025-05-02T23:16:50Z u1 login 200 5ms\r\r', // one CR is the line ending's
  '2025-05-03T00:00:00Z\t2025-05-02T23:16:50Z u1 login 200 5ms',
  '2025-05-03T00:00:00Z    ',
  '2025-05-03T00:00:00Z x y',
];

describe('--wrapped with the spark engine (the unwrapping in the cluster SQL), against naive', () => {
  const sc = useTestCluster();

  /** What must be identical: the bill, the detail, the counts, the rejects (the cluster leaves offsets empty). */
  function outputs(r: Awaited<ReturnType<typeof bill>>) {
    return {
      bill: r.bill(),
      detail: r.detail(),
      counts: summaryCounts(r.summary()),
      files: r.summary()['files'],
      rejects: r.rejects().replace(/^([^\n]*?),\d*,/gm, '$1,,'),
    };
  }

  async function expectSame(paths: string[], args: string[]): Promise<ReturnType<typeof outputs>> {
    const want = await bill(paths, ['--engine', 'naive', ...args]);
    expect(want.code, want.stderr).toBe(0);
    const got = await bill(paths, ['--engine', 'spark', '--remote', sc.cluster.remote, ...args]);
    expect(got.code, got.stderr).toBe(0);
    const expected = outputs(want);
    expect(outputs(got)).toEqual(expected);
    return expected;
  }

  it('Fluent Bit records (plain, and gzip named .gz): every edge case of the wrapper decided as naive decides it', async () => {
    const dir = join(work, 'spark-fb');
    const half = 3000;
    write(join(dir, '2025/05/02/23/16/50-objectIdx'), fluentBit(lines.slice(0, half)) + FLUENT_EDGES.join('\n') + '\n');
    write(join(dir, '2025/05/02/23/17/000001.gz'), gzipSync(fluentBit(lines.slice(half, 6000)) + FLUENT_EDGES.slice(0, 5).join('\n')));
    const got = await expectSame([dir], ['--wrapped', 'fluent-bit']);
    const rejected = got.counts['rejected'] as Record<string, number>;
    // The cases are meant to reach each outcome: broken wrappers, a lone surrogate, inner lines judged by the line rules.
    expect(rejected['bad_wrapper']).toBeGreaterThanOrEqual(15);
    expect(rejected['bad_encoding']).toBe(2);
    expect(rejected['bad_duration']).toBeGreaterThanOrEqual(1);
    expect(got.rejects).toContain(',bad_encoding,"{""log"":""2025-05-02T23:16:50Z u\\ud800 login 200 5ms""}"');
    expect(got.detail).toMatch(/^u\\ud800,/m);
    expect(got.files).toBe(2);
  }, 300_000);

  it('CloudWatch exports: the timestamp prefix judged by the timestamp rule, the message as the line', async () => {
    const dir = join(work, 'spark-cw');
    write(join(dir, 'exportTask/stream/000000'), cloudWatch(lines.slice(0, 3000)) + CLOUDWATCH_EDGES.join('\n') + '\n');
    write(join(dir, 'exportTask/stream/000001.gz'), gzipSync(cloudWatch(lines.slice(3000, 5000))));
    const got = await expectSame([dir], ['--wrapped', 'cloudwatch']);
    expect((got.counts['rejected'] as Record<string, number>)['bad_wrapper']).toBeGreaterThanOrEqual(6);
  }, 300_000);

  it('--wrapped-key, --format csv (wrapper rejects before the header) and jsonl, and --dedupe line on the inner lines', async () => {
    const csv = ['timestamp,user,task,status,duration_ms', ...lines.slice(0, 2000).map((l) => l.trim().split(/\s+/).map((f, i) => (i === 4 ? f.replace(/ms$/, '') : f)).join(','))];
    const jsonl = lines.slice(0, 2000).map((l) => {
      const [timestamp, user, task, status, d] = l.trim().split(/\s+/);
      return JSON.stringify({ timestamp, user, task, status: Number(status), duration_ms: Number(d!.replace(/ms$/, '')) });
    });
    const before = ['not json', JSON.stringify({ message: '  ' }), JSON.stringify({ other: 1 })].join('\n') + '\n';
    const csvDir = join(work, 'spark-fbcsv');
    write(join(csvDir, 'a-obj'), before + fluentBit(csv, 'message'));
    write(join(csvDir, 'b-obj.gz'), gzipSync(fluentBit(csv.slice(0, 500), 'message')));
    const c = await expectSame([csvDir], ['--wrapped', 'fluent-bit', '--wrapped-key', 'message', '--format', 'csv']);
    expect(c.counts['accepted']).toBe(2499);
    const jsonDir = join(work, 'spark-fbjson');
    write(join(jsonDir, 'obj'), fluentBit(jsonl, 'message') + before);
    await expectSame([jsonDir], ['--wrapped', 'fluent-bit', '--wrapped-key', 'message', '--format', 'jsonl']);
    // The same inner line delivered twice in different wrappers is one line.
    const cwDir = join(work, 'spark-cwdedupe');
    write(join(cwDir, 'x'), cloudWatch(lines.slice(0, 1500)) + cloudWatch(lines.slice(1000, 1500).reverse()));
    const d = await expectSame([cwDir], ['--wrapped', 'cloudwatch', '--dedupe', 'line']);
    expect(d.counts['duplicates']).toBeGreaterThanOrEqual(500);
  }, 400_000);

  it('a name the cluster would decompress otherwise than the bytes say is exit 2 naming the file (gzip without .gz; .gz, .bz2 not gzip)', async () => {
    const cases: Array<[string, string | Buffer, RegExp]> = [
      ['00-objectIdx', gzipSync(fluentBit(lines.slice(0, 10))), /gzip without it.*00-objectIdx|00-objectIdx.*gzip without it/],
      ['000000.gz', fluentBit(lines.slice(0, 10)), /000000\.gz.*not gzip/],
      ['000000.bz2', fluentBit(lines.slice(0, 10)), /000000\.bz2.*\.bz2/],
      // Hadoop picks its codec by the extension in any case.
      ['000000.BZ2', fluentBit(lines.slice(0, 10)), /000000\.BZ2.*by its name's \.BZ2/],
      ['000000.Zst', fluentBit(lines.slice(0, 10)), /000000\.Zst.*by its name's \.Zst/],
      ['000000.GZ', fluentBit(lines.slice(0, 10)), /000000\.GZ.*not gzip/],
    ];
    for (const [name, body, message] of cases) {
      const dir = join(work, `spark-name-${name}`);
      write(join(dir, name), body);
      const r = await bill([dir], ['--engine', 'spark', '--remote', sc.cluster.remote, '--wrapped', 'fluent-bit']);
      expect(r.code, r.stderr).toBe(2);
      expect(reportedErrors(r.stderr).join('\n')).toMatch(message);
      // The other engines read it by its bytes.
      const n = await bill([dir], ['--engine', 'naive', '--wrapped', 'fluent-bit']);
      expect(n.code, n.stderr).toBe(0);
      expect(n.summary()['accepted']).toBe(10);
    }
    // gzip named .GZ: the cluster decompresses it as the other engines do, by its bytes.
    const dir = join(work, 'spark-name-upper-gz');
    write(join(dir, '000000.GZ'), gzipSync(fluentBit(lines.slice(0, 10))));
    await expectSame([dir], ['--wrapped', 'fluent-bit']);
  }, 180_000);
});
