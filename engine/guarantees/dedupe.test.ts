/**
 * Duplicate deliveries (SPEC): the request id rule, FirstWins, the record codec and its
 * split-to-files path, and the naive engine's seen-id set in memory and spilled; property
 * tests: re-delivering any batch of records with ids leaves the bill unchanged, and for
 * disjoint user sets the bill of the union is the union of the bills (naive and parallel).
 */
import { describe, expect, it, afterAll } from 'vitest';
import fc from 'fast-check';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readdirSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { billingConfigFromEnv } from '../core/config/config.js';
import { RecordParser } from '../core/formats/records.js';
import { csvLayout } from '../core/formats/csv.js';
import { discoverInputs } from '../core/input/discover.js';
import type { Rejects } from '../core/outputs/rejects.js';
import { collectBill } from '../core/billing/finalize.js';
import { emptyTally, FirstWins, fingerprint, lineKey, type DedupeSettings } from '../core/dedupe/dedupe.js';
import { DedupeScratch, dedupeRecords, IN_WINDOW, RecordBuffer, forEachRecord } from '../core/dedupe/records-codec.js';
import { runNaive } from '../naive/engine.js';
import { runParallel } from '../parallel/engine.js';
import type { RunInput } from '../core/billing/run.js';
import type { BillingResult } from '../core/billing/usage.js';
import { cleanupTempDirs, engineArgs, tempDir } from '../../fixtures/harness.js';
import { RATES_ENV, runMr, startCli } from '../../fixtures/guarantees.js';

const config = billingConfigFromEnv({ RATE_login: '0.005', RATE_upload: '0.0001' });
const work = mkdtempSync(join(tmpdir(), 'mr-dedupe-test-'));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  cleanupTempDirs();
});

describe('request_id rule (after duration)', () => {
  const p = new RecordParser(config, {}, { deferWindow: true });
  const json = (extra: string, dur = '5') => p.parse(Buffer.from(`{"timestamp":"2025-05-01T00:00:00Z","user":"u","task":"login","status":200,"duration_ms":${dur}${extra}}`), 'jsonl');
  const idOf = (v: ReturnType<typeof json>) => (v.kind === 'valid' ? v.requestId : v.kind === 'rejected' ? v.reason : v.kind);
  it.each([
    ['', null],
    [',"request_id":null', null],
    [',"request_id":""', null],
    [',"request_id":"r-1"', 'r-1'],
    [`,"request_id":"${'x'.repeat(128)}"`, 'x'.repeat(128)],
    [`,"request_id":"${'x'.repeat(129)}"`, 'bad_request_id'],
    [',"request_id":"a b"', 'bad_request_id'],
    [',"request_id":"a\\u0001"', 'bad_request_id'],
    [',"request_id":7', 'bad_request_id'],
    [',"request_id":{}', 'bad_request_id'],
    [',"request_id":true', 'bad_request_id'],
  ])('JSON %s → %s', (extra, want) => expect(idOf(json(extra))).toBe(want));

  it('is checked after the duration: a bad duration names the line first', () => {
    expect(idOf(json(',"request_id":7', '"5"'))).toBe('bad_duration');
  });

  it('CSV: a request_id column (empty = none), any position; the space format has none', () => {
    const layout = csvLayout('request_id,timestamp,user,task,status,duration_ms', 'f.csv');
    expect(layout.requestId).toBe(0);
    const csv = (id: string) => idOf(p.parse(Buffer.from(`${id},2025-05-01T00:00:00Z,u,login,200,5`), 'csv', layout));
    expect(csv('')).toBe(null);
    expect(csv('abc')).toBe('abc');
    expect(csv('"a b"')).toBe('bad_request_id');
    expect(csvLayout('timestamp,user,task,status,duration_ms', 'f.csv').requestId).toBe(-1);
    expect(() => csvLayout('request_id,timestamp,user,task,status,duration_ms,REQUEST_ID', 'f.csv')).toThrow(/more than once/);
    const space = p.parse(Buffer.from('2025-05-01T00:00:00Z u login 200 5ms'), 'space');
    expect(idOf(space)).toBe(null);
  });

  it('line keys: format-tagged, a CSV line under its header only', () => {
    const a = csvLayout('timestamp,user,task,status,duration_ms', 'a.csv');
    const b = csvLayout('timestamp,user,task,status,duration', 'b.csv');
    const line = Buffer.from('2025-05-01T00:00:00Z,u,login,200,5');
    expect(lineKey('csv', a, line)).toBe(lineKey('csv', a, Buffer.from(line)));
    expect(lineKey('csv', a, line)).not.toBe(lineKey('csv', b, line));
    expect(lineKey('space', undefined, line)).not.toBe(lineKey('jsonl', undefined, line));
  });
});

