/**
 * docker/billing-period.sh, the billing CronJob's command: the previous complete UTC period
 * (SPEC "Time window": --from inclusive, --to exclusive) and its output folder, computed with
 * the image's GNU `date`; then the real `mr` (dist/cli/main.js) run through it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, cliPath, repoRoot, tempDir } from '../fixtures/harness.js';

afterAll(cleanupTempDirs);

const SCRIPT = join(repoRoot, 'docker', 'billing-period.sh');
const LOGS = resolve(repoRoot, '../shared/reference/api_logs.txt');
const ENV = resolve(repoRoot, '../shared/reference/original.env');

/** A PATH whose `mr` is the built CLI, as /usr/local/bin/mr is in the image. */
function pathWithMr(): string {
  const bin = tempDir('mr-period-bin-');
  writeFileSync(join(bin, 'mr'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
  chmodSync(join(bin, 'mr'), 0o755);
  return `${bin}:${process.env['PATH']}`;
}

function run(args: string[], env: Record<string, string>, path = process.env['PATH']!) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BILLING_')));
  return spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env: { ...clean, PATH: path, ...env } });
}

function period(at: string, p: 'day' | 'month'): string {
  const r = run(['--print'], { BILLING_AT: at, BILLING_PERIOD: p });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('the previous complete period', () => {
  const cases: [at: string, p: 'day' | 'month', want: string][] = [
    // a day: the day before the run's UTC date
    ['2025-05-03T02:00:00Z', 'day', '2025-05-02T00:00:00Z 2025-05-03T00:00:00Z 2025-05-02'],
    ['2025-05-03T00:00:00Z', 'day', '2025-05-02T00:00:00Z 2025-05-03T00:00:00Z 2025-05-02'], // at the boundary: that day is complete
    ['2025-05-02T23:59:59Z', 'day', '2025-05-01T00:00:00Z 2025-05-02T00:00:00Z 2025-05-01'],
    // the first of a month: the last day of the previous month
    ['2025-05-01T02:00:00Z', 'day', '2025-04-30T00:00:00Z 2025-05-01T00:00:00Z 2025-04-30'],
    ['2025-02-01T02:00:00Z', 'day', '2025-01-31T00:00:00Z 2025-02-01T00:00:00Z 2025-01-31'],
    ['2025-01-01T02:00:00Z', 'day', '2024-12-31T00:00:00Z 2025-01-01T00:00:00Z 2024-12-31'], // over the year
    // leap years: 29 February in 2024 and 2000, not in 2025 or 2100
    ['2024-03-01T02:00:00Z', 'day', '2024-02-29T00:00:00Z 2024-03-01T00:00:00Z 2024-02-29'],
    ['2024-02-29T02:00:00Z', 'day', '2024-02-28T00:00:00Z 2024-02-29T00:00:00Z 2024-02-28'],
    ['2025-03-01T02:00:00Z', 'day', '2025-02-28T00:00:00Z 2025-03-01T00:00:00Z 2025-02-28'],
    ['2000-03-01T02:00:00Z', 'day', '2000-02-29T00:00:00Z 2000-03-01T00:00:00Z 2000-02-29'],
    ['2100-03-01T02:00:00Z', 'day', '2100-02-28T00:00:00Z 2100-03-01T00:00:00Z 2100-02-28'],
    // an offset is converted to UTC first: 00:30+02:00 is still the previous UTC day
    ['2025-05-03T00:30:00+02:00', 'day', '2025-05-01T00:00:00Z 2025-05-02T00:00:00Z 2025-05-01'],
    ['2025-05-02T23:30:00-02:00', 'day', '2025-05-02T00:00:00Z 2025-05-03T00:00:00Z 2025-05-02'],
    // a month: the calendar month before the run's UTC month, whatever its length
    ['2025-05-01T02:00:00Z', 'month', '2025-04-01T00:00:00Z 2025-05-01T00:00:00Z 2025-04'],
    ['2025-05-31T23:59:59Z', 'month', '2025-04-01T00:00:00Z 2025-05-01T00:00:00Z 2025-04'],
    ['2025-03-31T12:00:00Z', 'month', '2025-02-01T00:00:00Z 2025-03-01T00:00:00Z 2025-02'],
    ['2024-03-01T00:00:00Z', 'month', '2024-02-01T00:00:00Z 2024-03-01T00:00:00Z 2024-02'],
    ['2025-01-01T00:00:00Z', 'month', '2024-12-01T00:00:00Z 2025-01-01T00:00:00Z 2024-12'],
    ['2025-08-01T00:00:00Z', 'month', '2025-07-01T00:00:00Z 2025-08-01T00:00:00Z 2025-07'],
    ['2025-01-01T00:30:00+01:00', 'month', '2024-11-01T00:00:00Z 2024-12-01T00:00:00Z 2024-11'],
  ];
  for (const [at, p, want] of cases) {
    it(`${p} before ${at}`, () => expect(period(at, p)).toBe(want));
  }

  it('defaults to a day before now', () => {
    const r = run(['--print'], {});
    expect(r.status, r.stderr).toBe(0);
    const today = new Date().toISOString().slice(0, 10);
    const [from, to, name] = r.stdout.trim().split(' ');
    expect(to).toBe(`${today}T00:00:00Z`);
    expect(Date.parse(to!) - Date.parse(from!)).toBe(86_400_000);
    expect(name).toBe(from!.slice(0, 10));
  });

  it('refuses a bad setting or flag with exit 2 and one line', () => {
    for (const [args, env, msg] of [
      [['--print'], { BILLING_PERIOD: 'week' }, /BILLING_PERIOD must be day or month, not: week/],
      [['--print'], { BILLING_AT: 'yesterday-ish' }, /BILLING_AT is not a date: yesterday-ish/],
      [['aggregate', LOGS], { BILLING_WRAPPED: 'syslog' }, /BILLING_WRAPPED must be fluent-bit, cloudwatch or empty/],
      [['aggregate', LOGS, '--out', '/tmp/x.txt'], {}, /--out is set by billing-period/],
      [['aggregate', LOGS, '--from=2025-01-01T00:00:00Z'], {}, /--from=2025-01-01T00:00:00Z is set by billing-period/],
      [['generate', '--out', 'x'], {}, /usage: billing-period aggregate/],
    ] as const) {
      const r = run([...args], { ...env });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('mr run through it', () => {
  const path = pathWithMr();
  const samples = readFileSync(LOGS, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const summary = (dir: string) => JSON.parse(readFileSync(join(dir, 'billing.summary.json'), 'utf8')) as Record<string, any>;
  const direct = (args: string[]) => {
    const out = tempDir('mr-period-direct-');
    const r = spawnSync(process.execPath, [cliPath, 'aggregate', ...args, '--engine', 'naive', '--env-file', ENV, '--out', join(out, 'billing.txt')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return out;
  };

  it('bills the previous day into its own folder, the bound at midnight excluded', () => {
    const out = tempDir('mr-period-out-');
    const r = run(['aggregate', LOGS, '--engine', 'naive', '--env-file', ENV], { BILLING_AT: '2025-05-03T02:00:00Z', BILLING_OUTPUT_DIR: out }, path);
    expect(r.status, r.stderr).toBe(0);
    const dir = join(out, '2025-05-02');
    const s = summary(dir);
    // the sample runs from 2025-05-02T00:00:07Z to one line at 2025-05-03T00:00:00Z: that one is the next day's
    const nextDay = samples.filter((l) => !l.startsWith('2025-05-02T')).length;
    expect(nextDay).toBeGreaterThan(0);
    expect(s['out_of_window']).toBe(nextDay);
    expect(s['records']).toBe(samples.length);
    const same = direct([LOGS, '--from', '2025-05-02T00:00:00Z', '--to', '2025-05-03T00:00:00Z']);
    expect(readFileSync(join(dir, 'billing.txt'), 'utf8')).toBe(readFileSync(join(same, 'billing.txt'), 'utf8'));
  });

  it('bills the previous month into its own folder', () => {
    const out = tempDir('mr-period-out-');
    const r = run(['aggregate', LOGS, '--engine', 'naive', '--env-file', ENV], { BILLING_AT: '2025-06-01T02:00:00Z', BILLING_PERIOD: 'month', BILLING_OUTPUT_DIR: out }, path);
    expect(r.status, r.stderr).toBe(0);
    const dir = join(out, '2025-05');
    expect(summary(dir)['out_of_window']).toBe(0);
    expect(readFileSync(join(dir, 'billing.txt'), 'utf8')).toBe(readFileSync(join(direct([LOGS]), 'billing.txt'), 'utf8'));
  });

  it('with BILLING_KEY_DAY_GLOB reads only the keys of the period and the days beside it', () => {
    const logs = tempDir('mr-period-keys-');
    const put = (p: string, lines: string[]) => {
      mkdirSync(join(logs, p, '..'), { recursive: true });
      writeFileSync(join(logs, p), lines.join('\n') + '\n');
    };
    const late = '2025-05-01T23:59:59Z user1 login 200 10ms'; // the day before, filed under 05/02
    put('2025/04/30/a.log', ['2025-05-02T10:00:00Z user9 login 200 1000ms']); // two days before: not read
    put('2025/05/01/b.log', ['2025-05-02T00:00:01Z user2 login 200 20ms']); // filed early: read and billed
    put('2025/05/02/c.log', [late, '2025-05-02T12:00:00Z user3 login 200 30ms']);
    put('2025/05/03/d.log', ['2025-05-02T23:59:59Z user4 login 200 40ms', '2025-05-03T00:00:00Z user5 login 200 50ms']);
    put('2025/05/04/e.log', ['2025-05-02T10:00:00Z user9 login 200 1000ms']); // two days after: not read
    const out = tempDir('mr-period-out-');
    const r = run(['aggregate', logs, '--engine', 'naive', '--env-file', ENV], { BILLING_AT: '2025-05-03T02:00:00Z', BILLING_OUTPUT_DIR: out, BILLING_KEY_DAY_GLOB: '%Y/%m/%d/**' }, path);
    expect(r.status, r.stderr).toBe(0);
    const dir = join(out, '2025-05-02');
    expect(readFileSync(join(dir, 'billing.txt'), 'utf8')).toBe(
      'user2: total_duration=20ms, total_cost=0.10\nuser3: total_duration=30ms, total_cost=0.15\nuser4: total_duration=40ms, total_cost=0.20\n',
    );
    const s = summary(dir);
    expect(s['records']).toBe(5);
    expect(s['out_of_window']).toBe(2);
  });

  it('a month with BILLING_KEY_DAY_GLOB includes every day of it and one on each side', () => {
    const logs = tempDir('mr-period-keys-');
    for (const d of ['2024/01/31', '2024/02/01', '2024/02/29', '2024/03/01', '2024/03/02']) {
      mkdirSync(join(logs, d), { recursive: true });
      writeFileSync(join(logs, d, 'x.log'), `2024-02-15T10:00:00Z u${d.replaceAll('/', '')} login 200 1ms\n`);
    }
    const out = tempDir('mr-period-out-');
    const r = run(['aggregate', logs, '--engine', 'naive', '--env-file', ENV], { BILLING_AT: '2024-03-01T02:00:00Z', BILLING_PERIOD: 'month', BILLING_OUTPUT_DIR: out, BILLING_KEY_DAY_GLOB: '%Y/%m/%d/**' }, path);
    expect(r.status, r.stderr).toBe(0);
    const users = readFileSync(join(out, '2024-02', 'billing.txt'), 'utf8').split('\n').filter(Boolean).map((l) => l.split(':')[0]);
    expect(users).toEqual(['u20240131', 'u20240201', 'u20240229', 'u20240301']);
  });
});
