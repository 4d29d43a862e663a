/**
 * Guarantee: nobody in, nothing out.
 * - Secrets (AWS keys, session tokens, a Spark Connect `;token=`) never reach the logs or
 *   any output: the logger's redaction and masking (unit), and the CLI end to end with
 *   credentials in the environment and in the .env file, at LOG_LEVEL=trace, on a run that
 *   succeeds, one that fails, and a spark run with a token in --remote.
 * - mr never writes outside its output paths: the cwd, the input directory, $TMPDIR and
 *   $HOME are snapshotted before and after a run; only the four outputs appear.
 * (The local Spark cluster binding only 127.0.0.1 is tested in spark/job/faults.test.ts.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cleanupTempDirs, listFiles, reportedErrors, tempDir } from '../../fixtures/harness.js';
import { RATES_ENV, runMr, snapshotTree, treeDiff } from '../../fixtures/guarantees.js';
import { createLogger, maskSecrets } from '../observability/logger.js';

afterAll(cleanupTempDirs);

const AWS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION_TOKEN = 'FwoGZXIvYXdzEJr//////////wEaDMockSessionTokenValue';
const SPARK_TOKEN = 'sparkT0kenV4lue';
const SECRETS = [AWS_KEY_ID, AWS_SECRET, SESSION_TOKEN, SPARK_TOKEN];

function expectNoSecret(where: string, text: string): void {
  for (const s of SECRETS) expect(text.includes(s), `${where} contains ${s}`).toBe(false);
}

describe('logger redaction', () => {
  function logged(fn: (log: ReturnType<typeof createLogger>) => void): string {
    const file = join(tempDir('mr-log-'), 'log.jsonl');
    const fd = openSync(file, 'w');
    const log = createLogger('trace', fd);
    fn(log);
    log.flush();
    closeSync(fd);
    return readFileSync(file, 'utf8');
  }

  it('redacts secret keys at any depth and masks credentials in messages, values and errors', () => {
    const out = logged((log) => {
      log.info({ AWS_SECRET_ACCESS_KEY: AWS_SECRET, AWS_ACCESS_KEY_ID: AWS_KEY_ID }, 'top level');
      log.info({ env: { AWS_SESSION_TOKEN: SESSION_TOKEN, token: SPARK_TOKEN } }, 'nested');
      log.info({ a: { b: { password: AWS_SECRET, authorization: `Bearer ${SPARK_TOKEN}` } } }, 'deeper');
      log.warn(`key ${AWS_KEY_ID} and AWS_SECRET_ACCESS_KEY=${AWS_SECRET} and AWS_SESSION_TOKEN: ${SESSION_TOKEN}`);
      log.info({ remote: `sc://spark.example:443/;use_ssl=true;token=${SPARK_TOKEN}` }, 'spark engine');
      log.info({ paths: [`s3a://bucket/${AWS_KEY_ID}/x.log`] }, 'a value in an array');
      log.error(new Error(`upstream said AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`));
      log.error({ err: new Error(`token=${SPARK_TOKEN}`) }, 'failed');
      log.info({ user: '__proto__', nested: { constructor: 'x' } }, 'object keys stay keys');
    });
    expectNoSecret('log', out);
    expect(out.split('\n').filter(Boolean)).toHaveLength(9);
    expect(out).toContain('[REDACTED]');
    expect(out).toContain('"user":"__proto__"');
  });

  it('maskSecrets leaves ordinary text alone', () => {
    const text = 'cannot read data/api_logs.txt: ENOENT (user1 login 200 1568ms)';
    expect(maskSecrets(text)).toBe(text);
  });
});

describe('the CLI never shows a secret', () => {
  const env = { AWS_ACCESS_KEY_ID: AWS_KEY_ID, AWS_SECRET_ACCESS_KEY: AWS_SECRET, AWS_SESSION_TOKEN: SESSION_TOKEN, LOG_LEVEL: 'trace' };

  function workdir(): string {
    const dir = tempDir('mr-secrets-');
    writeFileSync(join(dir, '.env'), `${RATES_ENV}AWS_SECRET_ACCESS_KEY=${AWS_SECRET}\nAWS_SESSION_TOKEN=${SESSION_TOKEN}\nSPARK_REMOTE=sc://127.0.0.1:1/;token=${SPARK_TOKEN}\n`);
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'a.log'), '2025-05-02T10:00:00Z user1 login 200 100ms\nbad line\n');
    return dir;
  }

  /** stdout, stderr and every file mr wrote (everything but .env). */
  function expectNothingLeaked(dir: string, r: { stdout: string; stderr: string }): void {
    expectNoSecret('stdout', r.stdout);
    expectNoSecret('stderr', r.stderr);
    for (const f of listFiles(dir).filter((f) => f !== '.env')) expectNoSecret(f, readFileSync(join(dir, f), 'latin1'));
  }

  it.each([['naive'], ['parallel']])('%s: a good run and a failing one (a path naming a key id), at LOG_LEVEL=trace', async (engine) => {
    const dir = workdir();
    const ok = await runMr(['aggregate', 'in', '--engine', engine, '--max-rejects', '100%', '--out', 'out/billing.txt', '--no-progress'], { cwd: dir, env });
    expect(ok.code, ok.stderr).toBe(0);
    expectNothingLeaked(dir, ok);
    const bad = await runMr(['aggregate', `in/${AWS_KEY_ID}.log`, '--engine', engine, '--out', 'out2/billing.txt', '--no-progress'], { cwd: dir, env });
    expect(bad.code).toBe(1);
    expect(reportedErrors(bad.stderr).join('\n')).toMatch(/^cannot read input in\/\[REDACTED\]\.log: no such file or directory \(ENOENT\)$/m);
    expectNothingLeaked(dir, bad);
  });

  it('spark: a token in the Spark Connect address (from --remote or SPARK_REMOTE) is never logged', async () => {
    const dir = workdir();
    for (const remote of [[], ['--remote', `sc://127.0.0.1:1/;user_id=mr;token=${SPARK_TOKEN}`]]) {
      const r = await runMr(['aggregate', 'in', '--engine', 'spark', ...remote, '--out', 'out/billing.txt', '--no-progress'], { cwd: dir, env });
      expect(r.code, r.stderr).toBe(1);
      expect(reportedErrors(r.stderr).join('\n')).toMatch(/^cannot reach the Spark Connect server/m);
      expect(r.stderr).toMatch(/"msg":"spark engine"/);
      expectNothingLeaked(dir, r);
    }
  }, 60_000);
});