describe('FirstWins', () => {
  it('keeps the first of a key; counts duplicates and conflicts with the differing fields', () => {
    const f = new FirstWins();
    const r = { user: 'u', task: 0, timestamp: '2025-05-01T00:00:00Z', status: 200, durationMs: 5 };
    expect(f.offer('a', fingerprint(r), 0, 0)).toBe(true);
    expect(f.offer('a', fingerprint(r), 0, 10)).toBe(false);
    expect(f.offer('a', fingerprint({ ...r, durationMs: 6, user: 'v' }), 1, 0)).toBe(false);
    expect(f.offer('b', fingerprint(r), 1, 5)).toBe(true);
    expect(f.tally.duplicates).toBe(2);
    expect(f.tally.conflictingDuplicates).toBe(1);
    expect(f.tally.conflictExamples).toEqual([{ requestId: 'a', at: { order: 1, offset: 0 }, first: { order: 0, offset: 0 }, differs: ['user', 'duration'] }]);
  });
});

describe('records codec and dedupeRecords', () => {
  /** Random records in input order with few keys (many duplicates) and some conflicts. */
  const recordsArb = fc.array(
    fc.record({ key: fc.constantFrom('a', 'b', 'c', 'é', '\u{1F600}', 'k'.repeat(100)), user: fc.constantFrom('u1', 'u2'), d: fc.nat(3), w: fc.boolean() }),
    { maxLength: 300, size: 'medium' },
  );
  const encode = (rs: Array<{ key: string; user: string; d: number; w: boolean }>) => {
    const b = new RecordBuffer(16);
    rs.forEach((r, i) => b.add(r.w ? IN_WINDOW : 0, i >> 4, i, r.key, fingerprint({ user: r.user, task: 0, timestamp: 't', status: 200, durationMs: r.d })));
    return b.take();
  };

  it('round-trips records', () => {
    fc.assert(
      fc.property(recordsArb, (rs) => {
        const seen: string[] = [];
        forEachRecord([{ buf: encode(rs) }], (r) => seen.push(`${r.key}|${r.offset}`));
        expect(seen).toEqual(rs.map((r, i) => `${r.key}|${i}`));
      }),
    );
  });

  it('decides as FirstWins does on the decoded records (kept, duplicates, conflicts and their examples), with its memory made or kept from call to call', () => {
    // One scratch for every run, as a worker keeps one for its reduce tasks: larger and smaller partitions in turn.
    const scratch = new DedupeScratch();
    fc.assert(
      fc.property(recordsArb, (rs) => {
        const buf = encode(rs);
        const first = new FirstWins();
        const want: string[] = [];
        forEachRecord([{ buf }], (r) => {
          if (first.offer(r.key, r.fp, r.order, r.offset)) want.push(`${r.fp}|${(r.flags & IN_WINDOW) !== 0}`);
        });
        // Two segments, as a partition's parts from two map tasks.
        const cut = buf.length === 0 ? 0 : forEachRecordEnd(buf, rs.length >> 1);
        for (const kept of [undefined, scratch]) {
          const tally = emptyTally();
          const got: string[] = [];
          dedupeRecords([{ buf: buf.subarray(0, cut) }, { buf: buf.subarray(cut) }], { memoryBytes: 1 << 30, tmpDir: work, scratch: kept }, tally, (b, fs, fe, w) => got.push(`${b.toString('utf8', fs, fe)}|${w}`));
          expect(got).toEqual(want);
          expect(tally).toEqual(first.tally);
        }
      }),
    );
  });

  it('splitting into files beyond the budget decides exactly as in memory', () => {
    const scratch = new DedupeScratch();
    fc.assert(
      fc.property(recordsArb, (rs) => {
        const run = (memoryBytes: number) => {
          const tally = emptyTally();
          const kept: string[] = [];
          dedupeRecords([{ buf: encode(rs) }], { memoryBytes, tmpDir: work, scratch: memoryBytes === 1 ? scratch : undefined }, tally, (buf, fs, fe, w) => kept.push(`${buf.toString('utf8', fs, fe)}|${w}`));
          return { tally, kept: kept.sort() };
        };
        expect(run(1)).toEqual(run(1 << 30));
      }),
      { numRuns: 30 },
    );
    expect(readdirSync(work)).toEqual([]);
  });
});

/** Where the record after the first `n` records of buf starts. */
function forEachRecordEnd(buf: Buffer, n: number): number {
  let at = 0;
  let i = 0;
  forEachRecord([{ buf }], (r) => {
    if (i++ < n) at += 17 + Buffer.byteLength(r.key) + 4 + Buffer.byteLength(r.fp);
  });
  return at;
}

