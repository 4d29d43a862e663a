/**
 * Duplicate deliveries through the CLI (SPEC "Duplicate deliveries"): the hand-checked
 * fixtures of fixtures/dedupe (README there) in every mode and every engine configuration,
 * byte-identical bills and equal counts; the flag, the setting and the warning.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINE_ARGS, cleanupTempDirs, fixturesDir, runCli, summaryCounts, tempDir } from '../fixtures/harness.js';

afterAll(cleanupTempDirs);

const WINDOW = ['--from', '2025-05-01T00:00:00Z', '--to', '2025-06-01T00:00:00Z'];

async function billAll(mode: string | null, env: Record<string, string> = {}) {
  const dir = tempDir();
  cpSync(join(fixturesDir, 'dedupe'), dir, { recursive: true });
  const runs = [];
  for (const [i, engine] of ENGINE_ARGS.entries()) {
    const args = ['aggregate', 'a.jsonl', 'b.csv', 'c.log', '--env-file', 'rates.env', '--max-rejects', '100%', '--out', `o${i}/billing.txt`, ...WINDOW, ...engine];
    const r = await runCli(mode === null ? args : [...args, '--dedupe', mode], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    const read = (f: string) => readFileSync(join(dir, `o${i}`, f), 'utf8');
    runs.push({ bill: read('billing.txt'), summary: JSON.parse(read('billing.summary.json')) as Record<string, unknown>, stderr: r.stderr });
  }
  for (const r of runs) {
    expect(r.bill).toBe(runs[0]!.bill);
    expect(summaryCounts(r.summary)).toEqual(summaryCounts(runs[0]!.summary));
  }
  return runs[0]!;
}

describe.concurrent('fixtures/dedupe, every engine configuration', () => {
  it('auto (the default): the first by path order and offset; conflicts counted and warned about', async () => {
    const r = await billAll(null);
    expect(r.bill).toBe('u1: total_duration=100ms, total_cost=1.00\nu2: total_duration=200ms, total_cost=2.00\nu3: total_duration=10ms, total_cost=0.10\nu4: total_duration=100ms, total_cost=1.00\nu6: total_duration=14ms, total_cost=0.14\n');
    expect(r.summary).toMatchObject({ records: 16, accepted: 8, out_of_window: 1, duplicates: 5, conflicting_duplicates: 3, rejected: { bad_request_id: 1, bad_duration: 1 }, dedupe: 'auto' });
    const warnings = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .filter((l) => l.level === 'warn')
      .map((l) => l.msg);
    expect(warnings).toContain(
      '3 duplicate deliveries differ from the first record with their request id (the shipper or the source is broken; the first is billed): ' +
        '"r2" at a.jsonl @339 differs in duration from its first delivery at a.jsonl @113; "r4" at b.csv @93 differs in timestamp from its first delivery at a.jsonl @877; ' +
        '"r5" at b.csv @214 differs in user from its first delivery at b.csv @134',
    );
  }, 120_000);

  it('line: byte-identical valid lines within a format (a CSV line under its header)', async () => {
    const r = await billAll('line');
    expect(r.bill).toBe(
      'u1: total_duration=200ms, total_cost=2.00\nu2: total_duration=1199ms, total_cost=11.99\nu3: total_duration=10ms, total_cost=0.10\nu4: total_duration=100ms, total_cost=1.00\nu5: total_duration=50ms, total_cost=0.50\nu6: total_duration=7ms, total_cost=0.07\nu7: total_duration=30ms, total_cost=0.30\n',
    );
    expect(r.summary).toMatchObject({ records: 16, accepted: 11, out_of_window: 1, duplicates: 2, conflicting_duplicates: 0 });
  }, 120_000);

  it('line, on plain CSV and JSON lines (the shapes the parallel byte scanners take): repeats are duplicates in every engine', async () => {
    const dir = tempDir();
    const json = '{"timestamp":"2025-05-02T10:00:00Z","user":"u1","task":"login","status":200,"duration_ms":100}\n';
    const csvRow = '2025-05-02T10:00:01Z,u2,login,200,50\n';
    writeFileSync(join(dir, 'p.jsonl'), json + json + json.replace('u1', 'u3'));
    writeFileSync(join(dir, 'q.csv'), 'timestamp,user,task,status,duration_ms\n' + csvRow + csvRow);
    writeFileSync(join(dir, 'rates.env'), 'RATE_login=0.01\n');
    const bills = [];
    for (const [i, engine] of ENGINE_ARGS.entries()) {
      const r = await runCli(['aggregate', 'p.jsonl', 'q.csv', '--env-file', 'rates.env', '--dedupe', 'line', '--out', `o${i}/billing.txt`, ...engine], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(readFileSync(join(dir, `o${i}`, 'billing.summary.json'), 'utf8')) as Record<string, unknown>;
      expect(summary, engine.join(' ')).toMatchObject({ records: 5, accepted: 3, duplicates: 2 });
      bills.push(readFileSync(join(dir, `o${i}`, 'billing.txt'), 'utf8'));
    }
    expect(bills[0]).toBe('u1: total_duration=100ms, total_cost=1.00\nu2: total_duration=50ms, total_cost=0.50\nu3: total_duration=100ms, total_cost=1.00\n');
    for (const b of bills) expect(b).toBe(bills[0]);
  }, 120_000);

  it('off (here from DEDUPE in the environment): every valid record billed, request ids still checked', async () => {
    const r = await billAll(null, { DEDUPE: 'off' });
    expect(r.summary).toMatchObject({ records: 16, accepted: 13, out_of_window: 1, duplicates: 0, rejected: { bad_request_id: 1, bad_duration: 1 }, dedupe: 'off' });
    expect(r.bill).toContain('u1: total_duration=300ms, total_cost=3.00\n');
  }, 120_000);

  it('a bad --dedupe or DEDUPE is a usage or configuration error (exit 2)', async () => {
    const dir = tempDir();
    cpSync(join(fixturesDir, 'dedupe'), dir, { recursive: true });
    expect((await runCli(['aggregate', 'c.log', '--env-file', 'rates.env', '--dedupe', 'ids'], { cwd: dir })).code).toBe(2);
    expect((await runCli(['aggregate', 'c.log', '--env-file', 'rates.env'], { cwd: dir, env: { DEDUPE: 'yes' } })).code).toBe(2);
  }, 60_000);
});
