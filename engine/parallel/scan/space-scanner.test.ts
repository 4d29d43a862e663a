/**
 * The parallel engine's byte scanner must judge every space-format line exactly as the
 * naive engine's RecordParser does (reason, user, task, duration, window).
 */
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { SpaceScanner } from './space-scanner.js';
import { UserTable } from './user-table.js';
import { RejectCollector, emptyShardCounts } from './partial.js';
import { RecordParser } from '../../core/formats/records.js';
import { billingConfigFromEnv } from '../../core/config/config.js';
import { REJECT_REASONS } from '../../core/validation/reasons.js';
import { parseTimestamp, type TimeWindow } from '../../core/validation/timestamp.js';
import { LineFramer } from '../../core/formats/lines.js';
import { LineAccumulator } from '../../core/billing/accumulate.js';
import { UsageTable, addCounts, emptyCounts, usageEntries } from '../../core/billing/usage.js';

const config = billingConfigFromEnv({ RATE_login: '0.005', RATE_search: '1', RATE_Upload: '2', MAX_DURATION_MS: '86400000' });
const OPEN: TimeWindow = {};
const WINDOW: TimeWindow = { from: parseTimestamp('2025-05-02T10:00:00.5Z')!, to: parseTimestamp('2025-05-02T12:00:00+01:00')! };

const parsers = new Map<TimeWindow, RecordParser>();
function naive(line: Buffer, window: TimeWindow): string {
  if (!parsers.has(window)) parsers.set(window, new RecordParser(config, window));
  const v = parsers.get(window)!.parse(line, 'space');
  if (v.kind === 'accepted') return `ok ${JSON.stringify(v.user)} ${v.task} ${v.durationMs}`;
  return v.kind === 'rejected' ? v.reason : v.kind;
}

/** Scans one line; `terminated` puts an LF after it in the buffer (the fast path needs one), else the line ends the buffer. */
function scanned(line: Buffer, window: TimeWindow, terminated: boolean, offset = 7): string {
  // Batching from the first entry (as a table of many users does): line() must flush its add.
  const table = new UserTable(config.rates.length, 16, 0);
  const counts = emptyShardCounts();
  const rejects = new RejectCollector();
  const scanner = new SpaceScanner(config.rates.map((r) => r.task), config.maxDurationMs, window, table, counts, rejects);
  const buf = Buffer.concat([Buffer.from('xx'), line, terminated ? Buffer.from('\n') : Buffer.alloc(0)]);
  scanner.line(buf, 2, 2 + line.length, offset);
  if (counts.records === 0) return 'blank';
  if (counts.accepted === 1) {
    expect(table.size).toBe(1);
    const t = config.rates.findIndex((_, i) => table.requests(0, i) === 1);
    return `ok ${JSON.stringify(new TextDecoder('utf-8', { ignoreBOM: true }).decode(table.key(0)))} ${t} ${table.duration(0, t)}`;
  }
  if (counts.outOfWindow === 1) return 'out_of_window';
  const r = counts.rejected.findIndex((n) => n === 1);
  expect(rejects.offsets).toEqual([offset]);
  expect(Buffer.from(rejects.rawBytes())).toEqual(line.subarray(0, 1024));
  return REJECT_REASONS[r]!;
}

const sep = fc.constantFrom(' ', '\t', '  ', ' \t ');
/** Around the window's edges: fractions of 0 to 11 digits, Z, z or an offset (some out of range, some malformed). */
const edgeTimestamp = fc
  .tuple(
    fc.integer({ min: 8, max: 13 }),
    fc.constantFrom(0, 59),
    fc.option(fc.stringMatching(/^[0-9]{0,11}$/)),
    fc.oneof(
      fc.constantFrom('Z', 'z', 'Zz', '+00:00', '-00:00', '+01:00', '-01:30', '+23:59', '+24:00', '+01:60', '+1:00', '+01-00', '+01:0', '+01:000'),
      fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 })).map(([g, h, m]) => `${g}${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`),
    ),
  )
  .map(([h, m, frac, zone]) => `2025-05-02T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00${frac === null ? '' : `.${frac}`}${zone}`);

