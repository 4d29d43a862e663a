/**
 * End to end through the CLI, every engine configuration against expectations computed here
 * independently (BigInt money, hand-counted windows), and naive ≡ parallel on generated data.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ENGINE_ARGS, cleanupTempDirs, decimalToPicos, listFiles, picosToFixed, runCli, summaryCounts, tempDir } from '../fixtures/harness.js';

afterAll(cleanupTempDirs);

interface Run {
  readonly bill: string;
  readonly detail: string;
  readonly rejects: string;
  readonly summary: Record<string, unknown>;
}

/** Runs every engine configuration on `inputs` in `dir`; checks they agree byte for byte and returns the naive run. */
async function runAll(dir: string, inputs: string[], extra: string[] = [], env: Record<string, string> = {}, engines = ENGINE_ARGS): Promise<Run> {
  const runs: Run[] = [];
  for (const [i, engine] of engines.entries()) {
    const out = `out${i}`;
    // The inputs compared here are full of rejects on purpose: no reject limit (its own tests are in cli.test.ts).
    const r = await runCli(['aggregate', ...inputs, '--out', `${out}/billing.txt`, '--max-rejects', '100%', ...extra, ...engine], { cwd: dir, env });
    expect(r.code, `${engine.join(' ')}: ${r.stderr}`).toBe(0);
    expect(listFiles(join(dir, out))).toEqual(['billing.detail.csv', 'billing.rejects.csv', 'billing.summary.json', 'billing.txt']);
    const read = (f: string) => readFileSync(join(dir, out, f), 'utf8');
    runs.push({ bill: read('billing.txt'), detail: read('billing.detail.csv'), rejects: read('billing.rejects.csv'), summary: JSON.parse(read('billing.summary.json')) });
  }
  for (const [i, r] of runs.entries()) {
    const what = engines[i]!.join(' ');
    expect(r.bill, what).toBe(runs[0]!.bill);
    expect(r.detail, what).toBe(runs[0]!.detail);
    expect(r.rejects, what).toBe(runs[0]!.rejects);
    expect(summaryCounts(r.summary), what).toEqual(summaryCounts(runs[0]!.summary));
  }
  return runs[0]!;
}

const TS = '2025-05-02T10:00:00Z';
const line = (user: string, task: string, ms: number | bigint) => `${TS} ${user} ${task} 200 ${ms}ms\n`;