describe('mr writes nothing outside its output paths', () => {
  it.each([['naive'], ['parallel']])('%s: only the four outputs appear (cwd, input dir, $TMPDIR, $HOME watched)', async (engine) => {
    const cwd = tempDir('mr-cwd-');
    const input = tempDir('mr-input-');
    const tmp = tempDir('mr-tmpdir-');
    const home = tempDir('mr-home-');
    writeFileSync(join(cwd, '.env'), RATES_ENV);
    writeFileSync(join(input, 'a.log'), '2025-05-02T10:00:00Z user1 login 200 100ms\nbad line\n');
    writeFileSync(join(input, 'b.log.gz'), gzipSync('2025-05-02T10:00:00Z user3 login 200 7ms\n'));
    writeFileSync(join(input, 'c.csv'), 'timestamp,user,task,status,duration_ms\n2025-05-02T10:00:00Z,user2,login,200,5\n');
    const watched = [cwd, input, tmp, home];
    const before = watched.map((d) => snapshotTree(d));
    const r = await runMr(['aggregate', input, '--engine', engine, '--max-rejects', '100%', '--out', 'reports/may/billing.txt', '--no-progress'], {
      cwd,
      env: { TMPDIR: tmp, HOME: home },
    });
    expect(r.code, r.stderr).toBe(0);
    const changes = watched.map((d, i) => treeDiff(before[i]!, snapshotTree(d)));
    expect(changes).toEqual([
      ['+ reports/', '+ reports/may/', '+ reports/may/billing.detail.csv', '+ reports/may/billing.rejects.csv', '+ reports/may/billing.summary.json', '+ reports/may/billing.txt'],
      [],
      [],
      [],
    ]);

    // A failing run (a corrupt gzip) leaves nothing, not even the output directory it made.
    writeFileSync(join(input, 'b.log.gz'), 'not gzip');
    const again = watched.map((d) => snapshotTree(d));
    const bad = await runMr(['aggregate', input, '--engine', engine, '--out', 'failed/billing.txt', '--no-progress'], { cwd, env: { TMPDIR: tmp, HOME: home } });
    expect(bad.code, bad.stderr).toBe(1);
    const failedChanges = watched.map((d, i) => treeDiff(again[i]!, snapshotTree(d)));
    expect(failedChanges, JSON.stringify(failedChanges)).toEqual([[], [], [], []]);
  });
});
