/**
 * The CSV and JSON lines fast paths, with the exact path they hand lines to, must give the
 * same counts, rejects (offset, reason, raw) and usage as the definition: core's LineFramer
 * and LineAccumulator (the naive engine) on the same bytes. And the common lines must take
 * the fast path (else it would be a slow path that passes these tests).
 */
import { describe, expect, it, vi, type MockInstance } from 'vitest';
import fc from 'fast-check';
import { CsvScanner } from './csv-scanner.js';
import { JsonlScanner } from './jsonl-scanner.js';
import { UserTable } from './user-table.js';
import { emptyShardCounts } from './partial.js';
import { RecordParser } from '../../core/formats/records.js';
import { csvLayout } from '../../core/formats/csv.js';
import { billingConfigFromEnv } from '../../core/config/config.js';
import { parseTimestamp, type TimeWindow } from '../../core/validation/timestamp.js';
import { LineFramer } from '../../core/formats/lines.js';
import { LineAccumulator } from '../../core/billing/accumulate.js';
import { UsageTable, addCounts, emptyCounts, usageEntries } from '../../core/billing/usage.js';
import type { FastLineScanner, IdentifiedSink } from './fast-lines.js';
import { fingerprint, writeFingerprint } from '../../core/dedupe/dedupe.js';

const config = billingConfigFromEnv({ RATE_login: '0.005', RATE_search: '1', RATE_Upload: '2', MAX_DURATION_MS: '86400000' });
const TASKS = config.rates.map((r) => r.task);
const OPEN: TimeWindow = {};
const WINDOW: TimeWindow = { from: parseTimestamp('2025-05-02T10:00:00.5Z')!, to: parseTimestamp('2025-05-02T12:00:00+01:00')! };

type Fmt = 'csv' | 'jsonl';

interface Outcome {
  counts: ReturnType<typeof emptyCounts>;
  rejects: unknown[];
  usage: ReturnType<typeof usageEntries>;
  /** Records the fast path billed or handed to dedupe. */
  fast: number;
  /** With dedupe by id: every record with an id as `key|offset|fingerprint|inWindow`, in order. */
  ids: string[];
}

/** How the scanner is handed the lines: one by one, one by one at their buffer's very end, or as one block. */
type Shape = 'lines' | 'bare' | 'block';

/**
 * `data` framed into lines from file offset `offset`, through the fast path (then the exact
 * path) or through the definition alone. `header`: the CSV layout is known before the data
 * (a shard after the header), else the data's first non-blank line is the header.
 */
function judge(format: Fmt, data: Buffer, offset: number, window: TimeWindow, header: string | undefined, fastPath: boolean, shape: Shape, dedupe = false, compileAfter?: number): Outcome {
  const layout = header === undefined ? undefined : csvLayout(header, 'f.csv');
  const counts = emptyCounts();
  const usage = new UsageTable(config.rates.length);
  const rejects: unknown[] = [];
  const identified: string[] = [];
  // With dedupe the exact path hands records with an id to the sink (billing-map.ts), and the fast path to `ids`.
  const target = dedupe ? { mode: 'auto' as const, sink: { record: (key: string, o: number, rec: Parameters<typeof fingerprint>[0] & { inWindow: boolean }) => identified.push(`${key}|${o}|${fingerprint(rec)}|${rec.inWindow}`) } } : undefined;
  const ids: IdentifiedSink = {
    identified(b, ks, ke, us, ue, t, ts, te, ss, se, ds, de, inWindow, o) {
      const fp = Buffer.alloc(1024);
      const end = writeFingerprint(fp, 0, b, us, ue, t, ts, te, ss, se, ds, de);
      identified.push(`${Buffer.from(b.subarray(ks, ke)).toString('utf8')}|${o}|${fp.toString('utf8', 0, end)}|${inWindow}`);
    },
  };
  const acc = new LineAccumulator('f', format, new RecordParser(config, window, { deferWindow: dedupe }), counts, usage, {
    reject: (o, reason, raw) => rejects.push([o, reason, Buffer.from(raw).subarray(0, 1024).toString('hex')]),
  }, layout, undefined, target);
  const exact = { line: (b: Buffer, s: number, e: number, o: number) => acc.line(o, b.subarray(s, e)), tooLong: (o: number, head: Buffer) => acc.tooLong(o, head) };
  // Batching the table's adds from the first user (as a table of many users does): block() and line() must flush them.
  const table = new UserTable(config.rates.length, 4, 0);
  const fastCounts = emptyShardCounts();
  let scanner: FastLineScanner | undefined;
  if (fastPath) {
    scanner = format === 'csv'
      ? new CsvScanner('f.csv', layout, TASKS, config.maxDurationMs, window, table, fastCounts, exact, dedupe ? ids : undefined)
      : new JsonlScanner(TASKS, config.maxDurationMs, window, table, fastCounts, exact, dedupe ? ids : undefined, compileAfter);
  }
  const sink = scanner ?? exact;
  // What follows the lines in the range reader's buffer: the next shard's line, a common one, which must not be billed.
  const next = Buffer.from(format === 'csv' ? '2025-05-02T10:00:00Z,next,login,200,5\n' : '{"timestamp":"2025-05-02T10:00:00Z","user":"next","task":"login","status":200,"duration_ms":5}\n');
  if (scanner !== undefined && shape === 'block') {
    // As the range reader hands whole lines over: one block of lines each ending in LF.
    if (data.length > 0) scanner.block(Buffer.concat([Buffer.from('pad'), data, next]), 3, 3 + data.length, offset);
    return outcome(counts, rejects, usage, table, fastCounts, identified);
  }
  // Each line sits in a larger buffer, as in the range reader's: bytes before it, its terminator and the next line after
  // ('bare': nothing after it, as the last line of an S3 object's chunk, scanned in place, at the object's end).
  const framer = new LineFramer({
    line: (o, bytes) => {
      const buf = Buffer.concat([Buffer.from('pad'), bytes, shape === 'bare' ? Buffer.alloc(0) : Buffer.concat([Buffer.from('\n'), next])]);
      sink.line(buf, 3, 3 + bytes.length, o);
    },
    tooLong: (o, head) => sink.tooLong(o, head),
  }, offset);
  framer.push(data);
  framer.end();
  return outcome(counts, rejects, usage, table, fastCounts, identified);
}

