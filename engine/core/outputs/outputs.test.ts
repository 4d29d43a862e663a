import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, existsSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { RunFailure } from '../errors.js';
import { journalPath } from './journal.js';
import { join } from 'node:path';
import { outputPaths } from './paths.js';
import { rawColumn, RejectsWriter } from './rejects.js';
import { STAGED_NAME, STAGING_PREFIX, StagedFile, StagedOutputs, dropKept, keepPrevious } from './staged.js';
import { BillWriter, PricedBillWriter, billText } from './bill.js';
import { csvField } from './csv.js';
import { finalizeBill, finalizePricedBill } from '../billing/finalize.js';
import { UsageTable } from '../billing/usage.js';
import { billingConfigFromEnv, billingConfigFromPlan } from '../config/config.js';
import { planFromData } from '../pricing/plan.js';
import { cleanupTempDirs, listFiles, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

describe('outputPaths', () => {
  it('names companions after the bill', () => {
    expect(outputPaths('data/billing.txt')).toEqual({
      bill: 'data/billing.txt',
      detail: 'data/billing.detail.csv',
      summary: 'data/billing.summary.json',
      rejects: 'data/billing.rejects.csv',
    });
    expect(outputPaths('/x/y/may.2025.txt').detail).toBe('/x/y/may.2025.detail.csv');
    expect(outputPaths('bill').summary).toBe('bill.summary.json');
  });
});

describe('rawColumn', () => {
  it('first 1 KiB, invalid UTF-8 as U+FFFD, a leading U+FEFF kept (it is content here)', () => {
    expect(rawColumn(Buffer.from('abc'))).toBe('abc');
    expect(rawColumn(Buffer.from([0x61, 0xff, 0x62]))).toBe('a\ufffdb');
    expect(rawColumn(Buffer.from('\ufeffx'))).toBe('\ufeffx');
    expect(rawColumn(Buffer.alloc(5000, 'a'))).toBe('a'.repeat(1024));
  });
});

describe('RejectsWriter + StagedOutputs', () => {
  it('writes RFC 4180 rows under a temporary name, renamed on commit', async () => {
    const dir = tempDir();
    const staged = new StagedOutputs();
    const rejects = new RejectsWriter(staged.add(join(dir, 'out', 'billing.rejects.csv')));
    rejects.add('a.csv', 10, 'bad_user', Buffer.from('x,"y"\rz'));
    rejects.add('b.log', 0, 'bad_encoding', Buffer.from([0xff]));
    rejects.add('s.log', null, 'bad_json', Buffer.from('{}'));
    await rejects.end();
    expect(listFiles(join(dir, 'out')).every((f) => f.startsWith(STAGING_PREFIX))).toBe(true);
    expect(existsSync(join(dir, 'out', 'billing.rejects.csv'))).toBe(false);
    staged.commit();
    expect(listFiles(join(dir, 'out'))).toEqual(['billing.rejects.csv']);
    expect(readFileSync(join(dir, 'out', 'billing.rejects.csv'), 'utf8')).toBe(
      'file,offset,reason,raw\na.csv,10,bad_user,"x,""y""\rz"\nb.log,0,bad_encoding,\ufffd\ns.log,,bad_json,{}\n',
    );
  });

  it('discard removes every temporary file and leaves nothing new', async () => {
    const dir = tempDir();
    const staged = new StagedOutputs();
    const a = staged.add(join(dir, 'a.txt'));
    a.write('partial');
    staged.add(join(dir, 'b.txt'));
    staged.discard();
    staged.discard();
    expect(listFiles(dir)).toEqual([]);
  });

  it('a staged file gone before the commit (its directory removed during the run) fails the commit: no partial set, no journal', () => {
    const dir = tempDir();
    const out = join(dir, 'o');
    const staged = new StagedOutputs(journalPath(join(out, 'billing.txt')));
    const first = staged.add(join(out, 'billing.rejects.csv'));
    first.write('file,offset,reason,raw\n');
    // The directory goes with the first staged file; the next ones make it again.
    rmSync(out, { recursive: true, force: true });
    staged.add(join(out, 'billing.summary.json')).write('{}');
    staged.add(join(out, 'billing.txt')).write('u: total_duration=1ms, total_cost=0.01\n');
    expect(() => staged.commit()).toThrow(RunFailure);
    expect(() => staged.commit()).toThrow(/billing\.rejects\.csv: its staged file .* is gone/);
    staged.discard();
    expect(listFiles(out)).toEqual([]);
  });

  it('a journalled commit renames in the order the files were staged, the bill (staged last) last: a rename that fails leaves the previous bill', () => {
    const dir = tempDir();
    const names = ['billing.rejects.csv', 'billing.detail.csv', 'billing.summary.json', 'billing.txt'];
    for (const n of names) writeFileSync(join(dir, n), 'old\n');
    const journal = journalPath(join(dir, 'billing.txt'));
    const staged = new StagedOutputs(journal);
    for (const n of names) staged.add(join(dir, n)).write('new\n');
    // The summary's place taken by a directory: its rename fails, and the commit stops there.
    rmSync(join(dir, 'billing.summary.json'));
    mkdirSync(join(dir, 'billing.summary.json'));
    writeFileSync(join(dir, 'billing.summary.json', 'x'), '');
    expect(() => staged.commit()).toThrow(RunFailure);
    const order = (JSON.parse(readFileSync(journal, 'utf8')) as { renames: Array<{ to: string }> }).renames.map((r) => r.to);
    expect(order).toEqual(names.map((n) => join(dir, n)));
    expect(['billing.rejects.csv', 'billing.detail.csv', 'billing.txt'].map((n) => readFileSync(join(dir, n), 'utf8'))).toEqual(['new\n', 'new\n', 'old\n']);
  });

  it('a journalled commit over a previous set: the previous files are freed once it is over, and no second name of theirs is left', () => {
    const dir = tempDir();
    const names = ['billing.rejects.csv', 'billing.detail.csv', 'billing.summary.json', 'billing.txt'];
    for (const n of names) writeFileSync(join(dir, n), 'old\n');
    const held = names.map((n) => openSync(join(dir, n), 'r'));
    try {
      const staged = new StagedOutputs(journalPath(join(dir, 'billing.txt')));
      for (const n of names) staged.add(join(dir, n)).write('new\n');
      staged.commit();
      expect(listFiles(dir)).toEqual([...names].sort());
      expect(names.map((n) => readFileSync(join(dir, n), 'utf8'))).toEqual(names.map(() => 'new\n'));
      expect(held.map((fd) => fstatSync(fd).nlink)).toEqual(names.map(() => 0));
    } finally {
      for (const fd of held) closeSync(fd);
    }
  });

  it('a commit whose rename fails leaves no second name of the previous files either (the journal keeps only what it staged)', () => {
    const dir = tempDir();
    const names = ['billing.rejects.csv', 'billing.detail.csv', 'billing.summary.json', 'billing.txt'];
    for (const n of names) writeFileSync(join(dir, n), 'old\n');
    const staged = new StagedOutputs(journalPath(join(dir, 'billing.txt')));
    for (const n of names) staged.add(join(dir, n)).write('new\n');
    rmSync(join(dir, 'billing.summary.json'));
    mkdirSync(join(dir, 'billing.summary.json'));
    writeFileSync(join(dir, 'billing.summary.json', 'x'), '');
    expect(() => staged.commit()).toThrow(RunFailure);
    // The summary's and the bill's staged files, for the roll-forward; the previous bill under its own name only.
    expect(listFiles(dir).filter((n) => STAGED_NAME.test(n)).map((n) => STAGED_NAME.exec(n)![2]).sort()).toEqual(['billing.summary.json', 'billing.txt']);
    expect(statSync(join(dir, 'billing.txt')).nlink).toBe(1);
  });

  it('keepPrevious names each previous regular file a second time, under a staging name of this process; absent paths, folders and links get none', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.txt'), 'a');
    mkdirSync(join(dir, 'd.txt'));
    symlinkSync(join(dir, 'a.txt'), join(dir, 'l.txt'));
    const kept = keepPrevious(['a.txt', 'missing.txt', 'd.txt', 'l.txt'].map((n) => join(dir, n)));
    expect(kept).toHaveLength(1);
    const m = STAGED_NAME.exec(kept[0]!.slice(dir.length + 1))!;
    expect([Number(m[1]), m[2]]).toEqual([process.pid, 'a.txt']);
    expect(statSync(kept[0]!).ino).toBe(statSync(join(dir, 'a.txt')).ino);
    expect(statSync(join(dir, 'a.txt')).nlink).toBe(2);
    dropKept(kept);
    expect(statSync(join(dir, 'a.txt')).nlink).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'd.txt', 'l.txt']);
  });

  it('an empty rejects CSV is its header', async () => {
    const dir = tempDir();
    const staged = new StagedOutputs();
    const rejects = new RejectsWriter(staged.add(join(dir, 'r.csv')));
    await rejects.end();
    staged.commit();
    expect(readFileSync(join(dir, 'r.csv'), 'utf8')).toBe('file,offset,reason,raw\n');
  });
});