describe.concurrent('money through the CLI', () => {
  it('half-up once per user total, on the exact sum', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_x=0.005\nRATE_y=0.0005\n');
    writeFileSync(
      join(dir, 'a.log'),
      line('p', 'x', 1) + // 0.005 → 0.01
        line('q', 'y', 10) + // 0.005 → 0.01
        line('r', 'y', 3) + // 0.0015 → 0.00
        line('s', 'y', 9) + line('s', 'y', 1) + // 0.0045 + 0.0005 = 0.005 → 0.01
        line('t', 'x', 1) + line('t', 'x', 1) + line('t', 'x', 1) + // 0.015 → 0.02 (rounding each line would say 0.03)
        line('u', 'x', 1) + line('u', 'y', 1) + // 0.005 + 0.0005 = 0.0055 → 0.01
        line('v', 'x', 0), // 0 → 0.00
    );
    const run = await runAll(dir, ['a.log']);
    expect(run.bill).toBe(
      [
        'p: total_duration=1ms, total_cost=0.01',
        'q: total_duration=10ms, total_cost=0.01',
        'r: total_duration=3ms, total_cost=0.00',
        's: total_duration=10ms, total_cost=0.01',
        't: total_duration=3ms, total_cost=0.02',
        'u: total_duration=2ms, total_cost=0.01',
        'v: total_duration=0ms, total_cost=0.00',
        '',
      ].join('\n'),
    );
    expect(run.summary).toMatchObject({ total_cost: '0.037', total_billed: '0.06' });
  });

  it('CURRENCY_DECIMALS=0 (no decimal point) and 12; a 12-fractional-digit rate', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.log'), line('a', 'tiny', 1) + line('b', 'tiny', 499_999_999_999) + line('c', 'half', 1) + line('d', 'half', 3));
    const env = { RATE_tiny: '0.000000000001', RATE_half: '0.5' };
    const zero = await runAll(dir, ['a.log'], [], { ...env, CURRENCY_DECIMALS: '0', MAX_DURATION_MS: String(2 ** 40) }, ENGINE_ARGS.slice(0, 2));
    expect(zero.bill).toBe(
      'a: total_duration=1ms, total_cost=0\nb: total_duration=499999999999ms, total_cost=0\nc: total_duration=1ms, total_cost=1\nd: total_duration=3ms, total_cost=2\n',
    );
    const twelve = await runAll(dir, ['a.log'], [], { ...env, CURRENCY_DECIMALS: '12', MAX_DURATION_MS: String(2 ** 40) }, ENGINE_ARGS.slice(0, 2));
    expect(twelve.bill).toBe(
      'a: total_duration=1ms, total_cost=0.000000000001\nb: total_duration=499999999999ms, total_cost=0.499999999999\nc: total_duration=1ms, total_cost=0.500000000000\nd: total_duration=3ms, total_cost=1.500000000000\n',
    );
    expect(twelve.detail).toContain('a,tiny,1,1,0.000000000001,0.000000000001,0.000000000001\n');
  });

  it('a cost just past the largest safe integer, at a twelve-decimal rate, is exact (9,007,199 ms at 0.001000000029)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_login=0.001000000029\nRATE_logout=0.005738791228\n');
    writeFileSync(join(dir, 'a.log'), line('alice', 'login', 9007199) + line('alice', 'logout', 1));
    const run = await runAll(dir, ['a.log']);
    // 9,007,199 × 0.001000000029 + 0.005738791228 = 9007.204999999999: 9007.20 (a float sum reads 9007.205, which rounds to .21).
    expect(run.bill).toBe('alice: total_duration=9007200ms, total_cost=9007.20\n');
    expect(run.summary.total_cost).toBe('9007.204999999999');
  });

  it('sums far beyond 2^53 stay exact (MAX_DURATION_MS=2^40, rate 999999.999999999999), in every format', async () => {
    const dir = tempDir();
    const max = 2n ** 40n;
    const rate = '999999.999999999999';
    let space = '';
    let csv = 'timestamp,user,task,status,duration_ms\n';
    let json = '';
    const want = new Map<string, bigint>();
    const add = (u: string, ms: bigint) => want.set(u, (want.get(u) ?? 0n) + ms);
    for (let i = 0; i < 9000; i++) {
      const ms = max - BigInt(i % 7);
      space += line('whale', 'big', ms);
      add('whale', ms);
      if (i % 5 === 0) {
        csv += `${TS},whale,big,200,${ms}\n`;
        json += `{"timestamp":"${TS}","user":"orca","task":"big","status":200,"duration_ms":${ms}}\n`;
        add('whale', ms);
        add('orca', ms);
      }
    }
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in/a.log'), space);
    writeFileSync(join(dir, 'in/b.csv'), csv);
    writeFileSync(join(dir, 'in/c.jsonl.gz'), gzipSync(json));
    const engines = [ENGINE_ARGS[0]!, ENGINE_ARGS[1]!, ['--engine', 'parallel', '--workers', '2', '--shard-size', '4096']];
    const run = await runAll(dir, ['in'], [], { RATE_big: rate, MAX_DURATION_MS: String(max) }, engines);
    const ratePicos = decimalToPicos(rate);
    const expected = [...want.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([u, ms]) => `${u}: total_duration=${ms}ms, total_cost=${picosToFixed(ms * ratePicos, 2)}\n`)
      .join('');
    expect(want.get('whale')! > 2n ** 53n).toBe(true);
    expect(run.bill).toBe(expected);
    const total = [...want.values()].reduce((a, b) => a + b, 0n) * ratePicos;
    expect(run.summary.total_cost).toBe(`${total / 10n ** 12n}.${(total % 10n ** 12n).toString().padStart(12, '0')}`.replace(/\.?0+$/, ''));
  });
});

