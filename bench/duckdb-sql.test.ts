/**
 * DuckDB's simplest query (the bench's bar to clear) really sums each user's durations in
 * every format, on a clean file and around a line that does not fit.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { billingSql, fixedPlaces, simplestSql, type SqlInput } from './duckdb-sql.js';
import { csvLayout } from '../engine/core/formats/csv.js';

const records: Array<[string, string, string, number, number]> = [
  ['2025-05-02T10:00:00Z', 'alice', 'login', 200, 1568],
  ['2025-05-02T10:00:01Z', 'bob', 'search', 404, 7],
  ['2025-05-02T10:00:02Z', 'alice', 'search', 200, 32],
];
const bodies: Record<SqlInput['format'], string> = {
  space: `${records.map(([t, u, k, s, d]) => `${t} ${u} ${k} ${s} ${d}ms`).join('\n')}\n2025-05-02T10:00:03Z carol\n`,
  csv: `timestamp,user,task,status,duration_ms\n${records.map((r) => r.join(',')).join('\n')}\n2025-05-02T10:00:03Z,carol,login,200,abc\n`,
  jsonl: `${records.map(([timestamp, user, task, status, duration_ms]) => JSON.stringify({ timestamp, user, task, status, duration_ms })).join('\n')}\nnot json\n`,
};

describe('simplestSql', () => {
  it.each(['space', 'csv', 'jsonl'] as const)('sums the durations per user (%s)', async (format) => {
    const dir = mkdtempSync(join(tmpdir(), 'mr-duckdb-'));
    try {
      const file = join(dir, `in.${format === 'space' ? 'log' : format}`);
      writeFileSync(file, bodies[format]);
      const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
      const connection = await instance.connect();
      const rows = (await connection.runAndReadAll(`${simplestSql({ file, format })} ORDER BY usr`)).getRowsJS();
      connection.closeSync();
      instance.closeSync();
      const got = Object.fromEntries(rows.filter(([, d]) => d !== null).map(([u, d]) => [u, Number(d)]));
      expect(got).toEqual({ alice: 1600, bob: 7 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CSV columns by the header', () => {
  it('another column order, an alias and other columns: both queries read each field from its own column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mr-duckdb-'));
    try {
      const file = join(dir, 'in.csv');
      const header = 'request_id,User_ID,duration,status,region,task,timestamp';
      writeFileSync(file, `${header}\n${records.map(([t, u, k, st, d], i) => `r${i},${u},${d},${st},eu-west-1,${k},${t}`).join('\n')}\nr9,carol,abc,200,eu,login,2025-05-02T10:00:03Z\n`);
      const a: SqlInput = { file, format: 'csv', csv: csvLayout(header, file) };
      const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
      const connection = await instance.connect();
      const simplest = (await connection.runAndReadAll(`${simplestSql(a)} ORDER BY usr`)).getRowsJS();
      const bill = (await connection.runAndReadAll(billingSql(a, [['login', '0.005'], ['search', '1']], 2, 86_400_000))).getRowsJS();
      connection.closeSync();
      instance.closeSync();
      expect(Object.fromEntries(simplest.filter(([, d]) => d !== null).map(([u, d]) => [u, Number(d)]))).toEqual({ alice: 1600, bob: 7 });
      expect(bill.map(([u, d, c, n]) => [u, d, fixedPlaces(String(c), 2), n])).toEqual([['alice', '1600', '39.84', 2n], ['bob', '7', '7.00', 1n]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('billingSql with dedupe (JSON lines)', () => {
  const line = (o: Record<string, unknown>) => JSON.stringify({ timestamp: '2025-05-02T10:00:00Z', status: 200, ...o });
  // alice: r1 1000 (its re-delivery changed to 5000 is a duplicate), r2 10; bob: r3 7, a record
  // without an id twice (both billed), a bad id (rejected), and r3 again from carol (a duplicate).
  const body = [
    line({ request_id: 'r1', user: 'alice', task: 'login', duration_ms: 1000 }),
    line({ request_id: 'r2', user: 'alice', task: 'login', duration_ms: 10 }),
    line({ request_id: 'r1', user: 'alice', task: 'login', duration_ms: 5000 }),
    line({ request_id: 'r3', user: 'bob', task: 'login', duration_ms: 7 }),
    line({ user: 'bob', task: 'login', duration_ms: 100 }),
    line({ user: 'bob', task: 'login', duration_ms: 100 }),
    line({ request_id: 'has space', user: 'bob', task: 'login', duration_ms: 999 }),
    line({ request_id: 'r4', user: 'bob', task: 'login', duration_ms: '12s' }),
    line({ request_id: 'r4', user: 'bob', task: 'login', duration_ms: 3 }),
    line({ request_id: 'r3', user: 'carol', task: 'login', duration_ms: 50 }),
    'not json',
  ].join('\n');

  it.each([
    [true, [['alice', '1010', '5.05', 2n], ['bob', '210', '1.05', 4n]]],
    [false, [['alice', '6010', '30.05', 3n], ['bob', '210', '1.05', 4n], ['carol', '50', '0.25', 1n]]],
  ])('dedupe %s: the first valid record of each id, in line order, is billed', async (dedupe, want) => {
    const dir = mkdtempSync(join(tmpdir(), 'mr-duckdb-'));
    try {
      const file = join(dir, 'in.jsonl');
      writeFileSync(file, `${body}\n`);
      const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
      const connection = await instance.connect();
      const rows = (await connection.runAndReadAll(billingSql({ file, format: 'jsonl' }, [['login', '0.005']], 2, 86_400_000, { dedupe }))).getRowsJS();
      connection.closeSync();
      instance.closeSync();
      expect(rows.map(([u, d, c, n]) => [u, d, fixedPlaces(String(c), 2), n])).toEqual(want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses dedupe on a format without request ids', () => {
    expect(() => billingSql({ file: 'x.csv', format: 'csv' }, [['login', '0.005']], 2, 1, { dedupe: true })).toThrow(/JSON lines only/);
  });
});
