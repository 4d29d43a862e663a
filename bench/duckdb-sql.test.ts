/**
 * DuckDB's simplest query (the bench's bar to clear) really sums each user's durations in
 * every format, on a clean file and around a line that does not fit.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { simplestSql, type SqlInput } from './duckdb-sql.js';

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
