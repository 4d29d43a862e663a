/**
 * Space-format lines and JSON lines wrapped by Fluent Bit or CloudWatch, on the fast path (WrappedScanner with the exact
 * path it hands lines to), must give the same counts, rejects (offset, reason, raw) and usage as
 * the definition: core's LineFramer and LineAccumulator with the wrapping, on the same bytes.
 * And the common wrappers must take the fast path.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WrappedScanner } from './wrapped-scanner.js';
import { SpaceScanner } from './space-scanner.js';
import { JsonlScanner } from './jsonl-scanner.js';
import { UserTable } from './user-table.js';
import { RejectCollector, emptyShardCounts } from './partial.js';
import { RecordParser } from '../../core/formats/records.js';
import { billingConfigFromEnv } from '../../core/config/config.js';
import { parseTimestamp, type TimeWindow } from '../../core/validation/timestamp.js';
import { LineFramer } from '../../core/formats/lines.js';
import { LineAccumulator } from '../../core/billing/accumulate.js';
import { UsageTable, addCounts, emptyCounts, usageEntries } from '../../core/billing/usage.js';
import { DEFAULT_WRAPPED_KEY, type Wrapping } from '../../core/formats/wrapped.js';

const config = billingConfigFromEnv({ RATE_login: '0.005', RATE_search: '1', MAX_DURATION_MS: '86400000' });
const TASKS = config.rates.map((r) => r.task);
const OPEN: TimeWindow = {};
const WINDOW: TimeWindow = { from: parseTimestamp('2025-05-02T10:00:00.5Z')!, to: parseTimestamp('2025-05-02T12:00:00Z')! };

function hash(k: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const c of k) h = Math.imul(h ^ c, 0x01000193);
  return h >>> 0;
}

/** Inner lines' format; for JSON lines, whether lines with a request id are left to the exact path (as with dedupe). */
type Inner = { readonly format: 'space' } | { readonly format: 'jsonl'; readonly leaveIds: boolean };
const SPACE: Inner = { format: 'space' };

/** `data` from file offset `offset` through the fast path (then the exact path) in blocks, or through the definition. */
function judge(data: Buffer, offset: number, window: TimeWindow, wrapping: Wrapping, fast: boolean, inner: Inner) {
  const counts = emptyCounts();
  const usage = new UsageTable(config.rates.length);
  const rejects: unknown[] = [];
  const acc = new LineAccumulator('f', inner.format, new RecordParser(config, window), counts, usage, {
    reject: (o, reason, raw) => rejects.push([o, reason, Buffer.from(raw).subarray(0, 1024).toString('hex')]),
  }, undefined, wrapping);
  const exact = { line: (b: Buffer, s: number, e: number, o: number) => acc.line(o, b.subarray(s, e)), tooLong: (o: number, head: Buffer) => acc.tooLong(o, head) };
  // Batching the table's adds from the first user: the scanner must flush them before its bytes change.
  const table = new UserTable(config.rates.length, 4, 0);
  const fastCounts = emptyShardCounts();
  const own = new RejectCollector();
  if (fast) {
    const lines =
      inner.format === 'space'
        ? new SpaceScanner(TASKS, config.maxDurationMs, window, table, fastCounts, own)
        : new JsonlScanner(TASKS, config.maxDurationMs, window, table, fastCounts, exact, inner.leaveIds ? null : undefined);
    const scanner = new WrappedScanner(wrapping, lines, exact);
    if (data.length > 0) scanner.block(Buffer.concat([Buffer.from('pad'), data]), 3, 3 + data.length, offset);
  } else {
    const framer = new LineFramer({ line: (o, bytes) => acc.line(o, bytes), tooLong: (o, head) => acc.tooLong(o, head) }, offset);
    framer.push(data);
    framer.end();
  }
  // The space scanner never judges a line here: the exact path does, and keeps the wrapped line.
  expect(own.offsets).toEqual([]);
  addCounts(counts, fastCounts);
  for (const [user, u] of usage.users) {
    const key = Buffer.from(user, 'utf8');
    const e = table.entry(key, 0, key.length, hash(key));
    for (let t = 0; t < usage.taskCount; t++) if (u.requests[t] !== 0) table.addBig(e, t, u.requests[t]!, u.durationOf(t));
  }
  return { counts, rejects, usage: usageEntries(table), fast: fastCounts.records };
}