describe.concurrent('user ids through the CLI', () => {
  it('ids are their bytes: a leading U+FEFF, zero-width characters and object keys are distinct ordinary users', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_x=1\n');
    const users = ['bob', '\ufeffbob', 'b\u200bob', '__proto__', 'constructor', 'hasOwnProperty', '\uff5e', '😀'];
    writeFileSync(join(dir, 'a.log'), users.map((u, i) => `${TS} ${u} x 200 ${i + 1}ms\n`).join(''));
    writeFileSync(join(dir, 'b.csv'), 'timestamp,user,task,status,duration_ms\n' + users.map((u, i) => `${TS},${u},x,200,${i + 1}\n`).join(''));
    writeFileSync(join(dir, 'c.jsonl'), users.map((u, i) => `${JSON.stringify({ timestamp: TS, user: u, task: 'x', status: 200, duration_ms: i + 1 })}\n`).join(''));
    const run = await runAll(dir, ['a.log', 'b.csv', 'c.jsonl']);
    const sorted = users.map((u, i) => [u, i + 1] as const).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(run.bill).toBe(sorted.map(([u, n]) => `${u}: total_duration=${3 * n}ms, total_cost=${3 * n}.00\n`).join(''));
  });
});

describe.concurrent('time window through the CLI', () => {
  it('--from inclusive, --to exclusive, as instants (offsets, fractions); outside = out_of_window, not rejected', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_x=1\n');
    const rows: Array<[string, boolean]> = [
      ['2025-05-02T09:59:59.999999999999Z', false],
      ['2025-05-02T10:00:00Z', true], // = from
      ['2025-05-02T12:00:00+02:00', true], // = from, another offset
      ['2025-05-02T10:00:00.000Z', true],
      ['2025-05-02T10:59:59.1Z', false], // = to (.1 = .10)
      ['2025-05-02T10:59:59.10Z', false], // = to
      ['2025-05-02T10:59:59.100000000001Z', false], // after to = 10:59:59.1
      ['2025-05-02T11:59:59.1+01:00', false], // = to
      ['2025-05-02T05:59:59.09-04:59', true], // 10:58:59.09Z
      ['2025-05-03T10:00:00Z', false],
      ['2025-05-02T10:59:59.09999Z', true],
    ];
    writeFileSync(join(dir, 'a.log'), rows.map(([t], i) => `${t} u${i} x 200 1ms\n`).join('') + 'garbage\n');
    writeFileSync(join(dir, 'b.jsonl'), rows.map(([t], i) => `{"timestamp":"${t}","user":"j${i}","task":"x","status":200,"duration_ms":1}\n`).join(''));
    const run = await runAll(dir, ['a.log', 'b.jsonl'], ['--from', '2025-05-02T10:00:00Z', '--to', '2025-05-02T10:59:59.10Z']);
    const inside = rows.flatMap(([, ok], i) => (ok ? [i] : []));
    expect(inside).toEqual([1, 2, 3, 8, 10]);
    const users = [...inside.map((i) => `j${i}`), ...inside.map((i) => `u${i}`)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(run.bill).toBe(users.map((u) => `${u}: total_duration=1ms, total_cost=1.00\n`).join(''));
    expect(run.summary).toMatchObject({ records: 23, accepted: 10, out_of_window: 12, rejected: { bad_field_count: 1 } });
    expect(run.summary.window).toEqual({ from: '2025-05-02T10:00:00Z', to: '2025-05-02T10:59:59.10Z' });
  });

  it('a window no record falls in: an empty bill, exit 0, and a warning that says so (not when some record is billed)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_x=1\n');
    writeFileSync(join(dir, 'a.log'), line('u', 'x', 1) + line('v', 'x', 2));
    const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string }).filter((o) => o.level === 'warn').map((o) => o.msg);
    for (const [i, engine] of ENGINE_ARGS.entries()) {
      const r = await runCli(['aggregate', 'a.log', '--out', `o${i}/billing.txt`, '--from', '2025-05-03T00:00:00Z', '--to', '2025-05-04T00:00:00Z', ...engine], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(dir, `o${i}`, 'billing.txt'), 'utf8')).toBe('');
      expect(warnings(r.stderr), engine.join(' ')).toEqual([
        "the bill is empty: no record fell in the window [2025-05-03T00:00:00Z, 2025-05-04T00:00:00Z), and 2 records lay outside it; check --from and --to, or whether the period's logs have arrived",
      ]);
      const some = await runCli(['aggregate', 'a.log', '--out', `p${i}/billing.txt`, '--from', TS, ...engine], { cwd: dir });
      expect(some.code, some.stderr).toBe(0);
      expect(warnings(some.stderr)).toEqual([]);
    }
    // Records in the window, every one rejected: the warning says so, not that none fell in it.
    writeFileSync(join(dir, 'c.log'), `${line('u', 'x', 1)}2025-05-03T10:00:00Z w x 999 5ms\n2025-05-03T11:00:00Z w x 200 5s\n`);
    for (const [i, engine] of ENGINE_ARGS.entries()) {
      const r = await runCli(['aggregate', 'c.log', '--out', `q${i}/billing.txt`, '--from', '2025-05-03T00:00:00Z', '--to', '2025-05-04T00:00:00Z', '--max-rejects', '100%', ...engine], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(warnings(r.stderr), engine.join(' ')).toEqual([
        "the bill is empty: no record was billed in the window [2025-05-03T00:00:00Z, 2025-05-04T00:00:00Z); 1 record lay outside it, and 2 were rejected or duplicates (see the summary and the rejects file); check --from and --to, or whether the period's logs have arrived",
      ]);
    }
  });
});

