/**
 * SpaceLine, mr's executor function for the space format's fast path, run on the real local
 * cluster against the core's own parser (RecordParser) on every shape a line can take near
 * the common one: each byte in each field, the calendar and clock edges, statuses and
 * durations in every form a cast or a parser might read, separators, line ends, bad UTF-8.
 *
 * What must hold: every line the function accepts (a non-NULL row) is a valid line for the
 * core, with the same user, task, duration and instant (else the fast path would bill a line
 * the rules reject, or bill it wrongly); and every valid line of the common shape but 29
 * February is accepted (else the fast path would be a slow path in disguise).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SparkConnectClient, createTempView, readFiles, sql } from '@mr/spark-connect';
import { acquireTestCluster, type TestCluster } from '../../fixtures/spark/test-cluster.js';
import { billingConfigFromEnv } from '../../engine/core/config/config.js';
import { RecordParser } from '../../engine/core/formats/records.js';
import { parseTimestamp } from '../../engine/core/validation/timestamp.js';
import { RULES } from '../../engine/core/validation/rules.js';
import { FUNCTIONS, registerFunctions, spaceLineCall } from './functions.js';

const TASKS = ['login', 'getUserProfile', 'x'];
const config = billingConfigFromEnv(Object.fromEntries(TASKS.map((t) => [`RATE_${t}`, '0.001'])));

let cluster: TestCluster;
let client: SparkConnectClient;
let work: string;

beforeAll(async () => {
  cluster = await acquireTestCluster();
  client = new SparkConnectClient({ remote: cluster.remote });
  await client.connect();
  work = mkdtempSync(join(tmpdir(), 'mr-functions-'));
}, 600_000);

afterAll(async () => {
  await client?.close();
  await cluster?.release();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
}, 120_000);

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const TS = '2025-05-02T23:16:50Z';

/** Lines near the common shape, as bytes (no LF inside). */
function corpus(): Buffer[] {
  const lines: Buffer[] = [];
  const add = (s: string | Buffer) => lines.push(typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
  const line = (p: { ts?: string; user?: string; task?: string; status?: string; dur?: string }) =>
    `${p.ts ?? TS} ${p.user ?? 'user_1.A-z'} ${p.task ?? 'login'} ${p.status ?? '200'} ${p.dur ?? '123ms'}`;
  // The calendar and the clock.
  for (const y of [0, 1900, 1999, 2000, 2024, 2025, 9999]) {
    for (let mo = 0; mo <= 13; mo++) {
      for (let d = 0; d <= 32; d++) {
        for (const clock of ['00:00:00', '23:59:59', '24:00:00', '12:60:00', '12:00:60', '09:07:05', '99:99:99']) {
          add(line({ ts: `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${clock}Z` }));
        }
      }
    }
  }
  for (const ts of ['2025-05-02t23:16:50Z', '2025-05-02T23:16:50z', '2025-05-02T23:16:50.1Z', '2025-05-02T23:16:50+00:00', '2025-05-02T23:16:50', '2025-5-02T23:16:50Z', '202５-05-02T23:16:50Z', '+2025-05-02T23:16:50Z', '2025-05-02 23:16:50Z', '2025/05/02T23:16:50Z', '2025-05-02T23-16-50Z']) {
    add(line({ ts }));
  }
  // Every ASCII byte in the user, and some that are not ASCII; lengths at the limits.
  for (let b = 0; b < 128; b++) {
    if (b === 10) continue;
    add(Buffer.concat([Buffer.from(`${TS} a`), Buffer.from([b]), Buffer.from('b login 200 5ms')]));
    add(Buffer.concat([Buffer.from(`${TS} `), Buffer.from([b]), Buffer.from(' login 200 5ms')]));
  }
  for (const user of ['é', '\u00a0u', '\ufeffbob', 'u\u200b', '用户', 'u'.repeat(RULES.user.maxBytes), 'u'.repeat(RULES.user.maxBytes + 1), 'u'.repeat(RULES.user.minBytes)]) add(line({ user }));
  add(Buffer.concat([Buffer.from(`${TS} u`), Buffer.from([0xff]), Buffer.from(' login 200 5ms')]));
  add(Buffer.concat([Buffer.from(`${TS} u`), Buffer.from([0xc3]), Buffer.from(' login 200 5ms')]));
  // Tasks.
  for (const task of ['login', 'getUserProfile', 'x', 'Login', 'logout', 'login\u00a0', 'é', '']) add(line({ task }));
  add(Buffer.concat([Buffer.from(`${TS} u log`), Buffer.from([0xff]), Buffer.from('in 200 5ms')]));
  for (let b = 0; b < 128; b++) if (b !== 10) add(Buffer.concat([Buffer.from(`${TS} u x`), Buffer.from([b]), Buffer.from(' 200 5ms')]));
  // Statuses.
  for (let v = 0; v <= 1000; v++) {
    add(line({ status: String(v) }));
    if (v < 100) add(line({ status: pad(v, 3) }));
  }
  for (const status of ['+50', '+200', '-200', '5.0', '200.0', '2e2', '٥٠٠', '２00', '0200', ' 200', '20 0', '']) add(line({ status }));
  // Durations.
  for (const dur of ['0ms', '00ms', '01ms', '1ms', '10ms', '123ms', `${'9'.repeat(15)}ms`, `1${'0'.repeat(14)}ms`, `1${'0'.repeat(15)}ms`, '1e3ms', '+5ms', '-5ms', '5.0ms', '.ms', '.5ms', 'ms', '5', '5MS', '5Ms', '5 ms', '٥ms', '５ms', '5ms\r', '5ms ', '5msms', '5s', '0x5ms']) {
    add(line({ dur }));
  }
  for (const d of [0, 1, 1_000, 3_600_000, 86_400_000, 86_400_001, 1e12]) add(line({ dur: `${d}ms` }));
  // Separators and line ends.
  for (const s of [
    `${TS}  u login 200 5ms`,
    `${TS}\tu login 200 5ms`,
    ` ${TS} u login 200 5ms`,
    `${TS} u login 200 5ms `,
    `${TS} u login 200 5ms\r`,
    `${TS} u login\t200 5ms`,
    `${TS} u login 200 5ms extra`,
    `${TS} u login 200`,
    `${TS} u  200 5ms`,
    `${TS} u login 200 5ms\u0000`,
    `\ufeff${TS} u login 200 5ms`,
    TS,
    '',
  ]) {
    add(s);
  }
  return lines;
}

describe('SpaceLine (executor function) against the core parser', () => {
  it('is on the test cluster, of this version', async () => {
    expect(await registerFunctions(client)).toEqual({ usable: true });
  });

  it('accepts exactly the valid lines of the common shape, with the core’s values', async () => {
    expect((await registerFunctions(client)).usable).toBe(true);
    const lines = corpus();
    const file = join(work, 'corpus.log');
    writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
    await client.command(createTempView('mr_fn_corpus', readFiles('text', [file], { lineSep: '\n' })));
    const table = await client.collect(
      sql(`SELECT CAST(value AS BINARY) AS b, r.usr, r.task, r.du, r.sec
           FROM (SELECT value, ${spaceLineCall('CAST(value AS BINARY)')} AS r FROM mr_fn_corpus)`),
    );
    expect(table?.numRows).toBe(lines.length);
    const parser = new RecordParser(config, {}, { deferWindow: true });
    const tasks = config.rates.map((r) => r.task);
    let accepted = 0;
    let valid = 0;
    for (const row of table!) {
      const bytes = Buffer.from(row['b'] as Uint8Array);
      const text = bytes.toString('latin1');
      const verdict = bytes.length === 0 ? null : parser.parse(bytes, 'space');
      const ok = verdict !== null && verdict.kind === 'valid';
      if (ok) valid++;
      if (row['usr'] === null) {
        // Declined: fine for any line, but a valid line of the common shape must be taken (29 February aside).
        if (ok && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z [A-Za-z0-9._-]+ [!-~]+ \d{3} (0|[1-9]\d{0,14})ms$/.test(text)) {
          expect(text.slice(5, 10), `declined a common valid line: ${JSON.stringify(text)}`).toBe('02-29');
        }
        continue;
      }
      accepted++;
      const usr = row['usr'] as string;
      const task = row['task'] as string;
      const du = Number(row['du']);
      const sec = Number(row['sec']);
      // Accepted with a configured task and a duration under the limit: the core must accept it as it stands.
      if (tasks.includes(task) && du <= config.maxDurationMs) {
        expect(ok, `accepted a line the rules reject: ${JSON.stringify(text)} (${JSON.stringify(verdict)})`).toBe(true);
        if (verdict?.kind !== 'valid') continue;
        expect([usr, tasks[verdict.task], du, sec], JSON.stringify(text)).toEqual([verdict.user, task, verdict.durationMs, parseTimestamp(verdict.timestamp)!.seconds]);
      } else {
        // Otherwise the job sends it to the exact path; the core rejects it for its task or duration only.
        expect(verdict?.kind === 'rejected' ? verdict.reason : verdict?.kind, JSON.stringify(text)).toMatch(/^(unknown_task|bad_duration)$/);
      }
    }
    // The corpus is mostly edges, but thousands of its lines are valid and taken.
    expect(valid).toBeGreaterThan(5000);
    expect(accepted).toBeGreaterThan(5000);
    expect(FUNCTIONS.spaceLine.name).toBe('mr_space_line');
  });
});
