/**
 * `npm run bench -- --pricing`: what a pricing plan costs (issue 16's target: a 5-task tiered
 * plan with 10,000 customer overrides costs at most 10% of the flat-rate run's throughput,
 * on 1M users). One dataset (space format, 256 MiB, 1,000,000 users, cached like the
 * others) billed by the naive and the parallel engine, each with the five flat `RATE_`
 * rates and with the same five tasks priced by a generated plan (YAML, and the same plan as
 * JSON), in the same run. Runs go round-robin (flat, YAML, JSON per engine, repeated), so
 * a change of load on a shared machine touches every variant alike; each variant's time is
 * its fastest run. Every run bills the same window (`--from`/`--to` around the whole
 * input), which a plan requires.
 *
 * Checked before a time counts: every flat run's billing.txt and detail CSV are the same
 * bytes, and so are every plan run's (naive and parallel, YAML and JSON); the sha256 of the
 * plan run's outputs is printed so that a change can be checked to leave them unchanged.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDataset } from './datasets.js';
import { BENCH_RATES, childEnv, commandFor, naive, parallel, type Engine } from './engines.js';
import { preRead } from './measure.js';
import { runChild } from './child.js';
import { REPO_ROOT, cacheDir } from './paths.js';
import { textTable } from './report.js';

export const PRICING_CUSTOMERS = 10_000;
const USERS = 1_000_000;
/** generate's default: 7 days from 2025-05-01. */
const WINDOW = ['--from', '2025-05-01T00:00:00Z', '--to', '2025-05-08T00:00:00Z'];
const CPU_HOOK = join(REPO_ROOT, 'dist', 'bench', 'cpu-hook.js');

type PlanTask = { tiers: Array<{ up_to_ms?: number; per_ms: string }>; per_request?: string; free_ms?: number } | { per_ms: string };

/**
 * The plan, deterministic: the five bench tasks, each with three graduated tiers (bounds
 * near a 1M-user file's per-user durations, so every tier is used), a per-request fee and
 * a free allowance; a plan minimum; and `customers` users (user1, user101, user201, … of
 * generate's user1..userN), each with a discount, a minimum and one task override (flat or
 * tiered, in turn).
 */
export function pricingPlan(customers = PRICING_CUSTOMERS): Record<string, unknown> {
  const names = Object.keys(BENCH_RATES).map((k) => k.slice('RATE_'.length));
  const tasks: Record<string, PlanTask> = {};
  names.forEach((name, i) => {
    const rate = BENCH_RATES[`RATE_${name}`]!;
    tasks[name] = {
      tiers: [
        { up_to_ms: 500 + 100 * i, per_ms: rate },
        { up_to_ms: 2000 + 250 * i, per_ms: (Number(rate) * 0.8).toFixed(4) },
        { per_ms: (Number(rate) * 0.5).toFixed(5) },
      ],
      per_request: `0.000${i + 1}`,
      free_ms: 50 * (i + 1),
    };
  });
  const people: Record<string, unknown> = {};
  for (let k = 0; k < customers; k++) {
    const task = names[k % names.length]!;
    const override: PlanTask =
      k % 2 === 0 ? { per_ms: `0.00${(k % 9) + 1}` } : { tiers: [{ up_to_ms: 1000, per_ms: '0.004' }, { per_ms: `0.00${(k % 3) + 1}` }], free_ms: 100 };
    people[`user${1 + 100 * k}`] = {
      discount: `${k % 50}.${k % 7}%`,
      minimum_charge: `${(k % 4) + 1}.50`,
      tasks: { [task]: override },
    };
  }
  return { version: 1, currency_decimals: 2, minimum_charge: '0.25', tasks, customers: people };
}

