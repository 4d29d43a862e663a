/**
 * The original project's sample (../shared/reference/api_logs.txt, 10,000 lines) with its rates
 * (../shared/reference/original.env), and the original project's own tests, through the CLI.
 * Expectations come from an independent computation here: plain split + BigInt, half-up.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cleanupTempDirs, decimalToPicos, picosToFixed, repoRoot, runCli, tempDir } from '../fixtures/harness.js';

afterAll(cleanupTempDirs);

const LOGS = resolve(repoRoot, '../shared/reference/api_logs.txt');
const ENV = resolve(repoRoot, '../shared/reference/original.env');

/** RATE_<task>=<decimal> lines of a .env file, read by hand. */
function ratesOf(envText: string): Map<string, bigint> {
  const rates = new Map<string, bigint>();
  for (const line of envText.split('\n')) {
    const m = /^RATE_(\w+)=([\d.]+)\s*$/.exec(line.trim());
    if (m) rates.set(m[1]!, decimalToPicos(m[2]!));
  }
  return rates;
}

/** Independent billing of clean space-format lines: user → [duration, picos]. */
function expectedBill(text: string, rates: Map<string, bigint>): string {
  const users = new Map<string, { ms: bigint; picos: bigint }>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [, user, task, , duration] = line.trim().split(/\s+/);
    const ms = BigInt(duration!.replace(/ms$/, ''));
    const u = users.get(user!) ?? { ms: 0n, picos: 0n };
    u.ms += ms;
    u.picos += ms * rates.get(task!)!;
    users.set(user!, u);
  }
  const names = [...users.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return names.map((n) => `${n}: total_duration=${users.get(n)!.ms}ms, total_cost=${picosToFixed(users.get(n)!.picos, 2)}\n`).join('');
}

describe('shared/reference/api_logs.txt with original.env', () => {
  const rates = ratesOf(readFileSync(ENV, 'utf8'));
  const want = expectedBill(readFileSync(LOGS, 'utf8'), rates);

  it('the independent computation sees 5 rates and 1,000 users', () => {
    expect([...rates.keys()].sort()).toEqual(['createOrder', 'deleteOrder', 'getUserProfile', 'login', 'updateInventory']);
    expect(want.split('\n').filter((l) => l !== '').length).toBe(1000);
  });

  it.each([
    [['--engine', 'naive']],
    [['--engine', 'parallel', '--workers', '2', '--shard-size', '65536']],
  ])('every user: total_duration and exact half-up cost (%j)', async (engineArgs) => {
    const dir = tempDir();
    const r = await runCli(['aggregate', LOGS, '--env-file', ENV, '--out', 'out/billing.txt', ...engineArgs], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const got = readFileSync(join(dir, 'out/billing.txt'), 'utf8');
    expect(got.split('\n').filter((l) => l !== '').length).toBe(1000);
    expect(got).toBe(want);
    const summary = JSON.parse(readFileSync(join(dir, 'out/billing.summary.json'), 'utf8'));
    expect(summary).toMatchObject({ records: 10000, accepted: 10000, rejected: {}, users: 1000, out_of_window: 0 });
  });
});

describe("the original project's tests", () => {
  it('one login of 100 ms at RATE_login=0.005 → 100ms, 0.50', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_login=0.005\n');
    writeFileSync(join(dir, 'api_logs.txt'), '2025-05-02T23:16:50Z user1 login 200 100ms\n');
    const r = await runCli(['aggregate', 'api_logs.txt', '--engine', 'naive'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'data/billing.txt'), 'utf8')).toBe('user1: total_duration=100ms, total_cost=0.50\n');
  });

  it('several lines for two users → their totals', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_login=0.005\nRATE_getUserProfile=0.002\nRATE_createOrder=0.010\n');
    writeFileSync(
      join(dir, 'api_logs.txt'),
      [
        '2025-05-02T10:00:00Z user1 login 200 100ms',
        '2025-05-02T10:00:01Z user2 getUserProfile 200 250ms',
        '2025-05-02T10:00:02Z user1 createOrder 201 300ms',
        '2025-05-02T10:00:03Z user2 login 200 50ms',
        '2025-05-02T10:00:04Z user1 getUserProfile 200 75ms',
        '',
      ].join('\n'),
    );
    // user1: 100×0.005 + 300×0.010 + 75×0.002 = 0.5 + 3 + 0.15 = 3.65; 475 ms
    // user2: 250×0.002 + 50×0.005 = 0.5 + 0.25 = 0.75; 300 ms
    for (const engine of ['naive', 'parallel']) {
      const r = await runCli(['aggregate', 'api_logs.txt', '--engine', engine, '--out', `${engine}/billing.txt`], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(dir, `${engine}/billing.txt`), 'utf8')).toBe(
        'user1: total_duration=475ms, total_cost=3.65\nuser2: total_duration=300ms, total_cost=0.75\n',
      );
    }
  });
});
