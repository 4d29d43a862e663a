/**
 * mr's executor functions for the fast paths (DelimitedLine: space format and CSV; JsonLine:
 * JSON lines), run on the real local cluster against the core's own parser (RecordParser) on
 * every shape a line can take near the common one: each byte in each field, the calendar and
 * clock edges, statuses and durations in every form a cast or a parser might read,
 * separators, quotes, escapes, white space, key order, line ends, bad UTF-8; in the space
 * format, in CSV layouts with the columns reordered, an extra column and a request id, and in
 * JSON lines.
 *
 * What must hold: every line the function accepts (a non-NULL row) is a valid line for the
 * core, with the same user, task, duration and instant (else the fast path would bill a line
 * the rules reject, or bill it wrongly); and every valid line of the common shape but 29
 * February is accepted (else the fast path would be a slow path in disguise).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTempView, readFiles, sql } from '@mr/spark-connect';
import { useTestClient } from '../../fixtures/spark/cluster-hooks.js';
import { billingConfigFromEnv } from '../../engine/core/config/config.js';
import { csvLayout, type CsvLayout } from '../../engine/core/formats/csv.js';
import { RecordParser } from '../../engine/core/formats/records.js';
import { parseTimestamp } from '../../engine/core/validation/timestamp.js';
import { RULES } from '../../engine/core/validation/rules.js';
import { delimitedLineCall, jsonLineCall, registerFunctions, spaceLayout, type DelimitedLayout } from './functions.js';

const TASKS = ['login', 'getUserProfile', 'x'];
const config = billingConfigFromEnv(Object.fromEntries(TASKS.map((t) => [`RATE_${t}`, '0.001'])));

const sc = useTestClient('mr-functions-');

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const b = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s));

/** A record's five fields (bytes), in the rules' field order. */
type Fields = readonly [ts: Buffer, user: Buffer, task: Buffer, status: Buffer, duration: Buffer];

/** Field values near the common shape: each field varied with the others valid. */
function records(): Fields[] {
  const out: Fields[] = [];
  const rec = (p: { ts?: string | Buffer; user?: string | Buffer; task?: string | Buffer; status?: string | Buffer; dur?: string | Buffer }) => {
    const f = (v: string | Buffer | undefined, d: string) => (v === undefined ? b(d) : typeof v === 'string' ? b(v) : v);
    out.push([f(p.ts, '2025-05-02T23:16:50Z'), f(p.user, 'user_1.A-z'), f(p.task, 'login'), f(p.status, '200'), f(p.dur, '123ms')]);
  };
  // The calendar and the clock.
  for (const y of [0, 1900, 1999, 2000, 2024, 2025, 9999]) {
    for (let mo = 0; mo <= 13; mo++) {
      for (let d = 0; d <= 32; d++) {
        for (const clock of ['00:00:00', '23:59:59', '24:00:00', '12:60:00', '12:00:60', '09:07:05']) rec({ ts: `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${clock}Z` });
      }
    }
  }
  for (const ts of ['2025-05-02t23:16:50Z', '2025-05-02T23:16:50z', '2025-05-02T23:16:50.1Z', '2025-05-02T23:16:50+00:00', '2025-05-02T23:16:50', '2025-5-02T23:16:50Z', '202５-05-02T23:16:50Z', '+2025-05-02T23:16:50Z', '2025-05-02 23:16:50Z', '2025/05/02T23:16:50Z', '2025-05-02T23-16-50Z', '']) {
    rec({ ts });
  }
  // Every ASCII byte in the user and in the task, and some bytes that are not ASCII.
  for (let x = 0; x < 128; x++) {
    if (x === 10) continue;
    rec({ user: b([0x61, x, 0x62]) });
    rec({ user: b([x]) });
    rec({ task: b([0x78, x]) });
  }
  for (const user of ['é', '\u00a0u', '\ufeffbob', 'u\u200b', '用户', 'u'.repeat(RULES.user.maxBytes), 'u'.repeat(RULES.user.maxBytes + 1), 'u'.repeat(RULES.user.minBytes), '', '"bob"']) rec({ user });
  rec({ user: b([0x75, 0xff]) });
  rec({ user: b([0x75, 0xc3]) });
  for (const task of ['login', 'getUserProfile', 'x', 'Login', 'logout', 'login\u00a0', 'é', '', '"login"']) rec({ task });
  rec({ task: b([0x6c, 0xff]) });
  // Statuses.
  for (let v = 0; v <= 1000; v++) {
    rec({ status: String(v) });
    if (v < 100) rec({ status: pad(v, 3) });
  }
  for (const status of ['+50', '+200', '-200', '5.0', '200.0', '2e2', '٥٠٠', '２00', '0200', ' 200', '200 ', '']) rec({ status });
  // Durations.
  for (const dur of ['0ms', '00ms', '01ms', '1ms', '10ms', '123ms', `${'9'.repeat(15)}ms`, `1${'0'.repeat(14)}ms`, `1${'0'.repeat(15)}ms`, '1e3ms', '+5ms', '-5ms', '5.0ms', '.ms', '.5ms', 'ms', '5', '0', '05', '5MS', '5Ms', '5 ms', '٥ms', '５ms', '5ms\r', '5\r', '5ms ', '5msms', '5s', '0x5ms', '']) {
    rec({ dur });
  }
  for (const d of [0, 1, 1_000, 3_600_000, 86_400_000, 86_400_001, 1e12]) {
    rec({ dur: `${d}ms` });
    rec({ dur: String(d) });
  }
  return out;
}