/** The exact path's results added to the fast path's, as billing-map.ts adds them. */
function outcome(counts: ReturnType<typeof emptyCounts>, rejects: unknown[], usage: UsageTable, table: UserTable, fastCounts: ReturnType<typeof emptyShardCounts>, ids: string[]): Outcome {
  addCounts(counts, fastCounts);
  for (const [user, u] of usage.users) {
    const key = Buffer.from(user, 'utf8');
    const e = table.entry(key, 0, key.length, hash(key));
    for (let t = 0; t < usage.taskCount; t++) if (u.requests[t] !== 0) table.addBig(e, t, u.requests[t]!, u.durationOf(t));
  }
  return { counts, rejects, usage: usageEntries(table), fast: fastCounts.records, ids };
}

function hash(k: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const c of k) h = Math.imul(h ^ c, 0x01000193);
  return h >>> 0;
}

/**
 * The fast path line by line and in blocks (data ending in a terminator), against the
 * definition; JSON lines with their learned layouts read by fastLearned's loop only, and
 * compiled once the loop has billed a line in them (or at once, when an earlier test of the
 * file compiled the layout).
 */
function same(format: Fmt, data: Buffer, offset: number, window: TimeWindow, header?: string, dedupe = false): Outcome {
  const want = judge(format, data, offset, window, header, false, 'lines', dedupe);
  let got: Outcome | undefined;
  for (const compileAfter of format === 'jsonl' ? [Infinity, 1] : [undefined]) {
    const lines = judge(format, data, offset, window, header, true, 'lines', dedupe, compileAfter);
    got ??= lines;
    for (const shape of ['lines', 'bare', 'block'] as const) {
      if (shape === 'block' && !(data.length === 0 || data[data.length - 1] === 10)) continue;
      const r = shape === 'lines' ? lines : judge(format, data, offset, window, header, true, shape, dedupe, compileAfter);
      expect(r.counts).toEqual(want.counts);
      expect(r.rejects).toEqual(want.rejects);
      expect(r.usage).toEqual(want.usage);
      expect(r.ids).toEqual(want.ids);
      if (shape !== 'bare') expect(r.fast).toBe(got.fast);
    }
  }
  return got!;
}

const mostly = <T>(valid: T[], edges: T[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...edges) });
const timestamp = mostly(
  ['2025-05-02T10:00:00Z', '2025-05-02T10:00:00.5Z', '2025-05-02T10:59:59.999Z', '2025-05-02T11:00:00Z', '2024-02-29T10:00:00Z', '2025-05-02T10:00:00.500000Z',
    '2025-05-02T10:00:00.499+00:00', '2025-05-02T11:30:00.5+01:30', '2025-05-02T09:59:59.999999-01:00', '2025-05-02T10:00:01-00:00', '2025-05-02T10:59:59+00:00'],
  ['2025-05-02t11:00:00+01:00', '2025-05-02T10:00:00+24:00', '2025-05-02T10:00:00+23:60', '2025-05-02T10:00:00+01:00Z', '2025-05-02T10:00:00+0100', '2025-05-02T10:00:00+01:0',
    '2025-05-02T10:00:00.+01:00', '2025-05-02T10:00:00 +01:00', '2025-05-02T10:00:00.5z', '2025-05-02T10:00:00-1:00', '2025-05-02T10:00:00.499999999999Z', '2025-05-02T10:00:00z', '2025-02-29T10:00:00Z', '1900-02-29T10:00:00Z', '2025-04-31T10:00:00Z',
    '2025-05-02T24:00:00Z', '2025-05-02T23:60:00Z', '2025-05-02T23:59:60Z', '2025-05-02T10:00:00', '2025-05-02T10:00:00.Z', '2025-13-02T10:00:00Z',
    '2025-00-02T10:00:00Z', '2025-05-00T10:00:00Z', '2025/05/02T10:00:00Z', '2025-05-02T10:00:00.5.5Z', '2025-05-02T10:00:0aZ', ' 2025-05-02T10:00:00Z', 'x',
    '2025-05-02 10:00:00Z', '2025-05-02X10:00:00Z'],
);
const user = mostly(
  ['user1', 'u-2', '__proto__', 'constructor', 'x'.repeat(128), 'a.b_c'],
  ['', 'x'.repeat(129), 'é', '😀', '\ufeffbob', 'a b', 'a\tb', 'a\u00a0b', 'a\u3000b', 'a\x01b', 'a\x7fb', 'a"b', 'a,b', 'a\\b', 'a\u2028b'],
);
const task = mostly(['login', 'search', 'Upload'], ['Login', 'upload', 'logi', 'loginx', '', 'é', 'login ']);
const statusNum = mostly([200, 404, 100, 599], [99, 600, 0, 1000]);
const durationNum = mostly([0, 1568, 86400000, 7], [86400001, 9007199254740993, 1e16]);