/** A YAML scalar: strings quoted (amounts must be strings), numbers plain. */
const scalar = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** The plan as block YAML, with flow mappings for tiers and overrides (as a person would write it). */
export function planYaml(plan: Record<string, unknown>): string {
  const flow = (o: object): string => `{ ${Object.entries(o).map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.map(flow).join(', ')}]` : typeof v === 'object' ? flow(v as object) : scalar(v)}`).join(', ')} }`;
  const lines: string[] = [];
  for (const [key, value] of Object.entries(plan)) {
    if (typeof value !== 'object') {
      lines.push(`${key}: ${scalar(value)}`);
      continue;
    }
    lines.push(`${key}:`);
    for (const [name, entry] of Object.entries(value as Record<string, Record<string, unknown>>)) {
      lines.push(`  ${name}:`);
      for (const [k, v] of Object.entries(entry)) lines.push(`    ${k}: ${typeof v === 'object' ? (Array.isArray(v) ? `[${v.map(flow).join(', ')}]` : flow(v as object)) : scalar(v)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

interface Variant {
  readonly id: 'flat' | 'plan-yaml' | 'plan-json';
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
}

interface Row {
  engine: string;
  variant: Variant['id'];
  seconds: number[];
  /** CPU seconds (user + system, worker threads included) of each run. */
  cpu: number[];
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

export interface PricingBenchOptions {
  readonly maxWorkers: number;
  readonly rounds: number;
  readonly out: string;
  readonly regenerate?: boolean;
  readonly log: (line: string) => void;
}

/** Runs the case; returns false when a run failed or outputs differ. */
export async function pricingBench(o: PricingBenchOptions): Promise<boolean> {
  const ds = await ensureDataset({ format: 'space', sizeMiB: 256, users: USERS }, { regenerate: o.regenerate, log: o.log });
  const dir = join(cacheDir(), 'pricing');
  mkdirSync(dir, { recursive: true });
  const plan = pricingPlan();
  const yamlPath = join(dir, `plan-${PRICING_CUSTOMERS}.yaml`);
  const jsonPath = join(dir, `plan-${PRICING_CUSTOMERS}.json`);
  writeFileSync(yamlPath, planYaml(plan));
  writeFileSync(jsonPath, `${JSON.stringify(plan, null, 1)}\n`);
  const planEnv = Object.fromEntries(Object.entries(childEnv()).filter(([k]) => !k.startsWith('RATE_')));
  const variants: Variant[] = [
    { id: 'flat', args: WINDOW, env: childEnv() },
    { id: 'plan-yaml', args: [...WINDOW, '--pricing', yamlPath], env: planEnv },
    { id: 'plan-json', args: [...WINDOW, '--pricing', jsonPath], env: planEnv },
  ];
  const engines: Engine[] = [naive(), parallel(o.maxWorkers)];
  o.log(`pricing case: ${ds.id} (${ds.records} lines), plan ${yamlPath} (${PRICING_CUSTOMERS} customers); ${o.rounds} rounds of ${engines.map((e) => e.id).join(', ')} × ${variants.map((v) => v.id).join(', ')}`);
  await preRead(ds.path);
  const work = mkdtempSync(join(tmpdir(), 'mr-bench-pricing-'));
  const rows: Row[] = engines.flatMap((e) => variants.map((v) => ({ engine: e.id, variant: v.id, seconds: [], cpu: [] })));
  /** Output hashes per variant kind (flat / plan): every run of a kind must agree. */
  const expected = new Map<string, string>();
  const problems: string[] = [];
  try {
    for (let round = 1; round <= o.rounds; round++) {
      for (const engine of engines) {
        for (const v of variants) {
          const bill = join(work, 'billing.txt');
          rmSync(bill, { force: true });
          const cpuFile = join(work, 'cpu');
          rmSync(cpuFile, { force: true });
          const argv = ['--import', CPU_HOOK, ...commandFor(engine, ds.path, bill), ...v.args];
          const r = await runChild(process.execPath, argv, { env: { ...v.env, MR_BENCH_CPU_FILE: cpuFile }, cwd: work });
          const label = `${engine.id} ${v.id}`;
          if (r.code !== 0 || !existsSync(bill)) {
            problems.push(`${label} exited with ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
            continue;
          }
          const hashes = `billing.txt ${sha(bill)}, billing.detail.csv ${sha(join(work, 'billing.detail.csv'))}`;
          const kind = v.id === 'flat' ? 'flat' : 'plan';
          const seen = expected.get(kind);
          if (seen === undefined) expected.set(kind, hashes);
          else if (seen !== hashes) {
            problems.push(`${label}: outputs differ from the first ${kind} run (${hashes} vs ${seen})`);
            continue;
          }
          const cpu = readFileSync(cpuFile, 'utf8').split(' ').reduce((a, b) => a + Number(b) / 1e6, 0);
          const row = rows.find((x) => x.engine === engine.id && x.variant === v.id)!;
          row.seconds.push(r.seconds);
          row.cpu.push(cpu);
          o.log(`  round ${round}: ${label} ${r.seconds.toFixed(2)} s, CPU ${cpu.toFixed(2)} s`);
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const mib = ds.bytes / 1048576;
  const best = (xs: number[]) => (xs.length > 0 ? Math.min(...xs) : NaN);
  const cost = (flat: number, t: number) => `${((1 - flat / t) * 100).toFixed(1)}%`;
  const table = rows.map((r) => {
    const flat = rows.find((x) => x.engine === r.engine && x.variant === 'flat')!;
    const [t, c] = [best(r.seconds), best(r.cpu)];
    const runs = r.seconds.map((s) => s.toFixed(1)).join(' ');
    return [r.engine, r.variant, runs, t.toFixed(2), (mib / t).toFixed(1), cost(best(flat.seconds), t), r.cpu.map((s) => s.toFixed(1)).join(' '), c.toFixed(2), cost(best(flat.cpu), c)];
  });
  const header = ['engine', 'variant', 'wall s', 'best s', 'MiB/s', 'throughput cost', 'CPU s', 'best CPU s', 'CPU cost'];
  process.stdout.write(`\n${textTable(header, table)}\n`);
  process.stdout.write('throughput cost = 1 - flat best / variant best, same engine (the target: at most 10%); CPU: user + system, worker threads included.\n');
  for (const [kind, hashes] of expected) process.stdout.write(`${kind} outputs: ${hashes}\n`);
  for (const p of problems) process.stdout.write(`problem: ${p}\n`);
  mkdirSync(o.out, { recursive: true });
  writeFileSync(
    join(o.out, 'pricing.json'),
    `${JSON.stringify({ dataset: { id: ds.id, bytes: ds.bytes, records: ds.records }, customers: PRICING_CUSTOMERS, rows, outputs: Object.fromEntries(expected), problems }, null, 2)}\n`,
  );
  return problems.length === 0;
}
