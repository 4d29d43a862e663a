/**
 * Guarantee: bad input never crashes a run, never makes the engines disagree, and a rejected
 * line is never billed. fast-check builds valid logs in every format (user ids include
 * JavaScript object keys such as `__proto__` and `constructor`), mutates them at byte level
 * (truncations, swapped fields, invalid UTF-8, huge numbers, stray quotes, CR without LF,
 * NUL, BOMs, deleted and duplicated bytes), and runs the naive and the parallel engine (2
 * workers, tiny random shards) on the result. Both must finish (or fail with the same
 * message), with the same counts per reason, the same usage and the same rejects (file,
 * offset, reason, raw bytes); and the usage must be exactly what the lines that were not
 * rejected add up to, by an independent reading of those lines.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, tempDir } from '../../fixtures/harness.js';
import { billingConfigFromEnv, type BillingConfig } from '../core/config/config.js';
import { discoverInputs } from '../core/input/discover.js';
import type { RunInput } from '../core/billing/run.js';
import { isSortedUsage, sortedUsageEntries, usageEntries, type BillingResult } from '../core/billing/usage.js';
import type { Rejects } from '../core/outputs/rejects.js';
import type { RejectReason } from '../core/validation/reasons.js';
import { runNaive } from '../naive/engine.js';
import { runParallel } from '../parallel/engine.js';

afterAll(cleanupTempDirs);

const TASKS = ['login', 'getUserProfile', 'createOrder'];
const CONFIG: BillingConfig = billingConfigFromEnv({ RATE_login: '0.005', RATE_getUserProfile: '0.002', RATE_createOrder: '0.010' });
const USERS = ['user1', 'user2', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'ü', '😀', 'a"b', 'a,b'];

type Format = 'space' | 'csv' | 'jsonl';
const EXT: Record<Format, string> = { space: 'log', csv: 'csv', jsonl: 'jsonl' };

interface Rec {
  ts: string;
  user: string;
  task: string;
  status: number;
  duration: number;
}

const recArb: fc.Arbitrary<Rec> = fc.record({
  ts: fc.constantFrom('2025-05-02T23:16:50Z', '2025-05-02T23:16:50.123+02:00', '2024-02-29T00:00:00Z', '2025-12-31T23:59:59.999999Z'),
  user: fc.constantFrom(...USERS),
  task: fc.constantFrom(...TASKS, 'unknownTask'),
  status: fc.constantFrom(200, 404, 500, 100, 599),
  duration: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constant(86_400_000)),
});

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function lineOf(format: Format, r: Rec): string {
  switch (format) {
    case 'space':
      return `${r.ts} ${r.user} ${r.task} ${r.status} ${r.duration}ms`;
    case 'csv':
      return [r.ts, r.user, r.task, String(r.status), String(r.duration)].map(csvField).join(',');
    case 'jsonl':
      return JSON.stringify({ timestamp: r.ts, user: r.user, task: r.task, status: r.status, duration_ms: r.duration });
  }
}

const HEADER = 'timestamp,user,task,status,duration_ms';

/** Byte-level mutations of a file. Positions are fractions of the length, so they apply to any file. */
type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'duplicate'; at: number; len: number }
  | { kind: 'swapFields'; line: number; a: number; b: number }
  | { kind: 'hugeNumber'; at: number; text: string };

const SPECIAL_BYTES: number[][] = [
  [0xff], // never valid UTF-8
  [0xc3], // a lead byte alone
  [0xc0, 0xaf], // overlong
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0x22], // stray quote
  [0x0d], // CR without LF
  [0x0d, 0x0a], // CRLF
  [0x0a], // an extra line break
  [0x00], // NUL
  [0x09], // tab
  [0x20, 0x20],
  [0xef, 0xbb, 0xbf], // a BOM where it does not belong
  [0x2c], // comma
  [0x7b], // {
  [0x5c], // backslash
];

/** A position as a fraction of the file's length, spread evenly (fc.double would favour tiny values). */
const AT = fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: AT }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: AT,
    bytes: fc.oneof(fc.constantFrom(...SPECIAL_BYTES), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 })),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: AT, len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: AT, len: fc.integer({ min: 1, max: 60 }) }),
  fc.record({ kind: fc.constant('swapFields' as const), line: fc.nat(), a: fc.nat(6), b: fc.nat(6) }),
  fc.record({
    kind: fc.constant('hugeNumber' as const),
    at: AT,
    text: fc.constantFrom('99999999999999999999999', '9007199254740993', '86400001', '1e400', '-0', '00000000000000000001', '0x10', '1.5', 'NaN', 'Infinity'),
  }),
);