const csvField = {
  status: fc.oneof(statusNum.map(String), fc.constantFrom('0200', '000000404', '+200', '2e2', '', ' 200', '200 ', '9999999999', 'abc')),
  duration: fc.oneof(durationNum.map((n) => `${n}`), durationNum.map((n) => `${n}ms`), fc.constantFrom('ms', '5MS', '-5', '1.5', '086400000', '99999999999999999999', '12s', ' 5', '5m', '5mx', '5mss', 'm', '5m"')),
};
const HEADERS = [
  'timestamp,user,task,status,duration_ms', 'Task,Duration,User_ID,Status,TIMESTAMP', 'timestamp,user,task,status,duration_ms,request_id', 'timestamp,user,task,status,duration_ms,note',
  'note,timestamp,user,task,status,duration_ms,region', 'user,note,task,timestamp,duration,status', 'Request_ID,user,task,timestamp,note,duration,status',
];
/** A CSV record for a header: the fields in its column order, sometimes quoted, sometimes a field too many or too few. */
function csvRecord(header: string): fc.Arbitrary<Buffer> {
  const names = header.toLowerCase().split(',');
  const values = fc.record({ timestamp, user, task, status: csvField.status, duration: csvField.duration, extra: fc.constantFrom('r1', 'r2', 'r1', '', 'a"b', 'eu west 1', ' ', 'a\tb', 'é', '\x7f', 'a;b=c/d?e', 'x'.repeat(128), 'x'.repeat(129)) });
  const quote = (f: string) => `"${f.replace(/"/g, '""')}"`;
  const numeric = new Set(['status', 'duration', 'duration_ms']);
  const shapes = fc.constantFrom('plain', 'plain', 'plain', 'quoted', 'nonnumeric', 'some', 'short', 'long');
  const record = fc.tuple(values, shapes, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 })).map(([v, shape, which]) => {
    const byName: Record<string, string> = { timestamp: v.timestamp, user: v.user, user_id: v.user, task: v.task, status: v.status, duration: v.duration, duration_ms: v.duration };
    let fields = names.map((n) => byName[n] ?? v.extra);
    // Every field quoted (csv.QUOTE_ALL), the text fields (csv.QUOTE_NONNUMERIC, R's write.csv), or some.
    if (shape === 'quoted') fields = fields.map(quote);
    if (shape === 'nonnumeric') fields = fields.map((f, i) => (numeric.has(names[i]!) ? f : quote(f)));
    if (shape === 'some') fields = fields.map((f, i) => (which[i] ? quote(f) : f));
    if (shape === 'short') fields.pop();
    if (shape === 'long') fields.push('x');
    return Buffer.from(fields.join(','), 'utf8');
  });
  const long = fc.constantFrom(65535, 65536, 70_000).map((n) => Buffer.from(`2025-05-02T10:00:00Z,${'u'.repeat(n)},login,200,5`));
  // Quotes out of place: text after a closing quote, an unterminated field, a quote inside an unquoted one, doubled quotes.
  const misquoted = fc.tuple(record, fc.nat(), fc.constantFrom('"', '""', '"x', 'x"', '""""', '" ')).map(([r, k, q]) => {
    const at = k % (r.length + 1);
    return Buffer.concat([r.subarray(0, at), Buffer.from(q), r.subarray(at)]);
  });
  return fc.oneof(
    { weight: 10, arbitrary: record },
    { weight: 2, arbitrary: misquoted },
    // A byte that is not UTF-8 anywhere, a quoted field's included: bad_encoding before any other rule.
    { weight: 1, arbitrary: record.chain((b) => fc.nat().map((k) => { const c = Buffer.from(b); if (c.length > 0) c[k % c.length] = 0xff; return c; })) },
    { weight: 1, arbitrary: long },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t', ',,,,', '"', 'a,b,c,d,e', '"",,,,', '"a,b",c,d,e,f').map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 50 }).map((a) => Buffer.from(a)) },
  );
}

const jsonValue = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, '200', 200.5, -1, [], {}, 'x') },
);
/** request_id values (JSON text): ids every rule passes, none (empty, null), and bad ones. */
const REQUEST_IDS = ['"r-1"', '"r-2"', '"r-1"', '"A.b_c:9"', `"${'x'.repeat(128)}"`, '""', 'null', '"a b"', '"é"', `"${'x'.repeat(129)}"`, '"a\\u0041"', '7', '"a\\"b"'];
/** Keys the contract does not name (ignored), and value texts for them: JSON's or not, ones the fast path passes over and ones it leaves to JSON.parse. */
const OTHER_KEYS = ['note', 'region', '__proto__', 'Timestamp', 'user ', 'Status'];
const OTHER_VALUES = [
  '"x"', '""', '"eu west 1"', '0', '-0', '12', '-3.25', '1e5', '1E+5', '2.5e-3', 'true', 'false', 'null', '[1]', '{}', '{"a":1}', '"a\\"b"', '"é"',
  '01', '-', '1.', '.5', '1e', 'tru', 'nul', 'True', 'NaN', '"\\u0041"', '+1', '0x1', '1.5.2', 'truex', '"a', '1e+', '-01',
  // Nested values (a log's `client`, `headers`): well formed, and malformed in every way.
  '[]', ' [ 1 , "x" ,true, null,-2.5e3 ] ', '{"ip":"10.0.0.1","agent":"sdk/1.2"}', '{ "a" : { "b" : [ [ ] , { } ] } }', '[[[[1]]]]', '{"a":1,"a":2}', '{"status":2e2}',
  '[1,]', '[,1]', '[1 2]', '{"a":1,}', '{,}', '{"a" 1}', '{"a":}', '{a:1}', '[01]', '{"é":1}', '{"a":"\\n"}', '[1}', '{"a":1]', '[', '{"a":[1,2}', '["\t"]',
  `${'['.repeat(40)}${']'.repeat(40)}`, `${'['.repeat(31)}1${']'.repeat(31)}`, `${'{"a":'.repeat(33)}1${'}'.repeat(33)}`,
];
const jsonRecord = fc
  .tuple(timestamp, user, task, statusNum, durationNum, jsonValue, fc.constantFrom('none', 'none', 'request_id', 'note', 'note', 'dup', 'missing'), fc.constantFrom(':', ': ', ' : '), fc.constantFrom(',', ', ', '\t,'), fc.boolean(), fc.nat())
  .map(([ts, u, t, st, d, odd, extra, colon, comma, shuffle, seed]) => {
    let pairs: Array<[string, string]> = [
      ['timestamp', JSON.stringify(ts)], ['user', JSON.stringify(u)], ['task', JSON.stringify(t)], ['status', String(st)], ['duration_ms', String(d)],
    ];
    if (odd !== undefined) pairs[seed % 5]![1] = JSON.stringify(odd);
    if (shuffle) pairs = [...pairs.slice(seed % 5), ...pairs.slice(0, seed % 5)];
    if (extra === 'request_id') pairs.splice(seed % 6, 0, ['request_id', REQUEST_IDS[seed % REQUEST_IDS.length]!]);
    if (extra === 'note') {
      pairs.splice(seed % 6, 0, [OTHER_KEYS[seed % OTHER_KEYS.length]!, OTHER_VALUES[seed % OTHER_VALUES.length]!]);
      if (seed % 3 === 0) pairs.splice(seed % 7, 0, [OTHER_KEYS[(seed >> 3) % OTHER_KEYS.length]!, OTHER_VALUES[(seed >> 3) % OTHER_VALUES.length]!]);
    }
    if (extra === 'dup') pairs.push(pairs[seed % 5]!);
    if (extra === 'missing') pairs.splice(seed % 5, 1);
    return Buffer.from(`{${pairs.map(([k, v]) => `"${k}"${colon}${v}`).join(comma)}}`, 'utf8');
  });