describe.concurrent('blank lines through the CLI', () => {
  // Only white space (Unicode's White_Space), also the CR of a `\r\r\n` ending: skipped, not records; U+FEFF, a C0 separator
  // and an overlong space are none.
  const blanks = ['', ' \t', '\f', '\v ', '\r', '\u0085', '\u00a0', '\u2028\u3000'];
  const notBlank = ['\ufeff', '\u001c', '\xc0\xa0'];
  const text = (lines: string[], eol = '\n') =>
    Buffer.concat(lines.map((l) => (l === '\xc0\xa0' ? Buffer.from([0xc0, 0xa0]) : Buffer.from(l, 'utf8'))).flatMap((b) => [b, Buffer.from(eol)]));

  it('are skipped in every format, gzip and wrapped lines, by naive and parallel alike', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_x=1\n');
    writeFileSync(join(dir, 'a.log'), text([...blanks, line('u1', 'x', 1).trimEnd(), ...blanks, ...notBlank], '\r\n'));
    writeFileSync(join(dir, 'b.csv'), text([...blanks, 'timestamp,user,task,status,duration_ms', ...blanks, `${TS},u2,x,200,2`, ...notBlank]));
    writeFileSync(join(dir, 'c.jsonl'), text([...blanks, `{"timestamp":"${TS}","user":"u3","task":"x","status":200,"duration_ms":3}`, ...notBlank]));
    writeFileSync(join(dir, 'd.log.gz'), gzipSync(text([line('u4', 'x', 4).trimEnd(), ...blanks])));
    const run = await runAll(dir, ['a.log', 'b.csv', 'c.jsonl', 'd.log.gz']);
    expect(run.bill).toBe(['u1: total_duration=1ms, total_cost=1.00', 'u2: total_duration=2ms, total_cost=2.00', 'u3: total_duration=3ms, total_cost=3.00', 'u4: total_duration=4ms, total_cost=4.00', ''].join('\n'));
    // The three lines that are not blank, in each plain file: records, and rejects (the overlong space is bad UTF-8).
    expect(run.summary).toMatchObject({ records: 13, accepted: 4, rejected: { bad_encoding: 3, bad_field_count: 4, bad_json: 2 } });

    const wrapped = tempDir();
    writeFileSync(join(wrapped, '.env'), 'RATE_x=1\n');
    const inner = [...blanks, line('u5', 'x', 5).trimEnd()].map((l) => JSON.stringify({ log: l }));
    writeFileSync(join(wrapped, 'w.log'), text([...inner, ...blanks]));
    const w = await runAll(wrapped, ['w.log'], ['--wrapped', 'fluent-bit']);
    expect(w.bill).toBe('u5: total_duration=5ms, total_cost=5.00\n');
    expect(w.summary).toMatchObject({ records: 1, accepted: 1 });
  });
});