describe('StagedFile.syncSoon', () => {
  it('flushes on another thread while writes go on; the file is whole, and cannot be closed while it flushes', async () => {
    const dir = tempDir();
    const f = new StagedFile(join(dir, 'billing.detail.csv'));
    f.write('user,task\n');
    const first = f.syncSoon();
    // One flush at a time: asked again while it runs, the same one.
    expect(f.syncSoon()).toBe(first);
    f.write('alice,login\n');
    expect(() => f.close()).toThrow('closed while it is flushed');
    await first;
    f.write('bob,login\n');
    await f.syncSoon();
    f.commit();
    expect(readFileSync(join(dir, 'billing.detail.csv'), 'utf8')).toBe('user,task\nalice,login\nbob,login\n');
    expect(listFiles(dir)).toEqual(['billing.detail.csv']);
  });
});

describe('billText', () => {
  it('one LF-terminated line per user; empty bill is empty', () => {
    expect(billText({ decimals: 2, users: 0, bills: [], totalDurationMs: 0n, totalCostPicos: 0n, totalBilled: 0n })).toBe('');
    expect(
      billText({
        decimals: 2,
        users: 1,
        bills: [{ user: 'user1', durationMs: 7235n, costPicos: 0n, costRounded: 4250n, tasks: [] }],
        totalDurationMs: 7235n,
        totalCostPicos: 0n,
        totalBilled: 4250n,
      }),
    ).toBe('user1: total_duration=7235ms, total_cost=42.50\n');
  });
});