const jsonLine = fc.oneof(
  { weight: 10, arbitrary: jsonRecord },
  { weight: 1, arbitrary: jsonRecord.map((b) => Buffer.from(` \t${b.toString('utf8')} `)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '', ' ', '[1]', 'null', '{', '{}', '{"timestamp":"2025-05-02T10:00:00Z","user":"u","task":"login","status":200,"duration_ms":10}x',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"u","task":"login","status":200,"duration_ms":010}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"u","task":"login","status":2e2,"duration_ms":1.0}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"u\\u0041","task":"login","status":200,"duration_ms":-0}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"u","task":"login","status":200,"duration_ms":10,}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"u","task":"login","status":200,"duration_ms":10}\r',
    ).map((s) => Buffer.from(s)),
  },
  { weight: 1, arbitrary: fc.constantFrom(65400, 65536, 70_000).map((n) => Buffer.from(`{"timestamp":"2025-05-02T10:00:00Z",${' '.repeat(n)}"user":"u","task":"login","status":200,"duration_ms":1}`)) },
  { weight: 1, arbitrary: jsonRecord.chain((b) => fc.nat().map((k) => { const c = Buffer.from(b); c[k % c.length] = 0xff; return c; })) },
);

function joined(lines: Buffer[], crlf: boolean[]): Buffer {
  return Buffer.concat(lines.flatMap((l, i) => [l, Buffer.from(crlf[i] ? '\r\n' : '\n')]));
}