function same(data: Buffer, offset: number, window: TimeWindow, wrapping: Wrapping, inner: Inner = SPACE) {
  const want = judge(data, offset, window, wrapping, false, inner);
  const got = judge(data, offset, window, wrapping, true, inner);
  expect(got.counts).toEqual(want.counts);
  expect(got.rejects).toEqual(want.rejects);
  expect(got.usage).toEqual(want.usage);
  return got;
}

const LOG: Wrapping = { kind: 'fluent-bit', key: DEFAULT_WRAPPED_KEY };
const inner = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom('2025-05-02T10:00:00Z', '2025-05-02T11:00:00.5Z', '2025-05-02T09:00:00Z'), fc.constantFrom('user1', 'u-2', 'x'.repeat(128)), fc.constantFrom('login', 'search'), fc.constantFrom('200', '404'), fc.constantFrom('5ms', '1568ms')).map((f) => f.join(' ')) },
  { weight: 2, arbitrary: fc.constantFrom('2025-05-02T10:00:00Z user1 nosuch 200 5ms', '2025-05-02T10:00:00Z user1 login 700 5ms', 'garbage', '', '  ', ' 2025-05-02T10:00:00Z user1 login 200 5ms', '2025-05-02T10:00:00Z user1 login 200 5ms ', '2025-05-02T10:00:00Z  user1 login 200 5ms', '2025-05-02T10:00:00Z\tuser1 login 200 5ms', '2025-05-02T10:00:00Z user1 login 200 5ms x') },
);
/** A JSON string literal of `s` (JSON.stringify), with a final line break escaped or not. */
const endings = fc.constantFrom('', '', '\n', '\r\n', '\r', '\n\n', '\t');
const others = fc.constantFrom<Array<[string, string]>>(
  [], [['date', '1714694210.0']], [['stream', '"stdout"'], ['time', '"2025-05-02T10:00:00.1Z"']],
  [['kubernetes', '{"pod_name":"api-7d9","labels":{"app":"api"},"ids":[1,2]}']], [['x', '[1,]']], [['y', '"a\\"b"']], [['é', '1']], [['n', 'nul']],
);
const wrapped = fc.tuple(inner, endings, others, fc.constantFrom('log', 'log', 'message'), fc.nat(), fc.constantFrom(':', ' : '), fc.constantFrom(',', ', '), fc.constantFrom('once', 'once', 'once', 'twice', 'number', 'missing')).map(
  ([line, end, rest, key, seed, colon, comma, how]) => {
    const value = how === 'number' ? '5' : JSON.stringify(line + end);
    const pairs = [...rest];
    if (how !== 'missing') pairs.splice(seed % (pairs.length + 1), 0, [key, value]);
    if (how === 'twice') pairs.push([key, JSON.stringify('2025-05-02T10:00:00Z user9 login 200 9ms')]);
    return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}${colon}${v}`).join(comma)}}`;
  },
);
/** Lines of `arb` with one byte, anywhere, made 0xFF (not UTF-8). */
const withBadByte = (arb: fc.Arbitrary<string>) => arb.chain((s) => fc.nat().map((k) => { const c = Buffer.from(s); if (c.length > 0) c[k % c.length] = 0xff; return c; }));
const lineArb = fc.oneof(
  { weight: 12, arbitrary: wrapped.map((s) => Buffer.from(s, 'utf8')) },
  { weight: 1, arbitrary: wrapped.map((s) => Buffer.from(` \t${s} `, 'utf8')) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '{', '[]', 'null', '{"log":"2025-05-02T10:00:00Z user1 login 200 5ms"}x', '{"log":"2025-05-02T10:00:00Z user1 login 200 5ms\\u0041"}').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: withBadByte(wrapped) },
  { weight: 1, arbitrary: fc.constantFrom(65530, 65536, 70_000).map((n) => Buffer.from(`{"pad":"${'p'.repeat(n)}","log":"2025-05-02T10:00:00Z user1 login 200 5ms"}`)) },
);

