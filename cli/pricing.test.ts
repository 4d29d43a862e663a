/**
 * --pricing through the CLI (SPEC "Pricing plans"): fixtures/pricing's hand-worked bill for
 * the naive and parallel engines, from the YAML and the JSON plan; every plan that breaks the
 * shape is exit 2 naming its field, before any input is read; the run-level rules.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINE_ARGS, cleanupTempDirs, fixturesDir, reportedErrors, runCli, tempDir } from '../fixtures/harness.js';

afterAll(cleanupTempDirs);

const dir = join(fixturesDir, 'pricing');
const expected = (name: string) => readFileSync(join(dir, 'expected', name), 'utf8');
const PERIOD = ['--from', '2025-05-01T00:00:00Z', '--to', '2025-06-01T00:00:00Z'];

describe.each(ENGINE_ARGS.map((a) => [a.join(' '), a] as const))('pricing fixture, %s', (_name, engineArgs) => {
  it.each(['plan.yaml', 'plan.json'])('bills input/may.log by %s as worked out by hand', async (plan) => {
    const out = tempDir();
    const r = await runCli(['aggregate', 'input', '--pricing', plan, ...PERIOD, '--max-rejects', '1', '--out', join(out, 'billing.txt'), ...engineArgs], { cwd: dir });
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    expect(readFileSync(join(out, 'billing.txt'), 'utf8')).toBe(expected('billing.txt'));
    expect(readFileSync(join(out, 'billing.detail.csv'), 'utf8')).toBe(expected('billing.detail.csv'));
    const summary = JSON.parse(readFileSync(join(out, 'billing.summary.json'), 'utf8'));
    expect(summary).toMatchObject({ records: 15, accepted: 13, out_of_window: 1, users: 7, total_cost: '60.77833333334035', total_billed: '60.78' });
    expect(summary.rejected).toMatchObject({ unknown_task: 1 });
    expect(summary.unknown_tasks).toEqual({ upload: 1 });
  });
});

describe('a charge whose usage and fees, each a safe integer, sum past one', () => {
  it.each(ENGINE_ARGS.map((a) => [a.join(' '), a] as const))('%s: billed exactly (9500.004999999999, billed 9500.00)', async (_name, engineArgs) => {
    const work = tempDir();
    writeFileSync(join(work, 'plan.yaml'), 'version: 1\ncurrency_decimals: 2\ntasks:\n  login:\n    per_ms: "0.001000000001"\n    per_request: "5000.003995499998"\n');
    writeFileSync(join(work, 'a.log'), '2025-05-02T10:00:00Z alice login 200 4500001ms\n');
    const r = await runCli(['aggregate', 'a.log', '--pricing', 'plan.yaml', ...PERIOD, '--out', 'o/billing.txt', ...engineArgs], { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(work, 'o', 'billing.txt'), 'utf8')).toBe('alice: total_duration=4500001ms, total_cost=9500.00\n');
    expect(JSON.parse(readFileSync(join(work, 'o', 'billing.summary.json'), 'utf8'))).toMatchObject({ total_cost: '9500.004999999999', total_billed: '9500.00' });
  });
});

const errorCases = readdirSync(join(dir, 'errors'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => [f, /^# path: (\S+)/.exec(readFileSync(join(dir, 'errors', f), 'utf8'))![1]!] as const)
  .concat(Object.entries(JSON.parse(readFileSync(join(dir, 'errors', 'expected.json'), 'utf8')) as Record<string, string>));

describe('plans that break the shape', () => {
  it('cover every rule the SPEC lists', () => {
    expect(errorCases.length).toBeGreaterThanOrEqual(16);
  });

  it.each(errorCases)('%s: exit 2 naming %s, before any input is read', async (file, path) => {
    const out = tempDir();
    // The input path does not exist: reading it would be exit 1, so exit 2 shows nothing was read.
    const r = await runCli(['aggregate', 'no-such-input', '--pricing', join('errors', file), ...PERIOD, '--engine', 'naive', '--out', join(out, 'billing.txt'), '--log-format', 'json'], { cwd: dir });
    expect(r.code).toBe(2);
    const msg = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string }).map((l) => l.msg).join('\n');
    expect(msg).toContain(`pricing plan: ${path} `);
    expect(existsSync(join(out, 'billing.txt'))).toBe(false);
  });
});

describe('a plan file that does not parse', () => {
  it.each([
    ['bad.yaml', 'version: 1\ntasks:\n  login: { per_ms: "0.005"\n', /^pricing plan .*bad\.yaml is not valid YAML: .*\(\d+:\d+\)$/],
    ['bad.json', '{"version": 1, "tasks": {', /^pricing plan .*bad\.json is not valid JSON: /],
  ])('%s: exit 2 naming the file and where it breaks', async (name, text, message) => {
    const out = tempDir();
    writeFileSync(join(out, name), text);
    const r = await runCli(['aggregate', 'no-such-input', '--pricing', join(out, name), ...PERIOD, '--engine', 'naive', '--out', join(out, 'billing.txt')], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(reportedErrors(r.stderr)).toHaveLength(1);
    expect(reportedErrors(r.stderr)[0]).toMatch(message);
  });
});

describe('a run with a plan', () => {
  const run = (args: string[], env?: Record<string, string>) => {
    const out = tempDir();
    return runCli(['aggregate', 'input', '--engine', 'naive', '--out', join(out, 'billing.txt'), '--max-rejects', '1', ...args], { cwd: dir, env });
  };

  it.each([
    ['no --from', ['--to', '2025-06-01T00:00:00Z']],
    ['no --to', ['--from', '2025-05-01T00:00:00Z']],
    ['neither', []],
  ])('needs --from and --to (%s): exit 2', async (_n, window) => {
    const r = await run(['--pricing', 'plan.yaml', ...window]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--from and --to');
  });

  it('refuses RATE_ variables from the environment and from an env file: one price list', async () => {
    const a = await run(['--pricing', 'plan.yaml', ...PERIOD], { RATE_login: '0.005' });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('RATE_login');
    const envFile = join(tempDir(), 'rates.env');
    writeFileSync(envFile, 'RATE_export=0.001\n');
    const b = await run(['--pricing', 'plan.yaml', ...PERIOD, '--env-file', envFile]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('RATE_export');
  });

  it('refuses a CURRENCY_DECIMALS that differs from the plan, accepts one that agrees', async () => {
    const bad = await run(['--pricing', 'plan.yaml', ...PERIOD], { CURRENCY_DECIMALS: '3' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('currency_decimals');
    const good = await run(['--pricing', 'plan.yaml', ...PERIOD], { CURRENCY_DECIMALS: '2' });
    expect(good.code).toBe(0);
  });

  it('takes CURRENCY_DECIMALS when the plan sets none, and rounds the exact total once to it', async () => {
    const plan = join(tempDir(), 'p.yaml');
    // 1 ms at 0.0015 per ms with a 12.5% discount: 0.0015 × 0.875 = 0.0013125 → 0.001 (3 places).
    writeFileSync(plan, 'version: 1\ntasks:\n  login: { per_ms: "0.0015" }\ncustomers:\n  u1: { discount: "12.5%" }\n');
    const cwd = tempDir();
    writeFileSync(join(cwd, 'a.log'), '2025-05-02T00:00:00Z u1 login 200 1ms\n2025-05-02T00:00:00Z u2 login 200 1ms\n');
    const r = await runCli(['aggregate', 'a.log', '--engine', 'naive', '--pricing', plan, ...PERIOD, '--out', 'b.txt'], { cwd, env: { CURRENCY_DECIMALS: '3' } });
    expect(r.code).toBe(0);
    // u2: 0.0015 → half-up to 0.002.
    expect(readFileSync(join(cwd, 'b.txt'), 'utf8')).toBe('u1: total_duration=1ms, total_cost=0.001\nu2: total_duration=1ms, total_cost=0.002\n');
  });

  it('an unknown task near a plan task is suggested as the plan task, not a RATE_ variable', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'a.log'), '2025-05-02T00:00:00Z u1 login 200 1ms\n2025-05-02T00:00:00Z u1 Login 200 1ms\n');
    const r = await runCli(['aggregate', 'a.log', '--engine', 'naive', '--pricing', join(dir, 'plan.yaml'), ...PERIOD, '--out', 'b.txt', '--max-rejects', '100%'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('did you mean `tasks.login`?');
    expect(r.stderr).not.toContain('RATE_');
  });

  it('a missing plan file is exit 2', async () => {
    const r = await run(['--pricing', 'nope.yaml', ...PERIOD]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nope.yaml');
  });
});