/** Lines of the space format: the records, then separators and line ends around a valid one. */
function spaceLines(): Buffer[] {
  const TS = '2025-05-02T23:16:50Z';
  const lines = records().map((f) => Buffer.concat(f.flatMap((x, i) => (i === 0 ? [x] : [b(' '), x]))));
  for (const s of [
    `${TS}  u login 200 5ms`,
    `${TS}\tu login 200 5ms`,
    ` ${TS} u login 200 5ms`,
    `${TS} u login 200 5ms `,
    `${TS} u login 200 5ms\r`,
    `${TS} u login\t200 5ms`,
    `${TS} u login 200 5ms extra`,
    `${TS} u login 200`,
    `${TS} u login 200 5ms\u0000`,
    `\ufeff${TS} u login 200 5ms`,
    TS,
  ]) {
    lines.push(b(s));
  }
  return lines;
}

/** CSV header rows: the rules' order, and reordered with an extra column and a request id. */
const HEADERS = ['timestamp,user,task,status,duration_ms', 'note,duration_ms,request_id,status,user,task,timestamp'];

/** Lines of a CSV file under `header`: the records, with values in the other columns (note, request id) too. */
function csvLines(header: string): { layout: CsvLayout; lines: Buffer[] } {
  const layout = csvLayout(header, 'corpus.csv');
  const row = (f: Fields, rid: Buffer, note: Buffer) => {
    const cols: Buffer[] = Array.from({ length: layout.fieldCount }, () => note);
    cols[layout.timestamp] = f[0];
    cols[layout.user] = f[1];
    cols[layout.task] = f[2];
    cols[layout.status] = f[3];
    cols[layout.duration] = f[4];
    if (layout.requestId >= 0) cols[layout.requestId] = rid;
    return Buffer.concat(cols.flatMap((c, i) => (i === 0 ? [c] : [b(','), c])));
  };
  const recs = records();
  const lines = recs.map((f, i) => row(f, b(i % 3 === 0 ? '' : `req-${i}`), b(i % 2 === 0 ? '' : 'a note')));
  const valid: Fields = [b('2025-05-02T23:16:50Z'), b('user_1'), b('login'), b('200'), b('5ms')];
  for (const rid of ['', 'r', 'r'.repeat(RULES.requestId.maxBytes), 'r'.repeat(RULES.requestId.maxBytes + 1), 'a b', '"r"', 'é', 'r\t']) lines.push(row(valid, b(rid), b('')));
  for (const note of ['', 'hello world', 'a"b', '"quoted"', 'é', 'tab\there', '~!#$%&()*+-./:;<=>?@[]^_`{|}']) lines.push(row(valid, b('r1'), b(note)));
  lines.push(Buffer.concat([row(valid, b('r1'), b('')), b(',')]));
  lines.push(Buffer.concat([row(valid, b('r1'), b('')), b('\r')]));
  lines.push(b(header));
  return { layout, lines };
}