function joined(lines: Buffer[], crlf: boolean[]): Buffer {
  return Buffer.concat(lines.flatMap((l, i) => [l, Buffer.from(crlf[i] ? '\r\n' : '\n')]));
}

/**
 * Files of up to 20 lines drawn from `lines` (each ending in LF or CRLF), at offsets 0, 1 and
 * 4096, with and without a window, wrapped as `wrapping` draws: the fast path must judge each
 * as the definition does (`same`). Returns how many lines the fast path billed.
 */
function fastOnDrawnFiles(lines: fc.Arbitrary<Buffer>, wrapping: fc.Arbitrary<Wrapping>, inner: Inner, numRuns: number): number {
  let fast = 0;
  fc.assert(
    fc.property(fc.array(fc.tuple(lines, fc.boolean()), { maxLength: 20, size: 'medium' }), fc.constantFrom(0, 1, 4096), fc.boolean(), wrapping, (ls, offset, windowed, w) => {
      fast += same(joined(ls.map(([l]) => l), ls.map(([, c]) => c)), offset, windowed ? WINDOW : OPEN, w, inner).fast;
    }),
    { numRuns },
  );
  return fast;
}

describe('WrappedScanner + exact path ≡ LineAccumulator (fluent-bit, space format)', () => {
  it('same counts, rejects and usage for random wrapped lines, with and without a window', () => {
    const fast = fastOnDrawnFiles(lineArb, fc.constantFrom('log', 'message').map((key): Wrapping => ({ kind: 'fluent-bit', key })), SPACE, 1500);
    // Not a slow path that passes: many drawn lines were billed by the fast path.
    expect(fast).toBeGreaterThan(100);
  });

  it('common wrappers take the fast path; odd ones do not', () => {
    const common = [
      '{"date":1714694210.0,"log":"2025-05-02T10:00:00Z user1 login 200 1568ms"}',
      '{"log":"2025-05-02T10:00:00Z user2 search 404 7ms\\n","stream":"stdout","time":"2025-05-02T10:00:00.1Z"}',
      '{ "kubernetes" : {"pod_name":"api-7d9","labels":{"app":"api"}}, "log" : "2025-05-02T10:00:00Z user1 login 200 9ms\\r\\n" }',
    ];
    const c = same(joined(common.map((l) => Buffer.from(l)), [false, true, false]), 10, OPEN, LOG);
    expect(c.fast).toBe(3);
    expect(c.counts.accepted).toBe(3);
    const odd = [
      '{"log":"2025-05-02T10:00:00Z user1 login 200 5ms","log":"2025-05-02T10:00:00Z user2 login 200 5ms"}',
      '{"log":"2025-05-02T10:00:00Z us\\u0065r1 login 200 5ms"}',
      '{"log":"2025-05-02T10:00:00Z user1 nosuch 200 5ms"}',
      '{"log":5}',
      '{"log":"2025-05-02T10:00:00Z user1 login 200 5ms\\n\\n"}',
      '{"log":"2025-05-02T10:00:00Z user1 login 200 5ms",}',
    ];
    const r = same(joined(odd.map((l) => Buffer.from(l)), odd.map(() => false)), 10, OPEN, LOG);
    expect(r.fast).toBe(0);
    expect(r.counts.accepted).toBe(2);
    expect(r.counts.rejected.unknown_task).toBe(1);
    expect(r.counts.rejected.bad_wrapper).toBe(3);
    // At offset 0 (a BOM's place) the exact path reads the line.
    expect(same(Buffer.from(`${common[0]}\n${common[0]}\n`), 0, OPEN, LOG).fast).toBe(1);
  });
});

