/**
 * mr against an independent model of the contract: fixtures/reference-model/model.py, written
 * in Python from SPEC and the README's decisions only, sharing no code with mr. Seeded nasty
 * inputs in the three formats (fixtures/reference-model/inputs.py: every field rule at its
 * edges, request ids, re-delivered batches) are billed by every engine configuration and by
 * the model, with flat rates, a time window, each dedupe mode and a random pricing plan; the
 * bill must be byte-identical and every count the same. (The spark engine is held to the naive
 * engine on the same kinds of input in spark/job/spark-engine.test.ts.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, ENGINE_ARGS, fixturesDir, runCli, tempDir } from '../../fixtures/harness.js';

const MODEL = join(fixturesDir, 'reference-model');
const RATES: Record<string, string> = {
  login: '0.0013',
  getUserProfile: '0.00071',
  createOrder: '0.0105',
  updateInventory: '0.000001',
  deleteOrder: '0.333333333333',
};
const WINDOW = ['--from', '2025-05-03T00:00:00Z', '--to', '2025-05-05T12:00:00.5+01:00'];
const PERIOD = ['--from', '2025-05-02T00:00:00Z', '--to', '2025-05-06T00:00:00Z'];
const INPUTS = ['a.log', 'b.csv', 'c.jsonl'];

interface Mode {
  readonly name: string;
  readonly mr: readonly string[];
  readonly model: readonly string[];
  readonly priced?: true;
}
const MODES: readonly Mode[] = [
  { name: 'flat rates, dedupe by request id', mr: [], model: [] },
  { name: 'a time window', mr: WINDOW, model: WINDOW },
  { name: '--dedupe line', mr: ['--dedupe', 'line'], model: ['--dedupe', 'line'] },
  { name: '--dedupe off', mr: ['--dedupe', 'off'], model: ['--dedupe', 'off'] },
  { name: 'a pricing plan for a period', mr: PERIOD, model: PERIOD, priced: true },
];

type Counts = Record<string, unknown>;
function countsOf(summary: Counts): Counts {
  const rejected = Object.fromEntries(Object.entries(summary['rejected'] as Record<string, number>).filter(([, n]) => n > 0));
  const keys = ['records', 'accepted', 'out_of_window', 'duplicates', 'conflicting_duplicates', 'users'];
  return { ...Object.fromEntries(keys.map((k) => [k, summary[k]])), rejected };
}

describe.each([1, 2])('engines = the independent model, seed %i', (seed) => {
  let dir: string;
  let plan: string;
  beforeAll(() => {
    const root = tempDir('mr-model-');
    dir = join(root, 'logs');
    plan = join(root, 'plan.json');
    execFileSync('python3', [join(MODEL, 'inputs.py'), String(seed), dir, plan]);
  });
  afterAll(cleanupTempDirs);

  it.each(MODES)('$name', async (mode) => {
    const prices = mode.priced ? ['--pricing', plan] : ['--rates', Object.entries(RATES).map(([t, r]) => `${t}=${r}`).join(',')];
    const run = spawnSync('python3', [join(MODEL, 'model.py'), ...prices, ...mode.model, ...INPUTS.map((f) => join(dir, f))], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(run.status, run.stderr).toBe(0);
    const model = run.stdout;
    const modelCounts = JSON.parse(run.stderr) as Counts;
    // The inputs hold every kind of reject and (with a window) few accepted lines: the model decides, not the limit.
    expect(modelCounts['accepted']).toBeGreaterThan(100);
    const env = mode.priced ? {} : Object.fromEntries(Object.entries(RATES).map(([t, r]) => [`RATE_${t}`, r]));
    for (const engine of ENGINE_ARGS) {
      const out = tempDir('mr-model-out-');
      const r = await runCli(
        ['aggregate', dir, ...engine, '--max-rejects', '100%', ...mode.mr, ...(mode.priced ? ['--pricing', plan] : []), '--out', join(out, 'billing.txt'), '--json'],
        { cwd: out, env },
      );
      expect(r.code, `${engine.join(' ')}: ${r.stderr}`).toBe(0);
      expect(readFileSync(join(out, 'billing.txt'), 'utf8'), engine.join(' ')).toBe(model);
      expect(countsOf(JSON.parse(r.stdout) as Counts), engine.join(' ')).toEqual(countsOf(modelCounts));
    }
  }, 180_000);
});