/** Runs DelimitedLine over `lines` in the cluster and holds each answer to the core's verdict. */
async function check(name: string, lines: Buffer[], call: (line: string) => string, parse: (bytes: Buffer) => ReturnType<RecordParser['parse']>, common: RegExp): Promise<void> {
  const file = join(sc.work, `${name}.txt`);
  writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, b('\n')])));
  await sc.client.command(createTempView(`mr_fn_${name}`, readFiles('text', [file], { lineSep: '\n' })));
  const table = await sc.client.collect(
    sql(`SELECT CAST(value AS BINARY) AS b, r.usr, r.task, r.du, r.sec FROM (SELECT value, ${call('CAST(value AS BINARY)')} AS r FROM mr_fn_${name})`),
  );
  expect(table?.numRows).toBe(lines.length);
  const tasks = config.rates.map((r) => r.task);
  let accepted = 0;
  let valid = 0;
  for (const row of table!) {
    const bytes = Buffer.from(row['b'] as Uint8Array);
    const text = bytes.toString('latin1');
    const verdict = bytes.length === 0 ? null : parse(bytes);
    const ok = verdict !== null && verdict.kind === 'valid';
    if (ok) valid++;
    if (row['usr'] === null) {
      // Declined: fine for any line, but a valid line of the common shape must be taken (29 February aside).
      if (ok && common.test(text)) expect(text, `declined a common valid line: ${JSON.stringify(text)}`).toMatch(/\d{4}-02-29T/);
      continue;
    }
    accepted++;
    const usr = row['usr'] as string;
    const task = row['task'] as string;
    const du = Number(row['du']);
    const sec = Number(row['sec']);
    if (tasks.includes(task) && du <= config.maxDurationMs) {
      // Accepted with a configured task and a duration under the limit: the core accepts it as it stands.
      expect(ok, `accepted a line the rules reject: ${JSON.stringify(text)} (${JSON.stringify(verdict)})`).toBe(true);
      if (verdict?.kind !== 'valid') continue;
      expect([usr, tasks[verdict.task], du, sec], JSON.stringify(text)).toEqual([verdict.user, task, verdict.durationMs, parseTimestamp(verdict.timestamp)!.seconds]);
    } else {
      // Otherwise the job sends it to the exact path; the core rejects it for its task or duration only.
      expect(verdict?.kind === 'rejected' ? verdict.reason : verdict?.kind, JSON.stringify(text)).toMatch(/^(unknown_task|bad_duration)$/);
    }
  }
  // The corpus is mostly edges, but thousands of its lines are valid, and taken.
  expect(valid).toBeGreaterThan(5000);
  expect(accepted).toBeGreaterThan(5000);
}