const CLOUDWATCH: Wrapping = { kind: 'cloudwatch', key: DEFAULT_WRAPPED_KEY };
/** CloudWatch export lines: a timestamp (valid or not, in the fast path's shape or not), a separator, an inner line and what may end it. */
const stamp = fc.constantFrom(
  '2025-05-02T10:00:00.123Z', '2025-05-02T10:00:00Z', '2025-05-02t10:00:00.5+02:00', '2025-05-02T10:00:00.123456789-07:30',
  '2025-02-30T10:00:00Z', '2025-05-02T24:00:00Z', '2025-05-02 10:00:00Z', '2025-05-02T10:00:00', '1714694210', '', 'x',
);
const cloudWatchLine = fc.tuple(stamp, fc.constantFrom(' ', ' ', ' ', '  ', '\t', ''), inner, fc.constantFrom('', '', '', '\r', ' ', '\t')).map(([t, sep, line, end]) => `${t}${sep}${line}${end}`);
const cloudWatchArb = fc.oneof(
  { weight: 12, arbitrary: cloudWatchLine.map((s) => Buffer.from(s, 'utf8')) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '2025-05-02T10:00:00Z', '2025-05-02T10:00:00Z ', '2025-05-02T10:00:00Z \u00e9', '\ufeff2025-05-02T10:00:00Z 2025-05-02T10:00:00Z user1 login 200 5ms').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: withBadByte(cloudWatchLine) },
  { weight: 1, arbitrary: fc.constantFrom(65500, 65536, 70_000).map((n) => Buffer.from(`2025-05-02T10:00:00Z 2025-05-02T10:00:00Z ${'u'.repeat(n)} login 200 5ms`)) },
);

describe('WrappedScanner + exact path ≡ LineAccumulator (cloudwatch, space format)', () => {
  it('same counts, rejects and usage for random CloudWatch lines, with and without a window', () => {
    expect(fastOnDrawnFiles(cloudWatchArb, fc.constant(CLOUDWATCH), SPACE, 1500)).toBeGreaterThan(100);
  });

  it('common export lines take the fast path; odd ones do not', () => {
    const common = [
      '2025-05-02T10:00:00.123Z 2025-05-02T10:00:00Z user1 login 200 1568ms',
      '2025-05-02T10:00:01Z 2025-05-02T10:00:00Z user2 search 404 7ms',
      '2025-05-02T10:00:02.5+00:00 2025-05-02T11:00:00.5Z user1 login 200 9ms',
    ];
    const c = same(joined(common.map((l) => Buffer.from(l)), [false, true, false]), 10, OPEN, CLOUDWATCH);
    expect(c.fast).toBe(3);
    expect(c.counts.accepted).toBe(3);
    const odd = [
      '2025-05-02T10:00:00Z 2025-05-02T10:00:00Z user1 login 200 5ms\r',
      '2025-05-02T10:00:00Z  2025-05-02T10:00:00Z user1 login 200 5ms',
      '2025-05-02T10:00:00Z 2025-05-02T10:00:00Z user1 nosuch 200 5ms',
      '2025-05-02T25:00:00Z 2025-05-02T10:00:00Z user1 login 200 5ms',
      '2025-05-02T10:00:00Z\t2025-05-02T10:00:00Z user1 login 200 5ms',
      '2025-05-02T10:00:00Z ',
    ];
    const r = same(joined(odd.map((l) => Buffer.from(l)), odd.map(() => false)), 10, OPEN, CLOUDWATCH);
    // The message after two spaces starts with a separator, which the space format reads as the fast path does: the one fast line.
    expect(r.fast).toBe(1);
    expect(r.counts.accepted).toBe(2);
    expect(r.counts.records).toBe(5);
    expect(r.counts.rejected.unknown_task).toBe(1);
    expect(r.counts.rejected.bad_wrapper).toBe(2);
    // At offset 0 (a BOM's place) the exact path reads the line.
    expect(same(Buffer.from(`${common[0]}\n${common[0]}\n`), 0, OPEN, CLOUDWATCH).fast).toBe(1);
  });
});