function mutate(data: Buffer, m: Mutation, format: Format): Buffer {
  const pos = (f: number) => Math.min(data.length, Math.floor(f * data.length));
  switch (m.kind) {
    case 'truncate':
      return data.subarray(0, pos(m.at));
    case 'insert': {
      const p = pos(m.at);
      return Buffer.concat([data.subarray(0, p), Buffer.from(m.bytes), data.subarray(p)]);
    }
    case 'delete': {
      const p = pos(m.at);
      return Buffer.concat([data.subarray(0, p), data.subarray(p + m.len)]);
    }
    case 'duplicate': {
      const p = pos(m.at);
      return Buffer.concat([data.subarray(0, p + m.len), data.subarray(p)]);
    }
    case 'swapFields': {
      const lines = data.toString('latin1').split('\n');
      const i = m.line % lines.length;
      const sep = format === 'space' ? ' ' : format === 'csv' ? ',' : ',"';
      const fields = lines[i]!.split(sep);
      const a = m.a % fields.length;
      const b = m.b % fields.length;
      [fields[a], fields[b]] = [fields[b]!, fields[a]!];
      lines[i] = fields.join(sep);
      return Buffer.from(lines.join('\n'), 'latin1');
    }
    case 'hugeNumber': {
      // Replace the first run of digits at or after the position.
      const text = data.toString('latin1');
      const re = /\d+/g;
      re.lastIndex = pos(m.at);
      const hit = re.exec(text);
      if (hit === null) return data;
      return Buffer.from(text.slice(0, hit.index) + m.text + text.slice(hit.index + hit[0].length), 'latin1');
    }
  }
}

interface Outcome {
  readonly counts: BillingResult['counts'];
  /** user → task → [requests, duration] */
  readonly usage: Map<string, Map<string, [number, bigint]>>;
  readonly rejects: Array<{ file: string; offset: number | null; reason: RejectReason; raw: string }>;
}

async function run(engine: (input: RunInput) => Promise<BillingResult>, dir: string): Promise<Outcome | { error: string }> {
  const { files } = await discoverInputs([dir]);
  const rejects: Outcome['rejects'] = [];
  const writer: Rejects = {
    add(file: string, offset: number | null, reason: RejectReason, raw: Uint8Array): boolean {
      rejects.push({ file, offset, reason, raw: Buffer.from(raw).toString('hex') });
      return true;
    },
    drain: async () => undefined,
  };
  let result: BillingResult;
  try {
    result = await engine({ files, config: CONFIG, window: {}, rejects: writer, onBytes: () => undefined, signal: new AbortController().signal });
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
  const usage: Outcome['usage'] = new Map();
  // The parallel engine hands over its workers' sorted tables as a stream in the bill's order.
  const entries = isSortedUsage(result.usage) ? await sortedUsageEntries(result.usage) : usageEntries(result.usage);
  await result.release?.();
  for (const [user, u] of entries) {
    const tasks = new Map<string, [number, bigint]>();
    u.forEach(({ requests, durationMs }, t) => {
      if (requests !== 0) tasks.set(CONFIG.rates[t]!.task, [requests, durationMs]);
    });
    usage.set(user, tasks);
  }
  return { counts: result.counts, usage, rejects };
}

/**
 * The lines of a file as the contract frames them: split at LF, one CR before LF (or at the
 * end) dropped, a BOM at offset 0 ignored, blank lines (only Unicode white space; ill-formed
 * UTF-8 decodes to U+FFFD, which is none) skipped.
 */
const WHITE_SPACE_ONLY = /^\p{White_Space}*$/u;
function contractLines(data: Buffer): Array<{ offset: number; bytes: Buffer }> {
  const out: Array<{ offset: number; bytes: Buffer }> = [];
  let start = data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? 3 : 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    const next = end < 0 ? data.length : end + 1;
    if (end < 0) end = data.length;
    let e = end;
    if (e > start && data[e - 1] === 0x0d) e--;
    const bytes = data.subarray(start, e);
    if (!WHITE_SPACE_ONLY.test(bytes.toString('utf8'))) out.push({ offset: start === 3 && out.length === 0 && data[0] === 0xef ? 0 : start, bytes });
    start = next;
  }
  return out;
}

/** Independent reading of a line the engines accepted: user, task and duration. */
function acceptedFields(format: Format, line: Buffer, layout: string[] | undefined): [string, string, bigint] {
  const text = line.toString('utf8');
  if (format === 'space') {
    const f = text.trim().split(/[ \t]+/);
    return [f[1]!, f[2]!, BigInt(f[4]!.replace(/ms$/, ''))];
  }
  if (format === 'jsonl') {
    const o = JSON.parse(text) as Record<string, unknown>;
    return [o['user'] as string, o['task'] as string, BigInt(o['duration_ms'] as number)];
  }
  const f = parseCsvLine(text);
  const col = (names: string[]) => f[layout!.findIndex((h) => names.includes(h.trim().toLowerCase()))]!;
  return [col(['user', 'user_id']), col(['task']), BigInt(col(['duration_ms', 'duration']).trim().replace(/ms$/, ''))];
}