describe('csvField', () => {
  it('quotes a field only when it holds a quote, comma or line break, doubling quotes', () => {
    expect(csvField('user1')).toBe('user1');
    expect(csvField('a|b;c\'d')).toBe("a|b;c'd");
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('a\nb')).toBe('"a\nb"');
    expect(csvField('a\rb')).toBe('"a\rb"');
  });

  it('round-trips through the CSV parser for any text', async () => {
    const fc = (await import('fast-check')).default;
    const { parseString } = await import('@fast-csv/parse');
    await fc.assert(
      // fast-csv reads a row's first field as empty when it is only white space (` ,x` gives ['', 'x'], the same
      // field elsewhere in the row is kept): a quirk of the checking parser. A detail row starts with the user id,
      // which is never only white space (bad_user), so such first fields are left out; every other position still gets them.
      fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme', minLength: 1 }), { minLength: 1, maxLength: 4 }).filter((f) => !/^\s+$/u.test(f[0]!)), async (fields) => {
        const line = `${fields.map(csvField).join(',')}\n`;
        const rows = await new Promise<string[][]>((resolve, reject) => {
          const out: string[][] = [];
          parseString(line).on('data', (r: string[]) => out.push(r)).on('end', () => resolve(out)).on('error', reject);
        });
        expect(rows).toEqual([fields]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('BillWriter', () => {
  const config = billingConfigFromEnv({ 'RATE_b,x': '0.005', RATE_a: '0.5', CURRENCY_DECIMALS: '2' });

  async function write(t: UsageTable) {
    const dir = tempDir('mr-billwriter-');
    const staged = new StagedOutputs();
    const d = staged.add(join(dir, 'bill.detail.csv'));
    const b = staged.add(join(dir, 'bill.txt'));
    const totals = await finalizeBill(t, config, new BillWriter(b, d, config));
    staged.commit();
    return { totals, bill: readFileSync(join(dir, 'bill.txt'), 'utf8'), detail: readFileSync(join(dir, 'bill.detail.csv'), 'utf8') };
  }

  it('an empty bill: an empty billing.txt and a detail CSV that is its header', async () => {
    const out = await write(new UsageTable(2));
    expect(out.bill).toBe('');
    expect(out.detail).toBe('user,task,requests,duration_ms,rate,cost,cost_rounded\n');
    expect(out.totals.users).toBe(0);
  });

  it('writes the bill and the detail lines in bill order, quoting ids and task names that need it', async () => {
    const A = config.rates.findIndex((r) => r.task === 'a');
    const BX = config.rates.findIndex((r) => r.task === 'b,x');
    const t = new UsageTable(2);
    t.add('z"q', A, 2, 3);
    t.add('a,b', BX, 1, 1000);
    t.add('a,b', A, 1, 1);
    const out = await write(t);
    expect(out.bill).toBe('a,b: total_duration=1001ms, total_cost=5.50\nz"q: total_duration=3ms, total_cost=1.50\n');
    expect(out.detail).toBe(
      [
        'user,task,requests,duration_ms,rate,cost,cost_rounded',
        '"a,b",a,1,1,0.5,0.5,0.50',
        '"a,b","b,x",1,1000,0.005,5,5.00',
        '"z""q",a,2,3,0.5,1.5,1.50',
        '',
      ].join('\n'),
    );
  });

  it('a bill bigger than its write chunks comes out whole and in order', async () => {
    const t = new UsageTable(2);
    const n = 60_000;
    const A = config.rates.findIndex((r) => r.task === 'a');
    for (let i = 0; i < n; i++) t.add(`user${String(i).padStart(6, '0')}`, A, 1, i);
    const out = await write(t);
    const lines = out.bill.split('\n');
    expect(lines).toHaveLength(n + 1);
    expect(lines[0]).toBe('user000000: total_duration=0ms, total_cost=0.00');
    expect(lines[n - 1]).toBe(`user059999: total_duration=59999ms, total_cost=${(59999 * 0.5).toFixed(2)}`);
    expect(out.detail.split('\n')).toHaveLength(n + 2);
    expect(out.totals.users).toBe(n);
  });
});

describe('PricedBillWriter', () => {
  const plan = planFromData({
    version: 1,
    currency_decimals: 2,
    tasks: { 'b,x': { per_ms: '1', per_request: '0.5' }, a: { per_ms: '0.001' } },
    customers: { zoë: { discount: '10%', minimum_charge: '7' } },
  });
  const config = billingConfigFromPlan({}, plan);
  const A = config.rates.findIndex((r) => r.task === 'a');
  const BX = config.rates.findIndex((r) => r.task === 'b,x');

  async function write(t: UsageTable) {
    const dir = tempDir('mr-pricedwriter-');
    const staged = new StagedOutputs();
    const d = staged.add(join(dir, 'bill.detail.csv'));
    const b = staged.add(join(dir, 'bill.txt'));
    await finalizePricedBill(t, config, plan, new PricedBillWriter(b, d, config));
    staged.commit();
    return { bill: readFileSync(join(dir, 'bill.txt'), 'utf8'), detail: readFileSync(join(dir, 'bill.detail.csv'), 'utf8').split('\n') };
  }

  it('writes quoted and non-ASCII ids, fees, discounts, minimums and bigint amounts as the README spells them', async () => {
    const t = new UsageTable(2);
    t.add('a,"b"', BX, 2, 5);
    t.add('a,"b"', A, 1, 1234);
    t.add('zoë', A, 3, 1500);
    // 2^60 ms: past the safe integers, on the bigint path.
    t.row('big').addBig(A, 1, 2n ** 60n);
    const out = await write(t);
    expect(out.bill).toBe(
      'a,"b": total_duration=1239ms, total_cost=7.23\nbig: total_duration=1152921504606846976ms, total_cost=1152921504606846.98\nzoë: total_duration=1500ms, total_cost=7.00\n',
    );
    expect(out.detail).toEqual([
      'user,task,requests,duration_ms,billable_ms,usage,fees,cost,discount,discounted,minimum,total',
      '"a,""b""",a,1,1234,1234,1.234,0,1.234,,,,',
      '"a,""b""","b,x",2,5,5,5,1,6,,,,',
      '"a,""b""",,3,1239,,,,7.234,0%,7.234,0,7.23',
      'big,a,1,1152921504606846976,1152921504606846976,1152921504606846.976,0,1152921504606846.976,,,,',
      'big,,1,1152921504606846976,,,,1152921504606846.976,0%,1152921504606846.976,0,1152921504606846.98',
      'zoë,a,3,1500,1500,1.5,0,1.5,,,,',
      'zoë,,3,1500,,,,1.5,10%,1.35,7,7.00',
      '',
    ]);
  });

  it('a priced bill bigger than its write chunks comes out whole and in order', async () => {
    const t = new UsageTable(2);
    const n = 30_000;
    for (let i = 0; i < n; i++) t.add(`user${String(i).padStart(6, '0')}`, BX, 1, i);
    const out = await write(t);
    const lines = out.bill.split('\n');
    expect(lines).toHaveLength(n + 1);
    expect(lines[n - 1]).toBe('user029999: total_duration=29999ms, total_cost=29999.50');
    expect(out.detail).toHaveLength(2 * n + 2);
    expect(out.detail[2 * n]).toBe('user029999,,1,29999,,,,29999.5,0%,29999.5,0,29999.50');
  });
});