describe.concurrent('long lines through the CLI', () => {
  it('65536 bytes is a line; longer is line_too_long with its first 1 KiB; reading continues; every format', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_x=1\n');
    const ok = (n: number, u: string) => {
      const base = `${TS} ${u} x 200 1ms`;
      return base + ' '.repeat(n - base.length); // trailing blanks are ignored
    };
    const long = (n: number) => 'L' + 'é'.repeat(600) + 'x'.repeat(n - 1 - 1200);
    const space = [ok(65536, 'fits'), ok(65537, 'over'), long(200_000), `${TS} after x 200 2ms`].join('\r\n') + '\r\n';
    const csvOk = (n: number, u: string) => {
      const base = `${TS},${u},x,200,1,`;
      return base + 'p'.repeat(n - base.length);
    };
    const csv = ['timestamp,user,task,status,duration_ms,pad', csvOk(65536, 'cfits'), csvOk(65537, 'cover'), `${TS},cafter,x,200,2,`].join('\n');
    const jsonOk = (n: number, u: string) => {
      const base = `{"timestamp":"${TS}","user":"${u}","task":"x","status":200,"duration_ms":1,"pad":""}`;
      return base.replace('"pad":""', `"pad":"${'q'.repeat(n - base.length)}"`);
    };
    const json = [jsonOk(65536, 'jfits'), jsonOk(65537, 'jover'), `{"timestamp":"${TS}","user":"jafter","task":"x","status":200,"duration_ms":2}`].join('\n') + '\n';
    writeFileSync(join(dir, 'a.log'), space);
    writeFileSync(join(dir, 'b.csv'), csv);
    writeFileSync(join(dir, 'c.ndjson'), json);
    writeFileSync(join(dir, 'd.txt.gz'), gzipSync(space));
    const run = await runAll(dir, ['a.log', 'b.csv', 'c.ndjson', 'd.txt.gz']);
    expect(run.bill).toBe(
      ['after: total_duration=4ms, total_cost=4.00', 'cafter: total_duration=2ms, total_cost=2.00', 'cfits: total_duration=1ms, total_cost=1.00', 'fits: total_duration=2ms, total_cost=2.00', 'jafter: total_duration=2ms, total_cost=2.00', 'jfits: total_duration=1ms, total_cost=1.00', ''].join('\n'),
    );
    expect(run.summary).toMatchObject({ records: 14, accepted: 8, rejected: { line_too_long: 6 } });
    const rows = run.rejects.split('\n');
    expect(rows[0]).toBe('file,offset,reason,raw');
    const head = (text: string) => Buffer.from(text).subarray(0, 1024).toString('utf8');
    const expectedRows = [
      `a.log,65538,line_too_long,${head(ok(65537, 'over'))}`,
      `a.log,${65538 + 65539},line_too_long,${head(long(200_000))}`,
      `b.csv,${'timestamp,user,task,status,duration_ms,pad\n'.length + 65537},line_too_long,"${head(csvOk(65537, 'cover'))}"`,
      `c.ndjson,65537,line_too_long,"${head(jsonOk(65537, 'jover')).replace(/"/g, '""')}"`,
      `d.txt.gz,65538,line_too_long,${head(ok(65537, 'over'))}`,
      `d.txt.gz,${65538 + 65539},line_too_long,${head(long(200_000))}`,
      '',
    ];
    expect(rows.slice(1)).toEqual(expectedRows);
    // 'é' is 2 bytes: the first 1 KiB of the long line ends inside the 512th é, which shows as one U+FFFD.
    expect(head(long(200_000)).endsWith('é\ufffd')).toBe(true);
  });
});

describe('naive ≡ parallel on generated data', () => {
  it('every format with every reject reason, several shard sizes', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_login=0.005\nRATE_getUserProfile=0.002\nRATE_createOrder=0.010\nRATE_updateInventory=0.008\nRATE_deleteOrder=0.007\n');
    const files = ['gen/a.log', 'gen/b.csv', 'gen/c.jsonl', 'gen/d.ndjson.gz', 'gen/e.txt'];
    for (const [i, f] of files.entries()) {
      const g = await runCli(['generate', '--out', f, '--lines', '4000', '--users', '300', '--bad', '0.08', '--seed', String(i + 1)], { cwd: dir });
      expect(g.code, g.stderr).toBe(0);
    }
    const engines = [
      ['--engine', 'naive'],
      ['--engine', 'parallel', '--workers', '1'],
      ['--engine', 'parallel', '--workers', '2', '--shard-size', '997'],
      ['--engine', 'parallel', '--workers', '2', '--shard-size', '65536'],
    ];
    const run = await runAll(dir, ['gen'], [], {}, engines);
    const s = run.summary as { records: number; accepted: number; rejected: Record<string, number> };
    expect(s.records).toBe(20_000);
    const all = ['line_too_long', 'bad_encoding', 'bad_field_count', 'bad_json', 'bad_timestamp', 'bad_user', 'unknown_task', 'bad_status', 'bad_duration'];
    expect(Object.keys(s.rejected).filter((r) => !all.includes(r))).toEqual([]);
    expect(Object.keys(s.rejected).length).toBeGreaterThanOrEqual(8);
    expect(s.accepted).toBeGreaterThan(15_000);
  });
});
