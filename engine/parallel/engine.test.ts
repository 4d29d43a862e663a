/**
 * Property: the parallel engine gives the naive engine's bill, counts and rejects for any
 * input, worker count and shard size (shards as small as one byte), in every format.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { billingConfigFromEnv, billingConfigFromPlan, type BillingConfig } from '../core/config/config.js';
import { parsePlanText, planFromData, type PricingPlan } from '../core/pricing/plan.js';
import { discoverInputs } from '../core/input/discover.js';
import { StagedOutputs } from '../core/outputs/staged.js';
import { RejectsWriter } from '../core/outputs/rejects.js';
import { collectBill } from '../core/billing/finalize.js';
import { billText, writeBillFiles } from '../core/outputs/bill.js';
import type { RunInput } from '../core/billing/run.js';
import type { BillingResult } from '../core/billing/usage.js';
import type { TimeWindow } from '../core/validation/timestamp.js';
import { parseTimestamp } from '../core/validation/timestamp.js';
import { runNaive } from '../naive/engine.js';
import { runParallel } from './engine.js';

const config: BillingConfig = billingConfigFromEnv({ RATE_login: '0.005', RATE_createOrder: '0.010', RATE_x: '0.000000000001', MAX_DURATION_MS: '5000' });

async function run(engine: (i: RunInput) => Promise<BillingResult>, dir: string, window: TimeWindow, tag: string) {
  const found = await discoverInputs([join(dir, 'in')]);
  const staged = new StagedOutputs();
  const path = join(dir, `${tag}.rejects.csv`);
  const rejects = new RejectsWriter(staged.add(path));
  const result = await engine({ files: found.files, config, window, rejects, onBytes: () => {}, signal: new AbortController().signal });
  await rejects.end();
  staged.commit();
  const bill = billText(await collectBill(result.usage, config));
  await result.release?.();
  return { bill, counts: result.counts, rejects: readFileSync(path, 'utf8') };
}

// Building blocks that hit every rule and its edges; valid values are the most common.
const mostly = <T>(valid: T[], edges: T[]) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...edges) });
const ts = mostly(
  ['2025-05-02T23:16:50Z', '2025-05-02t23:16:51z', '2024-02-29T00:00:00.5+02:00', '2025-05-03T00:00:00-01:30', '2025-05-02T23:16:50.000Z'],
  ['2025-02-29T10:00:00Z', '2025-05-02T24:00:00Z', '2025-05-02T23:59:60Z', '2025-05-02T23:16:50', '2025-13-02T23:16:50Z', '2025-05-02T23:16:50+24:00', 'x', '2025-05-02T23:16:50.Z'],
);
const user = mostly(['user1', 'u2', '__proto__', 'constructor', 'é', '😀', 'ｕ', 'x'.repeat(128)], ['y'.repeat(129), 'a\u00a0b', 'c\u0001', 'a\u3000', 'd\u0085', 'e\u007f']);
const task = mostly(['login', 'createOrder', 'x'], ['Login', 'refund', 'login2']);
const status = mostly(['200', '0200', '599', '100', '404'], ['600', '99', '2x', '+200', '0', '']);
const duration = mostly(['0ms', '1568ms', '5000ms', '007ms'], ['5001ms', '12s', 'ms', '99999999999999999999ms', '1568', '-1ms', '1.5ms']);
const sep = fc.constantFrom(' ', '  ', '\t', ' \t ');
const spaceLine = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(ts, user, task, status, duration, sep, fc.boolean()).map(([a, b, c, d, e, s, pad]) => `${pad ? ' ' : ''}${[a, b, c, d, e].join(s)}${pad ? '\t' : ''}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '\t', 'a b c', 'a b c d e f', '\r', '\uFEFFx', '2025-05-02T23:16:50Z user1 login 200 1ms extra') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from('2025-05-02T23:16:50Z us\xffer login 200 1ms', 'latin1'), Buffer.from('2025-05-02T23:16:50Z user\xc3 login 200 1ms', 'latin1'), Buffer.from('2025-05-02T23:16:50Z \xed\xa0\x80 login 200 1ms', 'latin1')) },
);
const csvLine = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(ts, user, task, status, duration, fc.boolean()).map(([a, b, c, d, e, strip]) => [a, b, c, d, strip ? e.replace(/ms$/, '') : e].join(',')) },
  { weight: 1, arbitrary: fc.tuple(ts, user, task).map(([a, b, c]) => `"${a}","${b.replace(/"/g, '""')}",${c},200,"10"`) },
  { weight: 1, arbitrary: fc.constantFrom('a,b', '"unterminated,x,y,z,w', 'a"b,c,d,e,f', '"a"x,b,c,d,e', ',,,,', '', ' ') },
);
const jsonLine = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(ts, user, task, mostly<unknown>([200, 404, 2e2], [700, '200', 200.5, null]), mostly<unknown>([10, 0, 5000], [5001, '10', 1.5, -1])).map(([a, b, c, d, e]) => JSON.stringify({ timestamp: a, user: b, task: c, status: d, duration_ms: e })) },
  { weight: 1, arbitrary: fc.constantFrom('[1,2]', 'null', '{"timestamp":1}', '{bad', '"s"', '{"__proto__":{"user":"x"}}', '{"timestamp":"2025-05-02T23:16:50Z","user":"a","task":"login","status":200}') },
  // Numbers as written, integers or not, that JSON.parse reads as integers (README decision 47).
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('200', '2e2', '200.000', '199.99999999999999999'), fc.constantFrom('10', '1e1', '100e-1', '9.9999999999999999999', '1e-400', '0.5e1'))
      .map(([st, du]) => `{"timestamp":"2025-05-02T23:16:50Z","user":"n1","task":"login","status":${st},"duration_ms":${du}}`),
  },
);

type Format = 'log' | 'csv' | 'jsonl';
const LINES: Record<Format, fc.Arbitrary<string | Buffer>> = { log: spaceLine, csv: csvLine, jsonl: jsonLine };
const file = fc.constantFrom<Format>('log', 'log', 'csv', 'jsonl').chain((format) =>
  fc.record({
    format: fc.constant(format),
    lines: fc.array(LINES[format], { maxLength: 40, size: 'medium' }),
    crlf: fc.boolean(),
    finalNewline: fc.boolean(),
    bom: fc.boolean(),
    gzip: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    longLine: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  }),
);

function render(f: typeof file extends fc.Arbitrary<infer T> ? T : never, fmtLines: Array<string | Buffer>): Buffer {
  const nl = f.crlf ? '\r\n' : '\n';
  const lines = [...fmtLines];
  if (f.format === 'csv') lines.unshift('Timestamp,user,TASK,status,duration_ms');
  if (f.longLine) lines.splice(Math.max(f.format === 'csv' ? 1 : 0, lines.length >> 1), 0, `2025-05-02T23:16:50Z user1 login 200 ${'1'.repeat(70_000)}ms`);
  const parts: Buffer[] = f.bom ? [Buffer.from('\uFEFF')] : [];
  lines.forEach((l, i) => {
    parts.push(typeof l === 'string' ? Buffer.from(l, 'utf8') : l);
    if (i < lines.length - 1 || f.finalNewline) parts.push(Buffer.from(nl));
  });
  return Buffer.concat(parts);
}

/** Runs `body` on a fresh directory whose `in/` holds `files` (name → contents); the directory is removed afterwards. */
async function withInputs<T>(files: Record<string, string | Uint8Array>, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'mr-prop-'));
  try {
    mkdirSync(join(dir, 'in'));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, 'in', name), content);
    return await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('parallel engine equals naive engine', () => {
  it('on random inputs, workers, shard sizes and usage table bounds (tables spilled as sorted runs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(file, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 400 }),
        fc.option(fc.constantFrom('2025-05-02T23:16:50Z', '2025-05-02T23:16:50.0000001Z'), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        // Worker tables partitioned from the start, after a few users, or (the default) not at these sizes.
        fc.constantFrom(0, 3, undefined),
        async (files, workers, shardBytes, from, maxTableEntries, partitionFrom) => {
          const inputs = Object.fromEntries(
            files.map((f, i) => {
              const body = render(f, f.lines);
              return [`f${i}.${f.format}${f.gzip ? '.gz' : ''}`, f.gzip ? gzipSync(body) : body];
            }),
          );
          await withInputs(inputs, async (dir) => {
            const window: TimeWindow = from === undefined ? {} : { from: parseTimestamp(from)! };
            const naive = await run(runNaive, dir, window, 'naive');
            // A 70 KB line in one-byte shards would be 70,000 tasks: long lines get larger shards.
            const size = files.some((f) => f.longLine) ? shardBytes * 100 : shardBytes;
            const spills = () => readdirSync(tmpdir()).filter((n) => n.startsWith('mr-usage-')).length;
            const before = spills();
            const parallel = await run((i) => runParallel(i, { workers, shardBytes: size, maxTableEntries, partitionFrom }), dir, window, 'parallel');
            // The result's release removed the spilled runs.
            expect(spills()).toBeLessThanOrEqual(before);
            expect(parallel.counts).toEqual(naive.counts);
            expect(parallel.bill).toBe(naive.bill);
            expect(parallel.rejects).toBe(naive.rejects);
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('on gzip files of many decompressed chunks, in every format, their lines cut by the chunks anywhere', async () => {
    // About 3 MB each once decompressed (zlib hands out 1 MiB chunks): valid lines, rejects of
    // every kind, a long line, CRLF, and a multi-member file (two gzip streams back to back).
    const row = (i: number) => [`2025-05-02T23:16:${String(i % 60).padStart(2, '0')}Z`, `user${(i * 7919) % 5000}`, i % 3 === 0 ? 'createOrder' : 'login', i % 97 === 0 ? '700' : '200', `${i % 5001}`] as const;
    const n = 60_000;
    const space = Array.from({ length: n }, (_, i) => (i % 1001 === 0 ? `2025-05-02T23:16:50Z user${i} login 200 ${'1'.repeat(70_000)}ms` : `${row(i).slice(0, 4).join(i % 5 === 0 ? '\t' : ' ')} ${row(i)[4]}ms`));
    const csv = ['timestamp,user,task,status,duration_ms', ...Array.from({ length: n }, (_, i) => (i % 4 === 0 ? row(i).map((f) => `"${f}"`).join(',') : row(i).join(',')))];
    const jsonl = Array.from({ length: n }, (_, i) => { const [a, b, c, d, e] = row(i); return i % 499 === 0 ? '{"timestamp":' : JSON.stringify({ timestamp: a, user: b, task: c, status: Number(d), duration_ms: Number(e) }); });
    const text = (lines: string[], crlf: boolean) => Buffer.from(lines.join(crlf ? '\r\n' : '\n') + '\n');
    const half = (b: Buffer) => Buffer.concat([gzipSync(b.subarray(0, b.length >> 1)), gzipSync(b.subarray(b.length >> 1))]);
    const inputs = { 'a.log.gz': gzipSync(text(space, true)), 'b.csv.gz': gzipSync(text(csv, false)), 'c.jsonl.gz': half(text(jsonl, false)) };
    await withInputs(inputs, async (dir) => {
      const naive = await run(runNaive, dir, {}, 'naive');
      expect(naive.counts.accepted).toBeGreaterThan(2 * n);
      expect(naive.counts.rejected.line_too_long).toBeGreaterThan(0);
      expect(naive.counts.rejected.bad_json).toBeGreaterThan(0);
      expect(naive.counts.rejected.bad_status).toBeGreaterThan(0);
      for (const workers of [1, 2]) expect(await run((i) => runParallel(i, { workers }), dir, {}, `parallel${workers}`)).toEqual(naive);
    });
  });

  it('on every combination of edge values of the five fields, with every separator', async () => {
    const pick = <T>(arb: fc.Arbitrary<T>) => fc.sample(arb, 200).filter((v, i, all) => all.indexOf(v) === i);
    const [tss, users, tasks, statuses, durations] = [pick(ts), pick(user), pick(task), pick(status), pick(duration)];
    const seps = [' ', '\t', ' \t  '];
    const lines: string[] = [];
    let k = 0;
    for (const a of tss) for (const b of users) for (const c of tasks) for (const d of statuses) for (const e of durations) {
      const sp = seps[k++ % seps.length]!;
      lines.push(`${k % 7 === 0 ? ' ' : ''}${[a, b, c, d, e].join(sp)}${k % 5 === 0 ? ' ' : ''}`);
    }
    await withInputs({ 'all.log': lines.join('\n') }, async (dir) => {
      const naive = await run(runNaive, dir, {}, 'naive');
      const parallel = await run((i) => runParallel(i, { workers: 2, shardBytes: 1 << 16 }), dir, {}, 'parallel');
      expect(naive.counts.records).toBe(lines.length);
      expect(naive.counts.accepted).toBeGreaterThan(0);
      expect(parallel.counts).toEqual(naive.counts);
      expect(parallel.bill).toBe(naive.bill);
      expect(parallel.rejects).toBe(naive.rejects);
    });
  });

  it('on lines cut by shard boundaries at every byte, CRLF split across a boundary, and a line longer than a shard', async () => {
    const line = '2025-05-02T23:16:50Z user1 login 200 1000ms';
    const cases: Array<[string, number[], number]> = [
      [`\uFEFF${line}\r\n${line}\r\n\r\n \t\r\n${line}`, [1, 2, 3, 4, 44, 45, 46, 47, 48, 90, 91, 1000], 3],
      [`${line}\n${'x'.repeat(70_000)}\r\n${line}\n`, [1000, 65_536, 65_538, 70_000, 70_046], 2],
    ];
    // The BOM is not part of the first line: 65,536 bytes after it are within the limit, 65,537 are not.
    for (const [n, tooLong] of [[65_536, 0], [65_537, 1]] as const) {
      await withInputs({ 'a.log': `\uFEFF${'x'.repeat(n)}\r\n${line}` }, async (dir) => {
        const naive = await run(runNaive, dir, {}, 'naive');
        expect(naive.counts.rejected.line_too_long).toBe(tooLong);
        expect(naive.counts.rejected.bad_field_count).toBe(1 - tooLong);
        // The raw column shows the line's first 1 KiB after the BOM, as for any line at offset 0.
        if (tooLong === 1) expect(naive.rejects).toMatch(new RegExp(`,0,line_too_long,x{1024}\n`));
        for (const shardBytes of [1000, 70_000]) {
          expect(await run((i) => runParallel(i, { workers: 2, shardBytes }), dir, {}, 'parallel')).toEqual(naive);
        }
      });
    }
    for (const [content, sizes, accepted] of cases) {
      await withInputs({ 'a.log': content }, async (dir) => {
        const naive = await run(runNaive, dir, {}, 'naive');
        expect(naive.counts.accepted).toBe(accepted);
        for (const shardBytes of sizes) {
          const parallel = await run((i) => runParallel(i, { workers: 2, shardBytes }), dir, {}, 'parallel');
          expect(parallel, `shard ${shardBytes}`).toEqual(naive);
        }
      });
    }
  });

  it('when a line the fast path gives up brings a new task, or a new user at the bound, while its lines wait in a batch', async () => {
    // 8,300 users: the table batches its lookups (from 8,192 users). Then, each after lines of
    // known users the fast path took, lines it hands to the per-line rules (a ten-digit fraction, a padded
    // duration): a new user of a known task (at a bound of 8,300 users the table spills), a
    // task no line named before (the table widens), another one for a known user.
    const users = Array.from({ length: 8300 }, (_, i) => `2025-05-02T10:00:03Z u${String(i).padStart(5, '0')} login 200 5ms`);
    const lines = [
      ...users,
      ...users.slice(0, 100),
      '2025-05-02T10:00:03.1234567890Z zoe login 200 7ms',
      '2025-05-02T10:00:03Z yan createOrder 200 00000000000000007ms',
      ...users.slice(100, 200),
      '2025-05-02T10:00:03.5Z u00001 x 200 9ms',
      ...users.slice(0, 10),
    ];
    await withInputs({ 'a.log': lines.join('\n') }, async (dir) => {
      const naive = await run(runNaive, dir, {}, 'naive');
      expect(naive.counts.accepted).toBe(8513);
      for (const maxTableEntries of [undefined, 8300]) {
        expect(await run((i) => runParallel(i, { workers: 1, maxTableEntries, partitionFrom: 1 << 20 }), dir, {}, 'parallel')).toEqual(naive);
      }
    });
  });
});

/** A run's configuration under a pricing plan: the plan, and its tasks as the rates' (as the CLI makes them). */
interface Priced {
  readonly plan: PricingPlan;
  readonly config: BillingConfig;
}

/** The bill and detail as the CLI writes them: the main thread's finalize, or the engine's own writeBill when it offers one. */
async function writtenBill(result: BillingResult, dir: string, tag: string, signal = new AbortController().signal, priced?: Priced) {
  const staged = new StagedOutputs();
  const out = join(dir, tag);
  const [b, d] = [staged.add(join(out, 'billing.txt')), staged.add(join(out, 'billing.detail.csv'))];
  try {
    const totals =
      result.writeBill !== undefined
        ? await result.writeBill(b, d, signal, priced?.plan)
        : (await writeBillFiles(result.usage, priced?.config ?? config, priced?.plan, b, d)).totals;
    staged.commit();
    // Nothing but the two outputs is left beside them (no part file).
    expect(readdirSync(out).sort()).toEqual(['billing.detail.csv', 'billing.txt']);
    return { totals, bill: readFileSync(join(out, 'billing.txt'), 'utf8'), detail: readFileSync(join(out, 'billing.detail.csv'), 'utf8') };
  } finally {
    staged.discard();
    await result.release?.();
  }
}

async function engineResult(engine: (i: RunInput) => Promise<BillingResult>, dir: string, tag: string, cfg = config): Promise<BillingResult> {
  const found = await discoverInputs([join(dir, 'in')]);
  const staged = new StagedOutputs();
  const rejects = new RejectsWriter(staged.add(join(dir, `${tag}.rejects.csv`)));
  const result = await engine({ files: found.files, config: cfg, window: {}, rejects, onBytes: () => {}, signal: new AbortController().signal });
  await rejects.end();
  staged.commit();
  return result;
}

describe('a large bill written with the workers, in key ranges (writeBill)', () => {
  it('is byte for byte what the main thread writes, bill, detail and totals, on random inputs, workers and table bounds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(file, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 2, max: 4 }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        fc.constantFrom(0, undefined),
        // Ranges of a cell (many more ranges than workers, several sent to each), of a few users, or as large as the bill.
        fc.constantFrom(1, 7, 40, 1e9),
        async (files, workers, maxTableEntries, partitionFrom, billRangeCells) => {
          await withInputs(Object.fromEntries(files.map((f, i) => [`f${i}.${f.format}`, render({ ...f, longLine: false }, f.lines)])), async (dir) => {
            const naive = await writtenBill(await engineResult(runNaive, dir, 'naive'), dir, 'naive');
            const parallel = await engineResult(
              (i) => runParallel(i, { workers, shardBytes: 64, maxTableEntries, partitionFrom, billInWorkers: true, billInWorkersFrom: 0, billRangeCells }),
              dir,
              'parallel',
            );
            expect(parallel.writeBill).toBeDefined();
            const inWorkers = await writtenBill(parallel, dir, 'parallel');
            expect(inWorkers).toEqual(naive);
          });
        },
      ),
      { numRuns: 25 },
    );
  });

  it('on thousands of users of every kind of id, cut into ranges inside runs spilled by a bounded table', async () => {
    const ids = Array.from({ length: 3000 }, (_, i) => (i % 5 === 0 ? `é${i}` : i % 7 === 0 ? `${'long-user-id-'.repeat(3)}${i}` : i % 11 === 0 ? `😀${i}` : `user${i}`));
    const lines = Array.from({ length: 12_000 }, (_, i) => `2025-05-02T23:16:50Z ${ids[(i * 7919) % ids.length]} ${i % 3 === 0 ? 'login' : 'createOrder'} 200 ${i % 5000}ms`);
    await withInputs({ 'a.log': lines.join('\n') }, async (dir) => {
      const naive = await writtenBill(await engineResult(runNaive, dir, 'naive'), dir, 'naive');
      expect(naive.totals.users).toBe(3000);
      // Bounded or not, in users or in bytes of long ids (2,000: about 50 of the 430 long ids), with worker tables partitioned past 100 users or not.
      const bounds: Array<[number | undefined, number | undefined, number | undefined]> = [
        [undefined, undefined, undefined],
        [700, undefined, undefined],
        [undefined, 100, undefined],
        [700, 100, undefined],
        [undefined, undefined, 2_000],
        [undefined, 100, 2_000],
      ];
      for (const [maxTableEntries, partitionFrom, maxTableLongKeyBytes] of bounds) {
        const tag = `p${maxTableEntries}-${partitionFrom}-${maxTableLongKeyBytes}`;
        // Ranges of about 100 users: 30 of them, sent a few at a time, several cut inside each run.
        const parallel = await engineResult(
          (i) => runParallel(i, { workers: 3, shardBytes: 20_000, maxTableEntries, maxTableLongKeyBytes, partitionFrom, billInWorkers: true, billInWorkersFrom: 0, billRangeCells: 300 }),
          dir,
          tag,
        );
        expect(await writtenBill(parallel, dir, tag)).toEqual(naive);
      }
      // Below the threshold the main thread writes it: the same bytes.
      const small = await engineResult((i) => runParallel(i, { workers: 2, billInWorkers: true, billInWorkersFrom: 1e9 }), dir, 'small');
      expect(await writtenBill(small, dir, 'small')).toEqual(naive);
      // Under a pricing plan (tiers, fees, free time, a minimum, discounts that make amounts of 10^-24 units).
      const plan = planFromData(
        parsePlanText(
          [
            'version: 1',
            'currency_decimals: 2',
            'minimum_charge: "0.50"',
            'tasks:',
            '  login: { tiers: [{ up_to_ms: 100, per_ms: "0.01" }, { per_ms: "0.001" }], per_request: "0.05", free_ms: 50 }',
            '  createOrder: { per_ms: "0.0004" }',
            'customers:',
            '  user8: { discount: "10%" }',
            '  é10: { discount: "33.3333333333%", minimum_charge: "0" }',
          ].join('\n'),
          false,
        ),
      );
      const priced: Priced = { plan, config: billingConfigFromPlan({}, plan) };
      const naivePriced = await writtenBill(await engineResult(runNaive, dir, 'naive-priced', priced.config), dir, 'naive-priced', undefined, priced);
      expect(naivePriced.totals.totalCostText).toBeDefined();
      for (const maxTableEntries of [undefined, 700]) {
        const tag = `priced-${maxTableEntries}`;
        const parallel = await engineResult(
          (i) => runParallel(i, { workers: 3, shardBytes: 20_000, maxTableEntries, billInWorkers: true, billInWorkersFrom: 0, billRangeCells: 500 }),
          dir,
          tag,
          priced.config,
        );
        expect(await writtenBill(parallel, dir, tag, undefined, priced)).toEqual(naivePriced);
      }
    });
  });

  it('stops when the run is aborted, leaving no part of the bill behind', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `2025-05-02T23:16:50Z user${i} login 200 1ms`);
    await withInputs({ 'a.log': lines.join('\n') }, async (dir) => {
      // Aborted before, and while the workers write (the abort lands once their tasks are sent).
      for (const when of ['before', 'during'] as const) {
        const parallel = await engineResult((i) => runParallel(i, { workers: 2, billInWorkers: true, billInWorkersFrom: 0, billRangeCells: 1000 }), dir, when);
        const abort = new AbortController();
        if (when === 'before') abort.abort(new Error('interrupted'));
        const staged = new StagedOutputs();
        const out = join(dir, `out-${when}`);
        try {
          const writing = parallel.writeBill!(staged.add(join(out, 'billing.txt')), staged.add(join(out, 'billing.detail.csv')), abort.signal);
          if (when === 'during') abort.abort(new Error('interrupted'));
          await expect(writing).rejects.toThrow('interrupted');
        } finally {
          staged.discard();
          await parallel.release?.();
        }
        expect(readdirSync(out)).toEqual([]);
      }
    });
  });
});