/** A minimal RFC 4180 record reader (one line), independent of the engine's. */
function parseCsvLine(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (s[q + 1] === '"') {
          field += s.slice(i, q + 1);
          i = q + 2;
        } else {
          field += s.slice(i, q);
          i = q + 1;
          break;
        }
      }
    } else {
      const c = s.indexOf(',', i);
      field = s.slice(i, c < 0 ? s.length : c);
      i = c < 0 ? s.length : c;
    }
    out.push(field);
    if (i >= s.length) return out;
    i++; // the comma
  }
}

function expectNoRejectedLineBilled(format: Format, data: Buffer, file: string, o: Outcome): void {
  const rejected = new Set(o.rejects.filter((r) => r.file === file).map((r) => r.offset));
  const lines = contractLines(data);
  let layout: string[] | undefined;
  if (format === 'csv' && lines.length > 0) layout = parseCsvLine(lines.shift()!.bytes.toString('utf8'));
  const expected = new Map<string, Map<string, [number, bigint]>>();
  for (const { offset, bytes } of lines) {
    if (rejected.has(offset)) continue;
    const [user, task, duration] = acceptedFields(format, bytes, layout);
    let tasks = expected.get(user);
    if (tasks === undefined) expected.set(user, (tasks = new Map()));
    const t = tasks.get(task) ?? [0, 0n];
    tasks.set(task, [t[0] + 1, t[1] + duration]);
  }
  expect(o.counts.records, 'records = non-blank data lines').toBe(lines.length);
  expect(o.usage, 'usage = the lines not rejected, read independently').toEqual(expected);
}

describe.each(['space', 'csv', 'jsonl'] as const)('fuzz: %s logs mutated at byte level', (format) => {
  it('naive and parallel: no crash, same counts, usage and rejects; no rejected line billed', async () => {
    const root = tempDir(`mr-fuzz-${format}-`);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(recArb, { minLength: 1, maxLength: 25, size: 'medium' }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 300 }),
        async (recs, mutations, crlf, shardBytes) => {
          const eol = crlf ? '\r\n' : '\n';
          const body = recs.map((r) => lineOf(format, r) + eol).join('');
          let data: Buffer = Buffer.from((format === 'csv' ? HEADER + eol : '') + body, 'utf8');
          for (const m of mutations) data = mutate(data, m, format);
          const dir = join(root, String(++n));
          mkdirSync(dir);
          const file = join(dir, `in.${EXT[format]}`);
          writeFileSync(file, data);

          const naive = await run(runNaive, dir);
          const parallel = await run((input) => runParallel(input, { workers: 2, shardBytes }), dir);
          if ('error' in naive || 'error' in parallel) {
            // A run failure is allowed only where the contract says so (a CSV header without a required column), and alike.
            expect(parallel, `naive: ${JSON.stringify(naive)}`).toEqual(naive);
            expect((naive as { error: string }).error).toMatch(/^InputError: .*(column|header)/);
            return;
          }
          expect(parallel.counts).toEqual(naive.counts);
          expect(parallel.usage).toEqual(naive.usage);
          expect(parallel.rejects).toEqual(naive.rejects);
          const rejectedTotal = Object.values(naive.counts.rejected).reduce((a, b) => a + b, 0);
          expect(naive.counts.accepted + naive.counts.outOfWindow + rejectedTotal).toBe(naive.counts.records);
          expect(naive.rejects.length).toBe(rejectedTotal);
          expectNoRejectedLineBilled(format, data, file, naive);
        },
      ),
      { numRuns: 60, seed: Number(process.env['MR_FUZZ_SEED'] ?? Date.now() % 2 ** 31), endOnFailure: true },
    );
  }, 300_000);
});

describe('object-key user ids', () => {
  it('__proto__, constructor and friends are ordinary users in both engines', async () => {
    const dir = tempDir('mr-fuzz-keys-');
    const keys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'prototype'];
    writeFileSync(join(dir, 'a.log'), keys.map((u, i) => `2025-05-02T10:00:00Z ${u} login 200 ${i + 1}ms\n`).join(''));
    writeFileSync(join(dir, 'b.jsonl'), keys.map((u) => JSON.stringify({ timestamp: '2025-05-02T10:00:00Z', user: u, task: 'createOrder', status: 200, duration_ms: 10 }) + '\n').join(''));
    for (const engine of [runNaive, (input: RunInput) => runParallel(input, { workers: 2, shardBytes: 50 })]) {
      const o = await run(engine, dir);
      if ('error' in o) throw new Error(o.error);
      expect([...o.usage.keys()].sort()).toEqual([...keys].sort());
      keys.forEach((u, i) => {
        expect(o.usage.get(u)!.get('login'), u).toEqual([1, BigInt(i + 1)]);
        expect(o.usage.get(u)!.get('createOrder'), u).toEqual([1, 10n]);
      });
      expect(o.counts.accepted).toBe(keys.length * 2);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    }
  });
});