/** Runs an engine on files in a fresh directory. */
async function bill(engine: (i: RunInput) => Promise<BillingResult>, files: Record<string, string>, dedupe: DedupeSettings): Promise<{ text: string; counts: BillingResult['counts'] }> {
  const dir = mkdtempSync(join(work, 'in-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const { files: found } = await discoverInputs([dir]);
  const rejects: Rejects = { add: () => true, drain: async () => undefined };
  const input: RunInput = { files: found, config, window: {}, rejects, onBytes: () => undefined, signal: new AbortController().signal, dedupe: { ...dedupe, tmpDir: work } };
  const r = await engine(input);
  const b = await collectBill(r.usage, config);
  rmSync(dir, { recursive: true, force: true });
  return { text: b.bills.map((u) => `${u.user} ${u.durationMs} ${u.costPicos}`).join('\n'), counts: r.counts };
}

const naive = runNaive;
const parallel = (i: RunInput) => runParallel(i, { workers: 2, shardBytes: 64 });

interface Rec {
  id: string;
  user: string;
  task: 'login' | 'upload';
  d: number;
}
const jsonLine = (r: Rec) => `{"request_id":"${r.id}","timestamp":"2025-05-01T00:00:00Z","user":"${r.user}","task":"${r.task}","status":200,"duration_ms":${r.d}}\n`;
const csvLine = (r: Rec) => `${r.id},2025-05-01T00:00:00Z,${r.user},${r.task},200,${r.d}\n`;
const CSV_HEADER = 'request_id,timestamp,user,task,status,duration_ms\n';
const recsArb = (users: string[]) =>
  fc.uniqueArray(fc.record({ id: fc.stringMatching(/^[a-z0-9]{1,6}$/), user: fc.constantFrom(...users), task: fc.constantFrom('login' as const, 'upload' as const), d: fc.nat(5000) }), {
    selector: (r) => r.id,
    minLength: 1,
    maxLength: 40,
  });

describe('engines: properties of dedupe by request id', () => {
  for (const [name, engine] of [
    ['naive', naive],
    ['parallel', parallel],
  ] as const) {
    it(`${name}: re-delivering any batch of records with ids does not change the bill`, async () => {
      await fc.assert(
        fc.asyncProperty(recsArb(['u1', 'u2', 'u3']), fc.nat(), fc.nat(), fc.nat(), async (recs, a, b, at) => {
          const from = a % recs.length;
          const to = from + 1 + (b % (recs.length - from));
          const batch = recs.slice(from, to);
          const pos = at % (recs.length + 1);
          // The batch comes again somewhere later (at or after its end), as a retrying shipper sends it.
          const where = Math.max(pos, to);
          const again = [...recs.slice(0, where), ...batch, ...recs.slice(where)];
          const once = await bill(engine, { 'a.jsonl': recs.map(jsonLine).join('') }, { mode: 'auto', memoryBytes: 1 << 30 });
          const twice = await bill(engine, { 'a.jsonl': again.map(jsonLine).join('') }, { mode: 'auto', memoryBytes: 1 << 30 });
          expect(twice.text).toBe(once.text);
          expect(twice.counts.duplicates).toBe(batch.length);
          expect(twice.counts.conflictingDuplicates).toBe(0);
        }),
        { numRuns: 12 },
      );
    }, 120_000);

    it(`${name}: disjoint user sets: the bill of the union is the union of the bills`, async () => {
      await fc.assert(
        fc.asyncProperty(recsArb(['a1', 'a2']), recsArb(['b1', 'b2']), async (x, y) => {
          // Ids are the users' own (a shipper per customer): no id is shared across the two sets.
          const ax = x.map((r) => ({ ...r, id: `x${r.id}` }));
          const by = y.map((r) => ({ ...r, id: `y${r.id}` }));
          const dup = (rs: Rec[]) => [...rs, ...rs.slice(0, 3)];
          const left = await bill(engine, { 'x.jsonl': dup(ax).map(jsonLine).join('') }, { mode: 'auto', memoryBytes: 1 << 30 });
          const right = await bill(engine, { 'y.csv': CSV_HEADER + dup(by).map(csvLine).join('') }, { mode: 'auto', memoryBytes: 1 << 30 });
          const union = await bill(engine, { 'x.jsonl': dup(ax).map(jsonLine).join(''), 'y.csv': CSV_HEADER + dup(by).map(csvLine).join('') }, { mode: 'auto', memoryBytes: 1 << 30 });
          expect(union.text).toBe([left.text, right.text].filter((t) => t !== '').join('\n'));
          expect(union.counts.duplicates).toBe(left.counts.duplicates + right.counts.duplicates);
        }),
        { numRuns: 8 },
      );
    }, 120_000);
  }

  it('naive spilled (tiny budget) ≡ naive in memory ≡ parallel spilled, with conflicts, across files and formats', async () => {
    const recs: Rec[] = Array.from({ length: 400 }, (_, i) => ({ id: `r${i % 150}`, user: `u${i % 7}`, task: i % 3 === 0 ? 'upload' : 'login', d: i % 11 === 0 ? i : 100 + (i % 150) }));
    const files = {
      'a.jsonl': recs.slice(0, 200).map(jsonLine).join(''),
      'b.csv': CSV_HEADER + recs.slice(200).map(csvLine).join(''),
      'c.log': '2025-05-01T00:00:00Z u9 login 200 5ms\n'.repeat(3),
    };
    const big = await bill(naive, files, { mode: 'auto', memoryBytes: 1 << 30 });
    const spilled = await bill(naive, files, { mode: 'auto', memoryBytes: 2000 });
    const par = await bill(parallel, files, { mode: 'auto', memoryBytes: 2000 });
    expect(spilled.text).toBe(big.text);
    expect(par.text).toBe(big.text);
    for (const r of [spilled, par]) {
      expect([r.counts.accepted, r.counts.duplicates, r.counts.conflictingDuplicates]).toEqual([big.counts.accepted, big.counts.duplicates, big.counts.conflictingDuplicates]);
      expect(r.counts.conflictExamples).toEqual(big.counts.conflictExamples);
    }
    expect(big.counts.duplicates).toBe(250);
    expect(big.counts.accepted).toBe(153);
    expect(big.counts.conflictingDuplicates).toBeGreaterThan(0);
    const line = await bill(naive, files, { mode: 'line', memoryBytes: 2000 });
    const lineBig = await bill(naive, files, { mode: 'line', memoryBytes: 1 << 30 });
    const lineParallel = await bill(parallel, files, { mode: 'line', memoryBytes: 2000 });
    expect(line.text).toBe(lineBig.text);
    expect(lineParallel.text).toBe(lineBig.text);
    // The space file's three identical lines are one record under --dedupe line.
    expect(lineBig.counts.duplicates).toBeGreaterThanOrEqual(2);
    expect(readdirSync(work).filter((f) => f.startsWith('mr-'))).toEqual([]);
  }, 120_000);
});

describe('parallel: SIGTERM during the dedupe reduce', () => {
  it('stops the running reduce tasks cooperatively and starts no more: exit 143, no outputs, no temporary files', async () => {
    const dir = tempDir('mr-dedupe-signal-');
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    writeFileSync(join(dir, '.env'), RATES_ENV);
    // 48 MiB of JSON lines with ids: about 30 MiB of shuffle, 64 partitions of about 500 KB.
    const gen = await runMr(['generate', '--out', 'in.jsonl', '--size', '48MiB', '--request-ids', '--redeliver', '0.01', '--seed', '5'], { cwd: dir });
    expect(gen.code, gen.stderr).toBe(0);
    // A 1 MiB budget: every reduce task splits its partition into an mr-dedupe-* directory of
    // its own, so the directories made in TMPDIR (inotify, not polling) show each reduce task as it starts.
    const made: Array<{ name: string; at: number }> = [];
    const watcher = watch(tmp, (_event, name) => {
      if (name !== null && name.startsWith('mr-dedupe-') && !made.some((m) => m.name === name)) made.push({ name, at: Date.now() });
    });
    try {
      const run = startCli(['aggregate', 'in.jsonl', ...engineArgs('parallel', 2), '--out', 'out/billing.txt', '--no-progress'], {
        cwd: dir,
        env: { TMPDIR: tmp, DEDUPE_MEMORY_MIB: '1' },
      });
      while (made.length === 0) {
        if (run.child.exitCode !== null) throw new Error(`the run ended before its reduce phase: ${run.stderr()}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const killedAt = Date.now();
      run.child.kill('SIGTERM');
      const { code, stderr } = await run.done;
      await new Promise((r) => setTimeout(r, 300));
      expect(stderr).not.toMatch(/Assertion failed|FATAL ERROR|Segmentation|bill written/);
      expect(code, stderr).toBe(143);
      expect(existsSync(join(dir, 'out', 'billing.txt'))).toBe(false);
      expect(readdirSync(tmp), 'spill and split directories removed').toEqual([]);
      // Without the stop flag the remaining partitions (about 60) would all be reduced after the signal.
      const after = made.filter((m) => m.at > killedAt + 50).length;
      expect(after, `reduce tasks started after SIGTERM (of ${made.length})`).toBeLessThanOrEqual(2);
    } finally {
      watcher.close();
    }
  }, 120_000);
});
