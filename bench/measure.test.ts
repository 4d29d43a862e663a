/**
 * What the harness times (measure.ts): each run's time is the engine's child process alone,
 * from its spawn to its exit, not the harness's reading and hashing of the outputs afterwards
 * (at a million users 2.7 s of the 7.1 s once timed for DuckDB's simplest query). Runs the built CLI
 * (`npm test` builds first) over a small file; asserts no speed, only which time is reported.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from './datasets.js';
import { naive, parallel, spawnEngine } from './engines.js';
import { measureDataset, roundOrder } from './measure.js';

const dir = mkdtempSync(join(tmpdir(), 'mr-measure-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `lines` records and one line that is not a record (within the default reject limit). */
function dataset(lines: number): Dataset {
  const path = join(dir, `space-${lines}.log`);
  const body: string[] = [];
  for (let i = 0; i < lines; i++) body.push(`2025-05-0${1 + (i % 9)}T10:00:${String(i % 60).padStart(2, '0')}Z user${i % 37} login 200 ${i % 900}ms`);
  body.push('not a record');
  const text = body.join('\n') + '\n';
  writeFileSync(path, text);
  return {
    id: `space-${lines}lines`, path, format: 'space', sizeMiB: 0, users: 37, lines, records: lines + 1, bytes: Buffer.byteLength(text),
    badLines: 1, generateSeconds: null, redelivered: 0, changed: 0,
  };
}

describe('the bench harness’s timing', () => {
  it('takes the engines in turn, a run each per round, from the next engine in each round, while they have runs left', () => {
    const runs = (e: string) => (e === 'naive' ? 1 : 3);
    const order = (warmups: number) => Array.from({ length: warmups + 3 }, (_, r) => roundOrder(['naive', '1w', '2w', 'duck'], runs, warmups, r).join(' '));
    expect(order(0)).toEqual(['naive 1w 2w duck', '2w duck 1w', 'duck 1w 2w']);
    expect(order(1)).toEqual(['naive 1w 2w duck', '1w 2w duck naive', 'duck 1w 2w', '1w 2w duck']);
    // Every engine runs as often as it is given.
    for (const w of [0, 1, 2]) {
      const all = order(w).flatMap((round) => round.split(' '));
      for (const e of ['naive', '1w', '2w', 'duck']) expect(all.filter((x) => x === e)).toHaveLength(w + runs(e));
    }
  });

  it('reports the child processes’ wall times, every timed run’s, and not the warm-up’s', async () => {
    const ds = dataset(2000);
    const entries = await measureDataset(ds, [naive(), parallel(1)], { iterations: 2, warmupIterations: 1 }, new Map());
    expect(entries.map((e) => [e.engine, e.status, e.note])).toEqual([['naive', 'ok', null], ['parallel-1w', 'ok', null]]);
    for (const e of entries) {
      // The warm-up run is not one of them.
      expect(e.runsS).toHaveLength(2);
      expect(e.samples).toBe(2);
      for (const s of e.runsS) expect(s).toBeGreaterThan(0);
      expect(e.minS).toBeCloseTo(Math.min(...e.runsS), 9);
      expect(e.maxS).toBeCloseTo(Math.max(...e.runsS), 9);
      expect(e.meanS).toBeCloseTo((e.runsS[0]! + e.runsS[1]!) / 2, 9);
    }
  });

  it('fails an engine whose bill differs from the reference’s, and reports no time for it', async () => {
    const ds = dataset(500);
    const reference = { current: { engine: 'naive', outcome: { billSha256: 'a'.repeat(64), users: 37, accepted: 500, rejected: { bad_field_count: 1 } } } };
    const [e] = await measureDataset(ds, [parallel(1)], { iterations: 1, warmupIterations: 0, reference }, new Map());
    expect(e!.status).toBe('mismatch');
    expect(e!.note).toMatch(/billing\.txt differs/);
    expect(e!.runsS).toEqual([]);
    expect(e!.minS).toBeNull();
  });

  it('starts every run without the engine’s outputs of an earlier run, and leaves other files alone', async () => {
    const ds = dataset(100);
    const work = join(dir, 'work');
    mkdirSync(work);
    for (const name of ['naive.billing.rejects.csv.old', 'parallel-1w.billing.txt', 'input.log']) writeFileSync(join(work, name), 'x\n');
    const { outBill } = await spawnEngine(naive(), ds, work);
    expect(existsSync(outBill)).toBe(true);
    expect(readdirSync(work).sort()).toEqual(['input.log', 'naive.billing.detail.csv', 'naive.billing.rejects.csv', 'naive.billing.summary.json', 'naive.billing.txt', 'parallel-1w.billing.txt']);
  });
});