/** Mostly `common`, sometimes one of `odd`. */
const mostly = <T>(common: readonly T[], odd: readonly T[]) => fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...common) }, { weight: 1, arbitrary: fc.constantFrom(...odd) });
/** JSON lines records: common ones, with a request id, nested or odd values, escapes, and bad ones. */
const record = fc.tuple(
  mostly(['2025-05-02T10:00:00Z', '2025-05-02T11:00:00.5Z'], ['2025-05-02T10:00:00+02:00', 'nope']),
  mostly(['user1', 'u-2'], ['u"q', 'u\\b', 'é', 'x'.repeat(128), 'x'.repeat(129)]),
  mostly(['login', 'search'], ['nosuch']),
  mostly<unknown>([200, 404], [700, '200']),
  mostly<unknown>([5, 1568], [-1, 1.5]),
  fc.constantFrom<Array<[string, unknown]>>([], [['request_id', 'r-1']], [['request_id', '']], [['client', { ip: '10.0.0.1', tags: ['a', 1, null] }]], [['note', 'a"b\\c']]),
  fc.nat(),
).map(([timestamp, user, task, status, duration_ms, rest, seed]) => {
  const pairs: Array<[string, unknown]> = [['timestamp', timestamp], ['user', user], ['task', task], ['status', status], ['duration_ms', duration_ms]];
  for (const p of rest) pairs.splice(seed % (pairs.length + 1), 0, p);
  return JSON.stringify(Object.fromEntries(pairs));
});
const jsonInner = fc.oneof({ weight: 8, arbitrary: record }, { weight: 1, arbitrary: fc.constantFrom('', ' ', '{', '{"user":"u1"}', '[1]', '{"timestamp":"2025-05-02T10:00:00Z","user":"u1","task":"login","status":200,"duration_ms":5,}') });
const fluentJson = fc.tuple(jsonInner, fc.constantFrom('', '', '\n', '\r\n', '\r'), fc.constantFrom('u', 'u', 'escape')).map(([line, end, how]) => {
  // JSON.stringify escapes the inner line's quotes and backslashes; 'escape' also writes a `\u` escape the fast path leaves.
  const value = JSON.stringify(line + end);
  return `{"stream":"stdout","log":${how === 'escape' ? value.replace('t', '\\u0074') : value},"kubernetes":{"pod_name":"api-1"}}`;
});
const cloudJson = fc.tuple(fc.constantFrom('2025-05-02T10:00:00.123Z', '2025-05-02T10:00:00Z', '2025-02-30T10:00:00Z', 'x'), jsonInner, fc.constantFrom('', '', '\r')).map(([t, line, end]) => `${t} ${line}${end}`);

describe('WrappedScanner + exact path ≡ LineAccumulator (JSON lines inside)', () => {
  for (const [name, kind, arb] of [['fluent-bit', 'fluent-bit', fluentJson], ['cloudwatch', 'cloudwatch', cloudJson]] as const) {
    for (const leaveIds of [false, true]) {
      it(`${name}: same counts, rejects and usage for random lines${leaveIds ? ', lines with a request id left to the exact path' : ''}`, () => {
        const lines = fc.oneof({ weight: 12, arbitrary: arb.map((x) => Buffer.from(x, 'utf8')) }, { weight: 1, arbitrary: withBadByte(arb) });
        expect(fastOnDrawnFiles(lines, fc.constant<Wrapping>({ kind, key: DEFAULT_WRAPPED_KEY }), { format: 'jsonl', leaveIds }, 800)).toBeGreaterThan(100);
      });
    }
  }

  it('escaped JSON lines take the fast path; a line with a request id does not when dedupe must see it', () => {
    const line = (extra: string) => JSON.stringify({ log: `{"timestamp":"2025-05-02T10:00:00Z","user":"u1",${extra}"task":"login","status":200,"duration_ms":7}\n`, stream: 'stdout' });
    const data = joined([line(''), line('"request_id":"r-9","note":"a b",')].map((l) => Buffer.from(l)), [false, false]);
    const wrapping: Wrapping = { kind: 'fluent-bit', key: DEFAULT_WRAPPED_KEY };
    const all = same(data, 10, OPEN, wrapping, { format: 'jsonl', leaveIds: false });
    expect(all.fast).toBe(2);
    expect(all.counts.accepted).toBe(2);
    expect(all.usage).toHaveLength(1);
    const left = same(data, 10, OPEN, wrapping, { format: 'jsonl', leaveIds: true });
    expect(left.fast).toBe(1);
    expect(left.counts.accepted).toBe(2);
  });
});