const timestamp = fc.oneof(
  fc.constantFrom(
    '2025-05-02T10:00:00Z',
    '2025-05-02T10:00:00.5Z',
    '2025-05-02T10:00:00.499999999999Z',
    '2025-05-02T10:00:00.50000z',
    '2025-05-02t11:00:00+01:00',
    '2025-05-02T10:59:59.999-00:00',
    '2025-05-02T11:00:00Z',
    '2025-05-02T10:59:59Z',
    '2024-02-29T10:00:00Z',
    '2025-02-29T10:00:00Z',
    '1900-02-29T10:00:00Z',
    '2000-02-29T10:00:00Z',
    '2025-04-31T10:00:00Z',
    '2025-05-02T24:00:00Z',
    '2025-05-02T23:60:00Z',
    '2025-05-02T23:59:60Z',
    '2025-05-02T10:00:00+24:00',
    '2025-05-02T10:00:00+23:59',
    '2025-05-02T10:00:00+01:60',
    '2025-05-02T10:00:00',
    '2025-05-02T10:00:00.Z',
    '2025-05-02T10:00:00+0100',
    '2025-13-02T10:00:00Z',
    '2025-00-02T10:00:00Z',
    '2025-05-00T10:00:00Z',
    '2025-05-02X10:00:00Z',
    '2025/05/02T10:00:00Z',
    '\ufeff2025-05-02T10:00:00Z',
    'yesterday',
  ),
  fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 25 })).map(
    ([y, m, d, h]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00Z`,
  ),
  edgeTimestamp,
);
const user = fc.oneof(
  fc.constantFrom('user1', '__proto__', 'constructor', 'é', '～', '😀', '\ufeffbob', 'a\u00a0b', 'a\u0085b', 'a\u2003b', 'a\u3000b', 'a\u1680b', 'a\u202fb', 'a\u205fb', 'a\u2028b', 'a\x01b', 'a\x7fb', 'a\rb', 'a\vb', 'a\u200bb', 'a\u00a1b', 'a\u009fb'),
  fc.integer({ min: 120, max: 135 }).map((n) => 'u'.repeat(n)),
  fc.integer({ min: 30, max: 34 }).map((n) => '😀'.repeat(n)),
  fc.integer({ min: 60, max: 68 }).map((n) => 'é'.repeat(n)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }).filter((s) => !/[ \t]/.test(s)),
);
const task = fc.constantFrom('login', 'search', 'Upload', 'upload', 'Login', 'LOGIN', 'logi', 'loginx', 'nosuch', 'é');
const status = fc.constantFrom('200', '100', '599', '99', '600', '0200', '000000404', '+200', '2e2', '20 0', '1000', '9999999999999', 'abc');
const duration = fc.oneof(
  fc.constantFrom('0ms', '1568ms', '86400000ms', '86400001ms', '086400000ms', '1568', '-5ms', '1.5ms', '12s', 'ms', '5MS', '5ms\r', '99999999999999999999ms', '9007199254740993ms'),
  fc.nat(100_000_000).map((n) => `${n}ms`),
);
const lineParts = fc.tuple(fc.option(sep), timestamp, sep, user, sep, task, sep, status, sep, duration, fc.option(sep), fc.option(fc.constantFrom(' extra', '\t1ms')));
const lineArb = fc.oneof(
  { weight: 8, arbitrary: lineParts.map((p) => Buffer.from(p.map((x) => x ?? '').join(''), 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: lineParts.chain((p) => fc.nat(200).map((k) => {
    const b = Buffer.from(p.map((x) => x ?? '').join(''), 'utf8');
    if (b.length > 0) b[k % b.length] = 0xff; // invalid UTF-8 somewhere
    return b;
  })) },
);

describe('SpaceScanner ≡ RecordParser (space format)', () => {
  it('same verdict for generated lines, with and without a terminator, with and without a window', () => {
    fc.assert(
      fc.property(lineArb, fc.boolean(), fc.boolean(), (line, terminated, windowed) => {
        const w = windowed ? WINDOW : OPEN;
        // Blank: only white space (Unicode's White_Space; ill-formed UTF-8 decodes to U+FFFD, which is none).
        const expected = /^\p{White_Space}*$/u.test(line.toString('utf8')) ? 'blank' : naive(line, w);
        expect(scanned(line, w, terminated)).toBe(expected);
      }),
      { numRuns: 2500 },
    );
  });

  it('the timestamps of the fast path (a fraction, Z or an offset) in a valid line, at the window\'s edges', () => {
    fc.assert(
      fc.property(edgeTimestamp, sep, fc.boolean(), fc.boolean(), (ts, gap, terminated, windowed) => {
        const line = Buffer.from(`${ts}${gap}user1 login 200 7ms`);
        const w = windowed ? WINDOW : OPEN;
        expect(scanned(line, w, terminated)).toBe(naive(line, w));
      }),
      { numRuns: 3000 },
    );
  });

  it('examples, on the fast path (terminated) and the full rules (unterminated)', () => {
    const login = config.rates.findIndex((r) => r.task === 'login');
    const cases: Array<[string, string]> = [
      ['2025-05-02T10:00:00Z user1 login 200 1568ms', `ok "user1" ${login} 1568`],
      ['2025-05-02T10:00:00Z \ufeffbob login 200 1ms', `ok "\ufeffbob" ${login} 1`],
      ['2025-05-02T10:00:00Z user1 login 200 86400001ms', 'bad_duration'],
      ['2025-05-02T10:00:00Z user1 login 200 1ms\r', 'bad_duration'],
      ['2025-05-02T10:00:00.123Z user1 login 200 7ms', `ok "user1" ${login} 7`],
      ['2025-05-02T10:00:00.123456+00:00\tuser1 login 200 7ms', `ok "user1" ${login} 7`],
      ['2025-05-02T10:00:00.1234567890Z user1 login 200 7ms', `ok "user1" ${login} 7`],
      ['2025-05-02T10:00:00+24:00 user1 login 200 7ms', 'bad_timestamp'],
      ['2025-05-02T10:00:00.Z user1 login 200 7ms', 'bad_timestamp'],
      [' \t ', 'blank'],
    ];
    for (const [text, expected] of cases) {
      for (const t of [true, false]) expect(scanned(Buffer.from(text), OPEN, t), `${JSON.stringify(text)} ${t}`).toBe(expected);
      if (expected !== 'blank') expect(naive(Buffer.from(text), OPEN)).toBe(expected);
    }
  });

  it('users with letters above ASCII take the fast path; bytes that are not UTF-8, White_Space or a C1 control in them are judged as the rules judge them', () => {
    const judge = vi.spyOn(SpaceScanner.prototype as unknown as { judge(): void }, 'judge');
    try {
      const login = config.rates.findIndex((r) => r.task === 'login');
      for (const u of ['é', 'Zürich-42', '😀x', 'a\u00a1b', '\u3042\u3044', 'ü'.repeat(64)]) {
        judge.mockClear();
        const line = Buffer.from(`2025-05-02T10:00:00Z ${u} login 200 7ms`);
        expect(scanned(line, OPEN, true), u).toBe(`ok ${JSON.stringify(u)} ${login} 7`);
        expect(judge, u).not.toHaveBeenCalled();
      }
      const bytes = (hex: string) => Buffer.concat([Buffer.from('2025-05-02T10:00:00Z a'), Buffer.from(hex, 'hex'), Buffer.from(' login 200 7ms')]);
      // Overlong, lone continuation, a surrogate, cut short, above U+10FFFF, NBSP, NEL, U+2028, U+3000, 129 bytes.
      for (const hex of ['c080', '80', 'eda080', 'e282', 'f4908080', 'c2a0', 'c285', 'e280a8', 'e38080', 'c3bc'.repeat(64)]) {
        const line = bytes(hex);
        for (const t of [true, false]) expect(scanned(line, OPEN, t), `${hex} ${t}`).toBe(naive(line, OPEN));
        expect(naive(line, OPEN), hex).toMatch(/^bad_(user|encoding)$/);
      }
    } finally {
      judge.mockRestore();
    }
  });

  it('a BOM is dropped only at file offset 0', () => {
    const line = Buffer.from('\ufeff2025-05-02T10:00:00Z user1 login 200 1ms');
    expect(scanned(line, OPEN, true, 0)).toBe('ok "user1" 1 1');
    expect(scanned(line, OPEN, true, 5)).toBe('bad_timestamp');
  });
});

/**
 * A block of whole lines as the scanner's block() takes it, against the shared definition:
 * core's LineFramer framing the same bytes into core's LineAccumulator (the naive path).
 */
function blockAgainstDefinition(lines: Buffer[], crlf: boolean[], offset: number, w: TimeWindow): void {
  const data = Buffer.concat(lines.flatMap((l, i) => [l, Buffer.from(crlf[i] ? '\r\n' : '\n')]));
  // Batching from the first entry (as a table of many users does): block() must flush its adds.
  const table = new UserTable(config.rates.length, 4, 0);
  const counts = emptyShardCounts();
  const rejects = new RejectCollector();
  const scanner = new SpaceScanner(config.rates.map((r) => r.task), config.maxDurationMs, w, table, counts, rejects);
  // After the block, as in the range reader's buffer, the next shard's line: a common one, which must not be billed.
  const buf = Buffer.concat([Buffer.from('xyz'), data, Buffer.from('2025-05-02T10:00:00Z next login 200 5ms\n')]);
  if (data.length > 0) scanner.block(buf, 3, 3 + data.length, offset);
  const got = emptyCounts();
  addCounts(got, counts);
  const gotRejects = rejects.offsets.map((o, i) => [o, REJECT_REASONS[rejects.reasons[i]!], Buffer.from(rejects.rawBytes()).subarray(rejects.lengths.slice(0, i).reduce((a, b) => a + b, 0)).subarray(0, rejects.lengths[i]).toString('hex')]);

  const want = emptyCounts();
  const usage = new UsageTable(config.rates.length);
  const wantRejects: unknown[] = [];
  const acc = new LineAccumulator('f.log', 'space', new RecordParser(config, w), want, usage, {
    reject: (o, reason, raw) => wantRejects.push([o, reason, Buffer.from(raw).subarray(0, 1024).toString('hex')]),
  });
  const framer = new LineFramer(acc, offset);
  framer.push(data);
  framer.end();

  expect(got).toEqual(want);
  expect(gotRejects).toEqual(wantRejects);
  expect(usageEntries(table)).toEqual(usageEntries(usage));
}

describe('SpaceScanner.block ≡ LineFramer + LineAccumulator (framing and rules on whole blocks)', () => {
  const longLine = fc.constantFrom(65535, 65536, 65537, 70_000).chain((n) =>
    fc.boolean().map((bom) => Buffer.concat([bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), Buffer.alloc(n, 'a')])),
  );
  // Lines the fast path bills, often: lineArb's mix of edge values in every field makes few of
  // its lines valid, and a block's last line must be one for a run that reads past the block's
  // end to show (400 blocks of lineArb alone passed with the run loop reading 60 bytes past it).
  const validLine = fc
    .tuple(
      fc.integer({ min: 1, max: 28 }),
      fc.integer({ min: 0, max: 86_399 }),
      fc.constantFrom('Z', '.5Z', '+01:00'),
      sep,
      fc.constantFrom('user1', 'user2', 'é', 'u'.repeat(128)),
      sep,
      fc.constantFrom('login', 'search', 'Upload'),
      sep,
      fc.constantFrom('200', '404', '100', '599'),
      sep,
      fc.nat(86_400_000),
    )
    .map(([d, t, zone, s1, u, s2, task, s3, status, s4, ms]) => {
      const hms = [Math.floor(t / 3600), Math.floor(t / 60) % 60, t % 60].map((n) => String(n).padStart(2, '0')).join(':');
      return Buffer.from(`2025-05-${String(d).padStart(2, '0')}T${hms}${zone}${s1}${u}${s2}${task}${s3}${status}${s4}${ms}ms`, 'utf8');
    });
  const blockLine = fc.oneof(
    { weight: 12, arbitrary: lineArb },
    { weight: 6, arbitrary: validLine },
    { weight: 1, arbitrary: longLine },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from(''), Buffer.from(' \t'), Buffer.from('\r')) },
  );

  it('same counts, rejects (offset, reason, raw) and usage for random blocks, at offset 0 and later', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(blockLine, fc.boolean()), { maxLength: 12, size: 'medium' }), fc.constantFrom(0, 1, 4096), fc.boolean(), (ls, offset, windowed) => {
        blockAgainstDefinition(ls.map(([l]) => l), ls.map(([, c]) => c), offset, windowed ? WINDOW : OPEN);
      }),
      { numRuns: 400 },
    );
  });

  it('a BOM and a line at the limit at offset 0', () => {
    const bom = Buffer.from('\ufeff2025-05-02T10:00:00Z user1 login 200 1ms');
    blockAgainstDefinition([bom, Buffer.alloc(65536, 'x'), Buffer.alloc(65537, 'y')], [true, true, false], 0, OPEN);
    blockAgainstDefinition([Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.alloc(65536, 'x')])], [true], 0, OPEN);
    blockAgainstDefinition([bom], [false], 9, OPEN);
  });

  it('a block whose last line the fast path bills stops at its end: the next shard\'s line after it is not billed', () => {
    for (const crlf of [false, true]) blockAgainstDefinition([Buffer.from('2025-05-02T10:00:00Z user1 login 200 1ms'), Buffer.from('2025-05-02T10:00:01Z user2 search 404 2ms')], [crlf, crlf], 9, OPEN);
  });
});

describe('SpaceScanner with batched table adds (a table of many users)', () => {
  it('block() and line() leave every fast-path line added, across batches', () => {
    const lines = Array.from({ length: 150 }, (_, i) => `2025-05-02T10:00:${String(i % 60).padStart(2, '0')}Z user${i % 97} ${i % 2 ? 'login' : 'search'} 200 ${i}ms`);
    const run = (batchFrom: number) => {
      const table = new UserTable(config.rates.length, 4, batchFrom);
      const counts = emptyShardCounts();
      const scanner = new SpaceScanner(config.rates.map((r) => r.task), config.maxDurationMs, OPEN, table, counts, new RejectCollector());
      const buf = Buffer.from(`${lines.slice(0, 140).join('\n')}\n`);
      scanner.block(buf, 0, buf.length, 0);
      buf.fill(0x7a); // the reader refills its one buffer once block() returns
      for (const l of lines.slice(140)) {
        const one = Buffer.from(`${l}\n`);
        scanner.line(one, 0, one.length - 1, 1000);
      }
      expect(counts.accepted).toBe(150);
      return usageEntries(table);
    };
    const batched = run(0);
    expect(batched.size).toBe(97);
    expect(batched).toEqual(run(Infinity));
  });
});