describe('CsvScanner + exact path ≡ LineAccumulator (CSV)', () => {
  it('same counts, rejects and usage for random files and shards, with and without a window', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...HEADERS).chain((h) => fc.tuple(fc.constant(h), fc.array(fc.tuple(csvRecord(h), fc.boolean()), { maxLength: 15, size: 'medium' }))),
        fc.boolean(), fc.constantFrom(0, 1, 4096), fc.boolean(),
        ([header, ls], afterHeader, offset, windowed) => {
          const lines = ls.map(([l]) => l);
          const crlf = ls.map(([, c]) => c);
          const w = windowed ? WINDOW : OPEN;
          // A shard after the header knows the layout; a file's first shard reads the header line itself.
          if (afterHeader) same('csv', joined(lines, crlf), offset || 1, w, header);
          else same('csv', joined([Buffer.from(header), ...lines], [false, ...crlf]), offset, w);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('quotes out of place in the contract\'s column order: each record judged as the definition judges it', () => {
    // A byte after a closing quote, a quote never closed, a comma or a doubled quote inside one, in every field; an empty line after each.
    const t = '2025-05-02T10:00:00Z';
    const quoted = [`"${t}"`, '"user1"', '"login"', '"200"', '"5ms"'];
    const edges: string[] = [];
    for (let f = 0; f < 5; f++) {
      const fields = (k: number, v: string) => quoted.map((q, j) => (j === k ? v : q)).join(',');
      const inner = quoted[f]!.slice(1, -1);
      for (const v of [`"${inner}"x`, `"${inner}`, `${inner}"`, `"${inner},"`, `"${inner}""x"`, `"${inner}x`, `"${inner}",`, `"${inner},`, `""${inner}""`, `"${inner}" `]) edges.push(fields(f, v));
      // Another byte where the comma after the field's closing quote belongs, quoted or not after it.
      if (f < 4) for (const next of [quoted, quoted.map((q) => q.slice(1, -1))]) edges.push(`${quoted.slice(0, f + 1).join(',')}x${next.slice(f + 1).join(',')}`);
    }
    edges.push(`"${t}",user1,"login,,200,5`, `"${t}Zx",user1,login,200,5`, `"${t}x,user1,login,200,5`, `"2025-05-02T10:00:00.5Z"x,user1,login,200,5`, `${t},"user1",login,200,"5`);
    for (const header of [HEADERS[0]!, HEADERS[3]!]) {
      const records = header === HEADERS[3] ? [...edges.map((e) => `${e},n`), ...['"a, b"x', '"a, b', '"a""b"', '"a, b",', '"a'].map((n) => `${t},u,login,200,5,${n}`)] : edges;
      const lines = records.flatMap((r) => [Buffer.from(r), Buffer.alloc(0)]);
      for (const crlf of [false, true]) same('csv', joined(lines, lines.map(() => crlf)), 10, OPEN, header);
    }
  });

  it('a time window judges each record by its own fraction: a whole second after a fraction, at the window\'s start', () => {
    // WINDOW starts at 10:00:00.5: the second record (10:00:00, no fraction) is before it, the third (10:00:00.5) in it.
    const rows = ['2025-05-02T10:00:00.5Z,user1,login,200,1', '2025-05-02T10:00:00Z,user1,login,200,2', '2025-05-02T10:00:00.5Z,user1,login,200,4', '2025-05-02T10:00:00Z,user1,login,200,8'];
    for (const header of [HEADERS[0]!, HEADERS[3]!]) {
      const extra = header === HEADERS[3] ? ',n' : '';
      const r = same('csv', joined(rows.map((l) => Buffer.from(l + extra)), rows.map(() => false)), 10, WINDOW, header);
      expect([r.fast, r.counts.accepted, r.counts.outOfWindow]).toEqual([4, 2, 2]);
      expect(r.usage.get('user1')).toContainEqual({ requests: 2, durationMs: 5n });
    }
  });

  it('the same with dedupe by request id: the records handed to dedupe (key, offset, fingerprint, window) too', () => {
    const withIds = HEADERS.filter((h) => /request_id/i.test(h));
    fc.assert(
      fc.property(
        fc.constantFrom(...withIds).chain((h) => fc.tuple(fc.constant(h), fc.array(fc.tuple(csvRecord(h), fc.boolean()), { maxLength: 15, size: 'medium' }))),
        fc.constantFrom(1, 4096), fc.boolean(),
        ([header, ls], offset, windowed) => {
          same('csv', joined(ls.map(([l]) => l), ls.map(([, c]) => c)), offset, windowed ? WINDOW : OPEN, header, true);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('clean records take the fast path, in any column order, with other columns and a request id; odd records do not', () => {
    const rows = ['2025-05-02T10:00:00Z,user1,login,200,1568', '2025-05-02T10:00:00.25Z,user2,search,404,7ms', '2025-05-02T11:30:00.123456+01:00,user3,login,200,9'];
    expect(same('csv', joined([Buffer.from(HEADERS[0]!), ...rows.map((r) => Buffer.from(r))], [false, false, true, false]), 0, OPEN).fast).toBe(3);
    expect(same('csv', joined([Buffer.from('user,TASK,duration,status,Timestamp'), Buffer.from('u,login,5,200,2025-05-02T10:00:00Z')], [false, false]), 0, OPEN).fast).toBe(1);
    expect(same('csv', joined(rows.map((r) => Buffer.from(r)), [false, false, false]), 10, WINDOW, HEADERS[0]).fast).toBe(3);
    // A request_id column: the fast path, billed (no dedupe) or handed to dedupe; any other column (ignored): the fast path.
    expect(same('csv', joined(rows.map((r) => Buffer.from(`${r},r1`)), [false, false, false]), 10, OPEN, HEADERS[2]).fast).toBe(3);
    const deduped = same('csv', joined(rows.map((r, i) => Buffer.from(`${r},${i === 1 ? '' : `r${i}`}`)), [false, false, false]), 10, WINDOW, HEADERS[2], true);
    expect(deduped.fast).toBe(3);
    expect(deduped.ids).toHaveLength(2);
    expect(same('csv', joined(rows.map((r) => Buffer.from(`${r},eu west 1`)), [false, false, false]), 10, OPEN, HEADERS[3]).fast).toBe(3);
    expect(same('csv', joined(rows.map((r) => Buffer.from(`,${r},`)), [false, false, false]), 10, WINDOW, HEADERS[4]).fast).toBe(3);
    // Quoted fields (every field, the text fields, one field; another column's value with a comma): the fast path.
    const quoted = [
      '"2025-05-02T10:00:00Z","user1","login","200","1568"', '"2025-05-02T10:00:00.25Z","user2","search",404,7', '2025-05-02T10:00:00Z,"user1",login,200,1',
      '"2025-05-02T11:30:00.123456+01:00",user3,"login",200,"9ms"', '"2025-05-02T10:00:00Z","",login,200,1',
    ];
    const q = same('csv', joined(quoted.map((l) => Buffer.from(l)), quoted.map(() => false)), 10, OPEN, HEADERS[0]);
    expect(q.fast).toBe(4);
    expect(q.counts.accepted).toBe(4);
    expect(q.counts.rejected.bad_user).toBe(1);
    const quotedOthers = ['"a,b"', '"eu west 1"', '""'].map((x) => Buffer.from(`"2025-05-02T10:00:00Z","user1","login",200,1568,${x}`));
    expect(same('csv', joined(quotedOthers, [false, false, false]), 10, OPEN, HEADERS[3]).fast).toBe(3);
    // A doubled quote, a contract field with a comma inside quotes, text after a closing quote,
    // non-ASCII in another column, a tab, a user with NBSP (bad_user): the exact path.
    const others = ['"a""b"', 'é', 'a\tb'].map((x) => Buffer.from(`2025-05-02T10:00:00Z,user1,login,200,1568,${x}`));
    const o = same('csv', joined(others, [false, false, false]), 10, OPEN, HEADERS[3]);
    expect(o.fast).toBe(0);
    expect(o.counts.accepted).toBe(3);
    const odd = ['2025-05-02T10:00:00Z,"user,1",login,200,1', '2025-05-02T10:00:00Z,"us""er1",login,200,1', '2025-05-02T10:00:00Z,u\u00a0x,login,200,1', '2025-05-02T10:00:00Z,u,nosuch,200,1', '2025-05-02T10:00:00Z,"u"x,login,200,1', '2025-05-02T10:00:00Z,"u,login,200,1'];
    const r = same('csv', joined(odd.map((l) => Buffer.from(l)), odd.map(() => false)), 10, OPEN, HEADERS[0]);
    expect(r.fast).toBe(0);
    expect(r.counts.accepted).toBe(2);
    expect(r.counts.rejected.bad_user).toBe(1);
    expect(r.counts.rejected.unknown_task).toBe(1);
    expect(r.counts.rejected.bad_field_count).toBe(2);
    // Users with letters above ASCII (UTF-8), quoted or not, in either path: the fast path; bytes that are not UTF-8 are bad_encoding.
    const letters = ['2025-05-02T10:00:00Z,Zürich,login,200,1', '2025-05-02T10:00:00Z,"\u3042",login,200,1', '2025-05-02T10:00:00Z,😀,login,200,1'];
    for (const header of [HEADERS[0]!, HEADERS[3]!]) expect(same('csv', joined(letters.map((l) => Buffer.from(header === HEADERS[0] ? l : `${l},x`)), letters.map(() => false)), 10, OPEN, header).fast).toBe(3);
    const notUtf8 = same('csv', joined([Buffer.concat([Buffer.from('2025-05-02T10:00:00Z,u'), Buffer.from('eda080', 'hex'), Buffer.from(',login,200,1')])], [false]), 10, OPEN, HEADERS[0]);
    expect([notUtf8.fast, notUtf8.counts.rejected.bad_encoding]).toEqual([0, 1]);
    // An unterminated quote in the last field, before an empty line: the line ends at its LF.
    const open = same('csv', Buffer.from('2025-05-02T10:00:00Z,u,login,200,"5\n\n2025-05-02T10:00:00Z,u,login,200,"5"\n'), 10, OPEN, HEADERS[0]);
    expect(open.counts.rejected.bad_field_count).toBe(1);
    expect(open.counts.accepted).toBe(1);
    expect(open.fast).toBe(1);
  });
});

/** The JSON lines scanner's two fast paths (its learned layouts, and its key loop), spied on while `body` runs, then restored. */
type PathSpy = MockInstance<() => number>;
function withPathSpies(proto: object, body: (straight: PathSpy, anyOrder: PathSpy) => void): void {
  const paths = proto as { fastLearned(): number; fastAnyOrder(): number };
  const straight = vi.spyOn(paths, 'fastLearned');
  const anyOrder = vi.spyOn(paths, 'fastAnyOrder');
  try {
    body(straight, anyOrder);
  } finally {
    straight.mockRestore();
    anyOrder.mockRestore();
  }
}

/** The calls of a spied fast path that billed their line. */
function billedBy(spy: PathSpy): number {
  return spy.mock.results.filter((r) => (r.value as number) >= 0).length;
}

describe('CsvScanner: which fast path', () => {
  it("records in the contract's column order, quoted or not, take the straight-line path (fastRun's own loop); other orders the column loop", () => {
    const anyOrder = vi.spyOn(CsvScanner.prototype as unknown as { fastAnyOrder(): number }, 'fastAnyOrder');
    try {
      const rows = ['2025-05-02T10:00:00Z,user1,login,200,1568', '2025-05-02T10:00:00Z,user2,search,404,7ms', '2025-05-02T10:00:00.123-00:30,user2,search,404,7ms',
        '"2025-05-02T10:00:00Z","user1","login","200","5"', '"2025-05-02T10:00:00.5+01:00","user2","search",404,"7ms"', '2025-05-02T10:00:00Z,"u",login,"200",5'];
      expect(same('csv', joined([Buffer.from(HEADERS[0]!), ...rows.map((r) => Buffer.from(r))], [false, false, true, false, true, false, false]), 0, OPEN).fast).toBe(6);
      expect(same('csv', joined(rows.map((r) => Buffer.from(`${r},"a, b"`)), rows.map(() => false)), 10, OPEN, HEADERS[3]).fast).toBe(6);
      // Billed by the fast path, line by line and as a block, and never by the column loop.
      expect(anyOrder).not.toHaveBeenCalled();
      expect(same('csv', joined([Buffer.from('user,TASK,duration,status,Timestamp'), Buffer.from('u,login,5,200,2025-05-02T10:00:00Z')], [false, false]), 0, OPEN).fast).toBe(1);
      expect(billedBy(anyOrder)).toBe(2);
      anyOrder.mockClear();
      // billCommon (how a wrapper's lines are billed; CSV is not unwrapped by a fast path today): the straight-line path up to the first line it does not take, which the column loop refuses too.
      const counts = emptyShardCounts();
      const scanner = new CsvScanner('f.csv', csvLayout(HEADERS[0]!, 'f.csv'), TASKS, config.maxDurationMs, OPEN, new UserTable(config.rates.length), counts, { line() {}, tooLong() {} });
      const lines = `${rows[0]}\n${rows[3]}\n${rows[4]}\nx\n${rows[0]}\n`;
      expect(scanner.billCommon(Buffer.from(lines), 0, lines.length)).toBe(lines.indexOf('x\n'));
      expect([counts.records, anyOrder.mock.calls.length, billedBy(anyOrder)]).toEqual([3, 1, 0]);
    } finally {
      anyOrder.mockRestore();
    }
  });
});

describe('JsonlScanner + exact path ≡ LineAccumulator (JSON lines)', () => {
  it('same counts, rejects and usage for random lines, with and without a window', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(jsonLine, fc.boolean()), { maxLength: 15, size: 'medium' }), fc.constantFrom(0, 1, 4096), fc.boolean(), (ls, offset, windowed) => {
        same('jsonl', joined(ls.map(([l]) => l), ls.map(([, c]) => c)), offset, windowed ? WINDOW : OPEN);
      }),
      { numRuns: 2000 },
    );
  });

  it('the same with dedupe by request id: the records handed to dedupe (key, offset, fingerprint, window) too', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(jsonLine, fc.boolean()), { maxLength: 15, size: 'medium' }), fc.constantFrom(0, 1, 4096), fc.boolean(), (ls, offset, windowed) => {
        same('jsonl', joined(ls.map(([l]) => l), ls.map(([, c]) => c)), offset, windowed ? WINDOW : OPEN, undefined, true);
      }),
      { numRuns: 2000 },
    );
  });

  it('the same for files whose lines share a few layouts (which the fast path learns), with values of every kind, and lines that stray from them', () => {
    const layout = fc.record({
      order: fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 }),
      colon: fc.constantFrom(':', ': '),
      comma: fc.constantFrom(',', ', ', ' ,'),
      other: fc.constantFrom(undefined, 'region', 'note', 'request_id', 'duration_msx'),
      otherAt: fc.nat(5),
    });
    const values = fc.tuple(timestamp, user, task, statusNum, durationNum, fc.nat());
    const inLayout = (l: { order: number[]; colon: string; comma: string; other: string | undefined; otherAt: number }, [ts, u, t, st, d, seed]: [string, string, string, number, number, number]) => {
      const all: Array<[string, string]> = [['timestamp', JSON.stringify(ts)], ['user', JSON.stringify(u)], ['task', JSON.stringify(t)], ['status', String(st)], ['duration_ms', String(d)]];
      const pairs = l.order.map((k) => all[k]!);
      if (l.other !== undefined) pairs.splice(l.otherAt, 0, [l.other, l.other === 'request_id' ? REQUEST_IDS[seed % REQUEST_IDS.length]! : OTHER_VALUES[seed % OTHER_VALUES.length]!]);
      return Buffer.from(`{${pairs.map(([k, v]) => `"${k}"${l.colon}${v}`).join(l.comma)}}`, 'utf8');
    };
    const file = fc.tuple(layout, layout).chain(([a, b]) =>
      fc.array(fc.oneof({ weight: 6, arbitrary: values.map((v) => inLayout(a, v)) }, { weight: 3, arbitrary: values.map((v) => inLayout(b, v)) }, { weight: 1, arbitrary: jsonLine }), { minLength: 1, maxLength: 40 }),
    );
    for (const dedupe of [false, true]) {
      fc.assert(
        fc.property(file, fc.constantFrom(0, 1, 4096), fc.boolean(), (ls, offset, windowed) => {
          same('jsonl', joined(ls, ls.map(() => false)), offset, windowed ? WINDOW : OPEN, undefined, dedupe);
        }),
        { numRuns: 400 },
      );
    }
  });

  it('clean objects take the fast path, in any key order, with or without a request id; other keys, escapes and odd numbers do not', () => {
    const clean = [
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568}',
      '{ "duration_ms" : 0, "status": 599, "task": "Upload", "user": "u2", "timestamp": "2025-05-02T10:00:00.5Z" }',
      '{"request_id":"req-1-7","timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"request_id":""}',
    ];
    for (const dedupe of [false, true]) {
      expect(same('jsonl', joined(clean.map((l) => Buffer.from(l)), [false, true, false, false]), 10, OPEN, undefined, dedupe).fast).toBe(4);
      const w = same('jsonl', joined(clean.map((l) => Buffer.from(l)), [false, true, false, false]), 10, WINDOW, undefined, dedupe);
      expect(w.fast).toBe(4);
      // With dedupe the line with an id goes to dedupe, outside the window or not (the window applies after dedupe), not to the bill.
      expect(w.ids).toEqual(dedupe ? ['req-1-7|218|user1\u00001\u00002025-05-02T10:00:00Z\u0000200\u00001568|false'] : []);
    }
    // Other keys (ignored) with plain strings, numbers and literals: the fast path too.
    const others = [
      '{"timestamp":"2025-05-02T10:00:00Z","region":"eu west 1","user":"user1","latency":-3.5e2,"task":"login","ok":true,"status":200,"x":null,"duration_ms":1568,"n":0}',
      '{"__proto__":"x","timestamp":"2025-05-02T10:00:00.123Z","user":"user1","task":"login","status":200,"duration_ms":7,"Status":"500"}',
      // Objects and arrays under other keys, as API logs nest a client or headers.
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"client":{"ip":"10.0.0.1","tags":["a",1,{"k":null}]}}',
      '{"client": { "ip" : "10.0.0.1" }, "timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"list":[]}',
    ];
    expect(same('jsonl', joined(others.map((l) => Buffer.from(l)), [false, true, false, false]), 10, OPEN).fast).toBe(4);
    // Escapes JSON.parse reads, in other keys' strings (PHP's `\/`, Go's `\u0026`, a quote, a control character): the fast path too.
    const escaped = [
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"path":"\\/api\\/v1\\/login"}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"q":"a\\u0026b\\uD83D\\ude00","client":{"agent":"x \\"y\\" \\\\ \\n\\t\\b\\f\\r"}}',
      '{"msg":"\\"quoted\\"","timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"list":["\\/"]}',
      // Letters above ASCII in UTF-8 (2, 3 and 4 bytes, the edges of each form), raw U+2028.
      '{"city":"Zürich \u00c0\u07ff\u0800\ud7ff\ue000\uffff\u{10000}\u{10ffff}\u2028","timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"m":{"é":["ß"]}}',
      // A user with letters above ASCII.
      '{"timestamp":"2025-05-02T10:00:00Z","user":"Zürich-😀","task":"login","status":200,"duration_ms":1568}',
    ];
    expect(same('jsonl', joined(escaped.map((l) => Buffer.from(l)), escaped.map(() => false)), 10, OPEN).fast).toBe(5);
    // Bytes that are not UTF-8 in another key's string (overlong, a surrogate, above U+10FFFF, cut short, a lone continuation): bad_encoding, from the exact path.
    const base = '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"city":"';
    const notUtf8 = ['c0af', 'e080af', 'eda080', 'f08f8080', 'f4908080', 'f5808080', 'e282', 'c3', '80', 'ff'].map((hex) => Buffer.concat([Buffer.from(base), Buffer.from(hex, 'hex'), Buffer.from('"}')]));
    const bad = same('jsonl', joined(notUtf8, notUtf8.map(() => false)), 10, OPEN);
    expect(bad.fast).toBe(0);
    expect(bad.counts.rejected.bad_encoding).toBe(notUtf8.length);
    // Malformed nesting or a bad escape is bad_json; an escape in a key, a deep nesting or an object as a contract value: the exact path.
    const nested = [
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"client":{"ip":"10.0.0.1",}}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"client":{"ip":"a\\qb"}}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"path":"\\u00e"}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"p\\u0061th":"x"}',
      `{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"deep":${'['.repeat(33)}${']'.repeat(33)}}`,
      '{"timestamp":"2025-05-02T10:00:00Z","user":{"id":"user1"},"task":"login","status":200,"duration_ms":1568}',
    ];
    const n = same('jsonl', joined(nested.map((l) => Buffer.from(l)), nested.map(() => false)), 10, OPEN);
    expect(n.fast).toBe(0);
    expect(n.counts.accepted).toBe(2);
    expect(n.counts.rejected.bad_json).toBe(3);
    expect(n.counts.rejected.bad_user).toBe(1);
    const odd = [
      '{"request_id":null,"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"us\\u0065r1","task":"login","status":200,"duration_ms":1568}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568.0}',
      '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"user":"user2"}',
    ];
    const r = same('jsonl', joined(odd.map((l) => Buffer.from(l)), odd.map(() => false)), 10, OPEN);
    expect(r.fast).toBe(0);
    expect(r.counts.accepted).toBe(4);
  });
});