const TS_RE = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z`;
const DUR_RE = String.raw`(?:0|[1-9]\d{0,14})`;

/** JSON lines: the records in the common object (values as raw bytes: a quote or a sign makes other JSON, or none), then other objects around a valid one. */
function jsonLines(): Buffer[] {
  // A JSON duration is a number: the records' `123ms` is written 123 (their other forms as they are).
  const dur = (d: Buffer) => (/^\d+ms$/.test(d.toString('latin1')) ? d.subarray(0, d.length - 2) : d);
  const obj = (f: Fields) =>
    Buffer.concat([b('{"timestamp":"'), f[0], b('","user":"'), f[1], b('","task":"'), f[2], b('","status":'), f[3], b(',"duration_ms":'), dur(f[4]), b('}')]);
  const lines = records().map(obj);
  for (const s of [
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5}',
    '{"user":"u","timestamp":"2025-05-02T23:16:50Z","task":"login","status":200,"duration_ms":5}',
    '{"timestamp": "2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5}',
    ' {"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5} ',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5}\r',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"\\u0075","task":"login","status":200,"duration_ms":5}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"log\\u0069n","status":200,"duration_ms":5}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5,"user":"v"}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5,"request_id":"r1"}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":"200","duration_ms":5}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":"5"}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200.0,"duration_ms":5}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":2e2,"duration_ms":5}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5.0}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":-0}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5}}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5}{}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5',
    '{"Timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login ","status":200,"duration_ms":5}',
    '{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"lo\\"gin","status":200,"duration_ms":5}',
    '[{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5}]',
    '﻿{"timestamp":"2025-05-02T23:16:50Z","user":"u","task":"login","status":200,"duration_ms":5}',
  ]) {
    lines.push(b(s));
  }
  return lines;
}

describe('line functions (executor functions) against the core parser', () => {
  it('is on the test cluster, of this version', async () => {
    expect(await registerFunctions(sc.client)).toEqual({ usable: true });
  });

  it('space format: accepts exactly the valid lines of the common shape, with the core’s values', async () => {
    expect((await registerFunctions(sc.client)).usable).toBe(true);
    const parser = new RecordParser(config, {}, { deferWindow: true });
    await check('space', spaceLines(), (line) => delimitedLineCall(line, spaceLayout()), (bytes) => parser.parse(bytes, 'space'), new RegExp(`^${TS_RE} [A-Za-z0-9._-]+ [!-~]+ \\d{3} ${DUR_RE}ms$`));
  });

  it.each(HEADERS)('CSV %s: accepts exactly the valid lines of the common shape, with the core’s values', async (header) => {
    expect((await registerFunctions(sc.client)).usable).toBe(true);
    const parser = new RecordParser(config, {}, { deferWindow: true });
    const { layout, lines } = csvLines(header);
    const fn: DelimitedLayout = { format: 'csv', separator: ',', ...layout };
    // Common: no quotes or CR, the contract's columns in their common shapes (the suffix optional), tokens and notes of printable ASCII.
    const shape = (i: number): RegExp => {
      if (i === layout.timestamp) return new RegExp(`^${TS_RE}$`);
      if (i === layout.user) return /^[A-Za-z0-9._-]+$/;
      if (i === layout.task) return /^[!#-+\--~]+$/;
      if (i === layout.status) return /^\d{3}$/;
      if (i === layout.duration) return new RegExp(`^${DUR_RE}(?:ms)?$`);
      if (i === layout.requestId) return /^[!#-+\--~]*$/;
      return /^[ !#-+\--~]*$/;
    };
    const common = { test: (text: string) => !/["\r]/.test(text) && text.split(',').every((v, i) => shape(i).test(v)) } as RegExp;
    await check(`csv${layout.fieldCount}`, lines, (line) => delimitedLineCall(line, fn), (bytes) => parser.parse(bytes, 'csv', layout), common);
  });

  it('JSON lines: accepts exactly the valid lines of the common object, with the core’s values', async () => {
    expect((await registerFunctions(sc.client)).usable).toBe(true);
    const parser = new RecordParser(config, {}, { deferWindow: true });
    const common = new RegExp(`^\\{"timestamp":"${TS_RE}","user":"[A-Za-z0-9._-]+","task":"[ !#-\\[\\]-~]+","status":\\d{3},"duration_ms":${DUR_RE}\\}$`);
    await check('jsonl', jsonLines(), jsonLineCall, (bytes) => parser.parse(bytes, 'jsonl'), common);
  });
});
