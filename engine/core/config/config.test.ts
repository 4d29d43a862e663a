import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { billingConfigFromEnv, dedupeSettingsFromEnv, taskIndex, ConfigError, DEFAULT_CURRENCY_DECIMALS, DEFAULT_MAX_DURATION_MS } from './config.js';
import { intSetting } from './integers.js';
import { loadEnv } from './env-file.js';
import { readConfigText } from './config-text.js';
import { cleanupTempDirs, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

describe('billingConfigFromEnv', () => {
  it('reads RATE_<task> (exact picos, canonical text), sorted by task bytes; defaults', () => {
    const c = billingConfigFromEnv({ RATE_login: '0.005', RATE_Upload: ' 2 ', RATE_export: '0.000000000001', RATE_big: '999999.999999999999', OTHER: 'x' });
    expect(c.rates.map((r) => [r.task, r.picos, r.text])).toEqual([
      ['Upload', 2_000_000_000_000n, '2'],
      ['big', 999_999_999_999_999_999n, '999999.999999999999'],
      ['export', 1n, '0.000000000001'],
      ['login', 5_000_000_000n, '0.005'],
    ]);
    expect(c.currencyDecimals).toBe(DEFAULT_CURRENCY_DECIMALS);
    expect(c.maxDurationMs).toBe(DEFAULT_MAX_DURATION_MS);
    expect(DEFAULT_MAX_DURATION_MS).toBe(86_400_000);
    expect(taskIndex(c).get('login')).toBe(3);
  });

  it('task names are case-sensitive and exact', () => {
    const idx = taskIndex(billingConfigFromEnv({ RATE_login: '1', RATE_Login: '2' }));
    expect(idx.get('login')).not.toBe(idx.get('Login'));
    expect(idx.get('LOGIN')).toBeUndefined();
  });

  it.each(['', ' ', '-1', '+1', '1e-3', '.5', '5.', '0.0000000000001', '1,5', 'abc', '0x1', '1 2', 'NaN'])('a malformed rate %j is a ConfigError', (v) => {
    expect(() => billingConfigFromEnv({ RATE_login: v })).toThrow(ConfigError);
  });

  it('a malformed rate names its value; one that is a rate after an unclosed quote says so', () => {
    expect(() => billingConfigFromEnv({ RATE_login: '0.0.5' })).toThrow(/^RATE_login="0\.0\.5" is not a non-negative decimal with at most 12 fractional digits \(e\.g\. 0\.005\)$/);
    expect(() => billingConfigFromEnv({ RATE_login: '"0.005' })).toThrow(/is not a non-negative decimal .* \(an opening quote without its closing one\?\)$/);
    // A variable in a value is not expanded (dotenv's rules, decision 49): the error says so.
    for (const raw of ['${BASE}', '$BASE', '0.00${N}'])
      expect(() => billingConfigFromEnv({ RATE_login: raw })).toThrow(/is not a non-negative decimal .*\(e\.g\. 0\.005\) \(mr expands no variable in a value: write the value itself\)$/);
    expect(() => billingConfigFromEnv({ RATE_login: '$5' })).toThrow(/\(e\.g\. 0\.005\)$/);
    expect(() => intSetting({ MAX_DURATION_MS: '${MAX}' }, 'MAX_DURATION_MS', 1, 1, 10)).toThrow(/must be an integer from 1 to 10 \(mr expands no variable in a value: write the value itself\)$/);
    expect(() => dedupeSettingsFromEnv({ DEDUPE: '$MODE' }, undefined)).toThrow(/must be one of .* \(mr expands no variable in a value: write the value itself\)$/);
    expect(() => billingConfigFromEnv({ RATE_login: '"abc' })).toThrow(/\(e\.g\. 0\.005\)$/);
  });

  it('RATE_ with no task name, or no rate at all, is a ConfigError', () => {
    expect(() => billingConfigFromEnv({ RATE_: '1', RATE_login: '1' })).toThrow(ConfigError);
    expect(() => billingConfigFromEnv({})).toThrow(/no rates/);
    expect(() => billingConfigFromEnv({ rate_login: '1' })).toThrow(ConfigError);
  });

  it('CURRENCY_DECIMALS: integer 0..12', () => {
    for (const ok of ['0', '2', '12', ' 3 ']) expect(billingConfigFromEnv({ RATE_x: '1', CURRENCY_DECIMALS: ok }).currencyDecimals).toBe(Number(ok));
    for (const bad of ['13', '-1', '2.0', 'two', '1e1', '0x2']) {
      expect(() => billingConfigFromEnv({ RATE_x: '1', CURRENCY_DECIMALS: bad }), bad).toThrow(ConfigError);
    }
  });

  it('MAX_DURATION_MS: integer 0..2^40', () => {
    expect(billingConfigFromEnv({ RATE_x: '1', MAX_DURATION_MS: '0' }).maxDurationMs).toBe(0);
    expect(billingConfigFromEnv({ RATE_x: '1', MAX_DURATION_MS: String(2 ** 40) }).maxDurationMs).toBe(2 ** 40);
    for (const bad of [String(2 ** 40 + 1), '-1', '1.5', 'big', '1e6']) {
      expect(() => billingConfigFromEnv({ RATE_x: '1', MAX_DURATION_MS: bad }), bad).toThrow(ConfigError);
    }
  });
});

describe('loadEnv', () => {
  it('reads .env in the working directory; the environment wins over the file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), '# rates\nRATE_login=0.005\nRATE_search="0.0125"\nCURRENCY_DECIMALS=3\n');
    const env = await loadEnv({ RATE_login: '0.5', PATH: '/bin' }, undefined, dir);
    expect(env.RATE_login).toBe('0.5');
    expect(env.RATE_search).toBe('0.0125');
    expect(env.CURRENCY_DECIMALS).toBe('3');
  });

  it('no .env: the environment alone', async () => {
    const dir = tempDir();
    expect(await loadEnv({ RATE_x: '1' }, undefined, dir)).toEqual({ RATE_x: '1' });
  });

  it('--env-file names another file; a named missing file is a ConfigError', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_a=1\n');
    writeFileSync(join(dir, 'other.env'), 'RATE_b=2\n');
    const env = await loadEnv({}, join(dir, 'other.env'), dir);
    expect(env.RATE_b).toBe('2');
    expect(env.RATE_a).toBeUndefined();
    await expect(loadEnv({}, join(dir, 'missing.env'), dir)).rejects.toThrow(ConfigError);
  });

  it('keys like __proto__ in the file are plain keys', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), '__proto__=x\nRATE___proto__=1\n');
    const env = await loadEnv({}, undefined, dir);
    expect(billingConfigFromEnv(env).rates.map((r) => r.task)).toEqual(['__proto__']);
  });
});

describe('readConfigText', () => {
  it('reads a pipe to its end, its writer coming later (--env-file <(…)), and a regular file as it is', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `sleep 0.3; printf 'RATE_a=1\\n' > ${fifo}; printf 'RATE_b=2\\n' > /dev/null`]);
    expect(await readConfigText(fifo)).toBe('RATE_a=1\n');
    await new Promise((r) => writer.on('close', r));
    writeFileSync(join(dir, 'plain.env'), 'RATE_c=3\n');
    expect(await readConfigText(join(dir, 'plain.env'))).toBe('RATE_c=3\n');
  });

  it('a run interrupted while a FIFO has no writer ends the wait with the interrupt', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error('interrupted by SIGINT')), 200);
    await expect(readConfigText(fifo, ctl.signal)).rejects.toThrow('interrupted by SIGINT');
  });
});