describe('JsonlScanner: which fast path', () => {
  it('the key loop reads a line and learns its layout; the lines after it in that layout, whatever the key order, spacing and other keys, are read by it', () => {
    withPathSpies(JsonlScanner.prototype, (learned, anyOrder) => {
      const line = (u: number, ms: number) => `{"user": "u${u}", "region":"eu-west-${u}" , "timestamp":"2025-05-02T10:00:0${u}.${u}Z","task":"login","duration_ms":${ms},"ok":${u % 2 === 0},"status":200}`;
      const lines = [1, 2, 3, 4, 5].map((u) => line(u, u * 1000));
      // Line by line and as a block, the layout read by the loop and compiled (a scanner each): the first line by the key loop, the other four by the layout it learned.
      expect(same('jsonl', joined(lines.map((l) => Buffer.from(l)), lines.map(() => false)), 10, OPEN).fast).toBe(5);
      expect(billedBy(anyOrder)).toBe(4);
      expect(billedBy(learned)).toBe(16);
      learned.mockClear();
      anyOrder.mockClear();
      // Two layouts mixed (a key only some lines have): each learned, then every line of either read by it.
      const mixed = Array.from({ length: 60 }, (_, k) => (k % 3 === 0 ? `{"request_id":"r${k}",${line(1, k).slice(1)}` : line(2, k)));
      const r = judge('jsonl', joined(mixed.map((l) => Buffer.from(l)), mixed.map(() => false)), 10, OPEN, undefined, true, 'block');
      expect(r.fast).toBe(60);
      // The first line's layout at once; the other's once the key loop has billed 16 lines since (RELEARN_EVERY); the rest by the layouts.
      expect(billedBy(anyOrder)).toBeLessThanOrEqual(1 + 16);
      expect(billedBy(learned)).toBe(60 - billedBy(anyOrder));
    });
  });

  it('a line that differs from the layout learned in any byte between its values, or in a value, is read by the key loop or left to the exact path', () => {
    withPathSpies(JsonlScanner.prototype, (learned, anyOrder) => {
      const base = '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568}';
      const other = [
        // Another order, spacing, key, or a request id.
        '{"user":"user1","timestamp":"2025-05-02T10:00:00Z","task":"login","status":200,"duration_ms":1568}',
        '{"timestamp":"2025-05-02T10:00:00Z", "user":"user1","task":"login","status":200,"duration_ms":1568}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"region":"eu"}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200 ,"duration_ms":1568}',
        '{"request_id":"r1","timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568}',
        // A key that only looks like one of the layout's (first, in the middle, last), a repeated key.
        '{"Timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568}',
        '{"timestamp":"2025-05-02T10:00:00Z","User":"user1","task":"login","status":200,"duration_ms":1568}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_MS":1568}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_msx":1568}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1568,"duration_ms":1}',
      ];
      for (const line of other) {
        // The base line twice: the second is read by the learned layout, which is then compiled (compileAfter 1) or not.
        const lines = [base, base, line];
        const want = judge('jsonl', joined(lines.map((l) => Buffer.from(l)), [false, false, false]), 10, OPEN, undefined, false, 'lines');
        for (const compileAfter of [Infinity, 1]) {
          learned.mockClear();
          anyOrder.mockClear();
          const got = judge('jsonl', joined(lines.map((l) => Buffer.from(l)), [false, false, false]), 10, OPEN, undefined, true, 'block', false, compileAfter);
          expect(got.counts, line).toEqual(want.counts);
          expect(got.usage, line).toEqual(want.usage);
          expect(got.rejects, line).toEqual(want.rejects);
          expect(learned.mock.results.map((r) => (r.value as number) >= 0), line).toEqual([true, false]);
        }
      }
      // Values every rule refuses, after a line of their layout: neither fast path bills them (the exact path names the reason).
      // The base line twice: the second is read by the learned layout, which is then compiled (compileAfter 1) or not.
      const refused = [
        base,
        base,
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":99,"duration_ms":1568}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":0200,"duration_ms":1568}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":007}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":86400001}',
        '{"timestamp":"2025-02-30T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"","task":"login","status":200,"duration_ms":1}',
        `{"timestamp":"2025-05-02T10:00:00Z","user":"${'u'.repeat(129)}","task":"login","status":200,"duration_ms":1}`,
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"logout","status":200,"duration_ms":1}',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1',
        '{"timestamp":"2025-05-02T10:00:00Z","user":"user1","task":"login","status":200,"duration_ms":1]',
      ];
      learned.mockClear();
      const r = same('jsonl', joined(refused.map((l) => Buffer.from(l)), refused.map(() => false)), 10, OPEN);
      expect(r.fast).toBe(2);
      expect(r.counts.accepted).toBe(2);
      // The learned path met each of them (line by line and as a block, the layout read by the loop and compiled), and billed none.
      expect(learned.mock.results.length).toBe(4 * (refused.length - 1));
      expect(billedBy(learned)).toBe(4);
    });
  });

  it("a layout is compiled once the loop has billed compileAfter lines in it in the thread, whichever scanners billed them; the compiled layout reads the lines after them", () => {
    // A layout of its own (the records are the thread's: other tests' layouts are in them).
    const lines = Array.from({ length: 4 }, (_, k) => `{"timestamp":"2025-05-02T10:00:0${k}Z", "user":"u${k}","compile_after_test":${k},"task":"login","status":200,"duration_ms":${k}}`);
    const data = Buffer.from(`${lines.join('\n')}\n`);
    type Reader = (scanner: unknown, b: Buffer, s: number) => number;
    let record: { reader: Reader | null } | undefined;
    /** The lines scanned by a new scanner, and its first layout's compiled reader after each line. */
    const scan = (compileAfter: number): unknown[] => {
      const counts = emptyShardCounts();
      const exact = { line: () => expect.unreachable(), tooLong: () => expect.unreachable() };
      const scanner = new JsonlScanner(TASKS, config.maxDurationMs, OPEN, new UserTable(config.rates.length), counts, exact, undefined, compileAfter);
      const layouts = () => (scanner as unknown as { layouts: Array<{ record: { reader: Reader | null } }> }).layouts;
      const readers: unknown[] = [];
      let s = 0;
      for (let k = 0; k < lines.length; k++) {
        const e = data.indexOf(10, s);
        scanner.line(data, s, e, 10 + s);
        s = e + 1;
        record = layouts()[0]?.record;
        readers.push(record?.reader);
      }
      expect(counts.accepted).toBe(lines.length);
      return readers;
    };
    // Each scanner's first line teaches it the layout (the key loop bills it); the loop bills the 3 others: 3 lines, then 3 more.
    expect(scan(6)).toEqual([null, null, null, null]);
    const second = scan(6);
    expect(second.slice(0, 3)).toEqual([null, null, null]);
    expect(typeof second[3]).toBe('function');
    // A scanner learning the layout now reads it compiled from its second line (each of the 3 lines billed by the compiled reader); one that reads by the loop only, not.
    const compiled = second[3] as Reader;
    const billed: number[] = [];
    record!.reader = (scanner, b, s) => {
      const next = compiled(scanner, b, s);
      billed.push(next);
      return next;
    };
    expect(scan(6)).toEqual([record!.reader, record!.reader, record!.reader, record!.reader]);
    expect(billed.length).toBe(3);
    expect(billed.every((next) => next > 0)).toBe(true);
    billed.length = 0;
    expect(scan(Infinity)).toEqual([null, null, null, null]);
    expect(billed).toEqual([]);
  });
});
