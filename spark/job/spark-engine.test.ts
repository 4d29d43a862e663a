/**
 * Integration: the spark engine against a real local Spark cluster (provisioned and
 * started here when it is not running), compared with the naive engine: counts per
 * reason, usage, bill text and every reject (file, reason, raw), in order.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { discoverInputs } from '../../engine/core/input/discover.js';
import { billingConfigFromEnv, type BillingConfig } from '../../engine/core/config/config.js';
import { parseTimestamp, type TimeWindow } from '../../engine/core/validation/timestamp.js';
import { InputError, UsageError } from '../../engine/core/errors.js';
import { REJECT_REASONS } from '../../engine/core/validation/reasons.js';
import { runNaive } from '../../engine/naive/engine.js';
import { DEFAULT_DEDUPE, type DedupeSettings } from '../../engine/core/dedupe/dedupe.js';
import { generate, reasonsFor, DEFAULT_TASKS } from '../../engine/generate/generator.js';
import { useTestClient } from '../../fixtures/spark/cluster-hooks.js';
import { SparkConnectClient, SparkConnectionError, sql } from '@mr/spark-connect';
import { SparkRunFailure } from './failure.js';
import { runEngine, type EngineOutcome } from '../../fixtures/spark/differential.js';
import { writeEdgeFixtures } from '../../fixtures/spark/edge-fixtures.js';
import { runSpark } from './run.js';
import { cliPath, reportedErrors, runCli } from '../../fixtures/harness.js';

/** Every reason but bad_wrapper, which only --wrapped input has (cli/wrapped.test.ts covers it, spark against naive). */
const UNWRAPPED_REASONS = REJECT_REASONS.filter((r) => r !== 'bad_wrapper');

const REFERENCE = fileURLToPath(new URL('../../../shared/reference/api_logs.txt', import.meta.url));

const RATES = {
  RATE_login: '0.005',
  RATE_getUserProfile: '0.002',
  RATE_createOrder: '0.010',
  RATE_updateInventory: '0.008',
  RATE_deleteOrder: '0.007',
};

const sc = useTestClient('mr-spark-');

/**
 * Both engines on the same input. `functions`: the spark engine's space fast path is mr's
 * executor function (true, the default where the cluster has it) or the SQL one (false, as on
 * a cluster without the jar); the edge, window and generated-data cases run both.
 */
async function both(paths: string[], config: BillingConfig, window: TimeWindow = {}, dedupe?: DedupeSettings, functions = true): Promise<{ naive: EngineOutcome; spark: EngineOutcome }> {
  const { files } = await discoverInputs(paths);
  const naive = await runEngine(runNaive, files, config, window, dedupe);
  const notices: string[] = [];
  const spark = await runEngine((input) => runSpark(input, { client: sc.client, functions, onNotice: (m) => notices.push(m) }), files, config, window, dedupe);
  // The test cluster has this mr's functions: no fallback notice when they are asked for.
  expect(notices).toEqual([]);
  return { naive, spark };
}

function expectSame({ naive, spark }: { naive: EngineOutcome; spark: EngineOutcome }): void {
  // The cluster does not know line offsets: conflict examples are compared by file.
  const noOffsets = (c: EngineOutcome['counts']) => ({
    ...c,
    conflictExamples: c.conflictExamples.map((e) => ({ ...e, at: { ...e.at, offset: -1 }, first: { ...e.first, offset: -1 } })),
  });
  expect(noOffsets(spark.counts)).toEqual(noOffsets(naive.counts));
  expect(spark.usage).toEqual(naive.usage);
  expect(spark.bill).toBe(naive.bill);
  expect(spark.rejects).toEqual(naive.rejects);
}

describe('spark engine = naive engine', () => {
  it.each([true, false])('on edge cases of every rule, every format, gzip (executor functions: %s)', async (functions) => {
    const dir = writeEdgeFixtures(join(sc.work, `edge-${functions}`));
    const r = await both([dir], billingConfigFromEnv(RATES), {}, undefined, functions);
    expectSame(r);
    // The fixtures reach every reason and every kind of outcome.
    for (const reason of UNWRAPPED_REASONS) expect(r.naive.counts.rejected[reason], reason).toBeGreaterThan(0);
    expect(r.naive.counts.accepted).toBeGreaterThan(10);
    // A CSV file of 30,000 columns is billed (past the fast path's regex, on the exact path).
    expect(r.naive.bill).toMatch(/^wide1: .*\n(?:.*\n)*wide2: /m);
    // A header whose names are padded with White_Space and U+FEFF (e2.csv) is read by its trimmed names.
    expect(r.naive.bill).toMatch(/^u10: total_duration=3ms,/m);
    // Request ids: duplicates within and across files and formats, conflicts by field.
    expect(r.naive.counts.duplicates).toBe(7);
    expect(r.naive.counts.conflictingDuplicates).toBe(3);
  });

  it('on edge cases with --dedupe line and off', async () => {
    const dir = writeEdgeFixtures(join(sc.work, 'edge-line'));
    for (const mode of ['line', 'off'] as const) {
      const r = await both([dir], billingConfigFromEnv(RATES), {}, { ...DEFAULT_DEDUPE, mode });
      expectSame(r);
      if (mode === 'line') expect(r.naive.counts.duplicates).toBeGreaterThan(0);
      else expect(r.naive.counts.duplicates).toBe(0);
    }
  });

  it('on the reference sample (shared/reference/api_logs.txt)', async () => {
    expect(existsSync(REFERENCE), REFERENCE).toBe(true);
    const r = await both([REFERENCE], billingConfigFromEnv(RATES));
    expectSame(r);
    expect(r.spark.counts.records).toBe(10_000);
    expect(r.spark.bill.split('\n').length - 1).toBe(1000);
  });

  it('counts unknown tasks by name like the naive engine (a rate typo: RATE_Login for RATE_login)', async () => {
    const { RATE_login, ...others } = RATES;
    const r = await both([REFERENCE], billingConfigFromEnv({ ...others, RATE_Login: RATE_login }));
    expectSame(r);
    expect(r.spark.counts.unknownTasks).toEqual(new Map([['login', 2011]]));
  });

  it('through the CLI: the reject limit stops a short bill (exit 3, nothing written); over it, the summary names the unknown task', async () => {
    const dir = mkdtempSync(join(sc.work, 'cli-'));
    const env = readFileSync(fileURLToPath(new URL('../../../shared/reference/original.env', import.meta.url)), 'utf8').replace(/^RATE_login=/m, 'RATE_Login=');
    writeFileSync(join(dir, '.env'), env);
    const args = ['aggregate', REFERENCE, '--engine', 'spark', '--remote', sc.cluster.remote, '--no-progress'];
    const over = await runCli([...args, '--out', 'a/billing.txt'], { cwd: dir });
    expect(over.code, over.stderr).toBe(3);
    expect(existsSync(join(dir, 'a', 'billing.txt'))).toBe(false);
    expect(reportedErrors(over.stderr)).toHaveLength(1);
    expect(over.stderr).toMatch(/did you mean `RATE_Login`/);
    const ok = await runCli([...args, '--out', 'b/billing.txt', '--max-rejects', '100%'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'b', 'billing.summary.json'), 'utf8'));
    expect(summary.unknown_tasks).toEqual({ login: 2011 });
    expect(summary.rejected).toEqual({ unknown_task: 2011 });
  });

  it('mr spark status with another --run-dir (no daemons on record there) still asks the Connect port, and says it answers', async () => {
    const port = /:(\d+)$/.exec(sc.cluster.remote)![1]!;
    const runDir = mkdtempSync(join(sc.work, 'status-'));
    const r = await runCli(['spark', 'status', '--run-dir', runDir, '--connect-port', port], { cwd: runDir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^connect {2}stopped {2}port /m);
    expect(r.stdout).toMatch(new RegExp(`^connect {2}answering at sc://127\\.0\\.0\\.1:${port}$`, 'm'));
  });

  it('through the CLI: MR_SPARK_TRACE and MR_SPARK_FUNCTIONS are read from the env file too, as from the environment', async () => {
    const dir = mkdtempSync(join(sc.work, 'cli-settings-'));
    const rates = Object.entries(RATES).map(([k, v]) => `${k}=${v}\n`).join('');
    const args = ['aggregate', REFERENCE, '--engine', 'spark', '--remote', sc.cluster.remote, '--no-progress'];
    writeFileSync(join(dir, 'off.env'), `${rates}MR_SPARK_TRACE=1\nMR_SPARK_FUNCTIONS=off\n`);
    const fromFile = await runCli([...args, '--env-file', 'off.env', '--out', 'a/billing.txt'], { cwd: dir });
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stderr).toMatch(/^mr spark: connected, session set, executor functions not used /m);
    writeFileSync(join(dir, 'on.env'), rates);
    const fromEnv = await runCli([...args, '--env-file', 'on.env', '--out', 'b/billing.txt'], { cwd: dir, env: { MR_SPARK_TRACE: '1' } });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(fromEnv.stderr).toMatch(/^mr spark: connected, session set, executor functions registered /m);
    expect(readFileSync(join(dir, 'a', 'billing.txt'), 'utf8')).toBe(readFileSync(join(dir, 'b', 'billing.txt'), 'utf8'));
  });

  it('reads the files a path names through links and `..` as the file system does, not as text; absolute paths with `//`, `.` or `..` too', async () => {
    const dir = mkdtempSync(join(sc.work, 'paths-'));
    // decoy/link → ../real/sub: decoy/link/.. is real, where Hadoop would read decoy as text.
    for (const [folder, user, ms] of [['real', 'RIGHT_FILE', 5], ['decoy', 'WRONG_FILE', 999]] as const) {
      mkdirSync(join(dir, folder, 'sub'), { recursive: true });
      writeFileSync(join(dir, folder, 'api.log'), `2025-05-02T23:16:50Z ${user} login 200 ${ms}ms\nnot a line\n`);
      writeFileSync(join(dir, folder, 'data.csv'), `timestamp,user,task,status,duration_ms\n2025-05-02T23:16:50Z,${user},login,200,${ms}\n`);
    }
    symlinkSync('../real/sub', join(dir, 'decoy', 'link'));
    const config = billingConfigFromEnv(RATES);
    for (const paths of [
      // As text, not through join(), which would resolve the `..` as Hadoop does.
      [`${dir}/decoy/link/../api.log`, `${dir}/decoy/link/../data.csv`],
      [`${dir}/decoy/link/..`],
      [`${dir}//real/./sub/../api.log`, `${dir}/decoy/../real//data.csv`],
      [`${dir}//real/./api.log`, `${dir}/real//data.csv`],
    ]) {
      const r = await both(paths, config);
      expectSame(r);
      expect(r.spark.bill).toBe('RIGHT_FILE: total_duration=10ms, total_cost=0.05\n');
      expect(r.spark.counts.rejected.bad_field_count).toBe(1);
    }
  });

  it('traces one run\'s phases when asked, and not the next run that is not', async () => {
    const { files } = await discoverInputs([REFERENCE]);
    const config = billingConfigFromEnv(RATES);
    const saved = process.env['MR_SPARK_TRACE'];
    delete process.env['MR_SPARK_TRACE'];
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await runEngine((input) => runSpark(input, { client: sc.client, trace: true }), files, config);
      const traced = lines.splice(0).filter((l) => l.startsWith('mr spark: '));
      expect(traced.map((l) => l.replace(/ [\d.]+ s\n$/, ''))).toEqual(expect.arrayContaining(['mr spark: start', 'mr spark: counts', 'mr spark: usage streamed']));
      await runEngine((input) => runSpark(input, { client: sc.client }), files, config);
      expect(lines.filter((l) => l.startsWith('mr spark: '))).toEqual([]);
    } finally {
      spy.mockRestore();
      if (saved !== undefined) process.env['MR_SPARK_TRACE'] = saved;
    }
  });

  it.each([true, false])('with a time window and other currency decimals (executor functions: %s)', async (functions) => {
    const from = parseTimestamp('2025-05-02T06:00:00Z')!;
    const to = parseTimestamp('2025-05-02T18:30:00.5+00:00')!;
    const r = await both([REFERENCE], billingConfigFromEnv({ ...RATES, CURRENCY_DECIMALS: '4', MAX_DURATION_MS: '1500' }), { from, to }, undefined, functions);
    expectSame(r);
    expect(r.spark.counts.outOfWindow).toBeGreaterThan(0);
  });

  it.each([true, false])('on generated data with bad lines of every reason, in all three formats and gzip (executor functions: %s)', async (functions) => {
    const dir = join(sc.work, `gen-${functions}`);
    let seed = 7;
    for (const format of ['space', 'csv', 'jsonl'] as const) {
      for (const gzip of [false, true]) {
        const ext = format === 'space' ? 'log' : format;
        const bad = Object.fromEntries(reasonsFor(format, true).map((r) => [r, 0.01]));
        await generate({
          out: join(dir, `part-${format}${gzip ? '-gz' : ''}.${ext}${gzip ? '.gz' : ''}`),
          format,
          lines: 20_000,
          users: 300,
          tasks: DEFAULT_TASKS,
          bad,
          seed: seed++,
          gzip,
          startDay: '2025-05-01',
          days: 3,
          // Request ids (CSV, JSON lines) and re-delivered batches, some changed.
          requestIds: true,
          redeliver: 0.05,
          conflicts: 0.1,
        });
      }
    }
    const r = await both([dir], billingConfigFromEnv(RATES), {}, undefined, functions);
    expectSame(r);
    expect(r.spark.counts.records).toBe(120_000);
    expect(r.spark.counts.duplicates).toBeGreaterThan(0);
    expect(r.spark.counts.conflictingDuplicates).toBeGreaterThan(0);
    for (const reason of UNWRAPPED_REASONS) expect(r.spark.counts.rejected[reason], reason).toBeGreaterThan(0);
  });

  it('reads the names it does not refuse as the naive engine does, and refuses one Spark would skip (README decision 45)', async () => {
    const dir = join(sc.work, 'names');
    const lines = readFileSync(REFERENCE, 'utf8').split('\n').filter((l) => l !== '');
    const put = (rel: string, from: number, to: number) => {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), lines.slice(from, to).join('\n') + '\n');
    };
    // Spark's file index reads an underscore name with '=' (a partition's sign), and folders
    // named with '_', '.' or ':': if it skipped one of them, the bill would be short.
    put('_day=2025-05-02.log', 0, 3000);
    put('_logs/.hidden/a.log', 3000, 6000);
    put('2025-05-02T10:00/b c.log', 6000, 10_000);
    const r = await both([dir], billingConfigFromEnv(RATES));
    expectSame(r);
    expect(r.spark.counts.records).toBe(10_000);
    put('_part.log', 0, 10);
    const { files } = await discoverInputs([dir]);
    const err = await runEngine((input) => runSpark(input, { client: sc.client }), files, billingConfigFromEnv(RATES)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/_part\.log.*Spark skips files/);
  });

  /** What the naive and spark engines throw on the files under `dir` (each is expected to fail). */
  async function bothFail(dir: string): Promise<{ naive: unknown; spark: unknown }> {
    const { files } = await discoverInputs([dir]);
    const config = billingConfigFromEnv(RATES);
    const naive = await runEngine(runNaive, files, config).catch((e: unknown) => e);
    const spark = await runEngine((input) => runSpark(input, { client: sc.client }), files, config).catch((e: unknown) => e);
    return { naive, spark };
  }

  it('fails like the naive engine on a zero-byte .gz beside other logs (no gzip stream; Hadoop reads it as no lines)', async () => {
    const dir = join(sc.work, 'zero-gz');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.log.gz'), '');
    writeFileSync(join(dir, 'b.log'), '2025-05-02T10:00:00Z u1 login 200 100ms\n');
    const { naive, spark } = await bothFail(dir);
    expect(naive).toBeInstanceOf(InputError);
    expect(spark).toBeInstanceOf(InputError);
    expect((spark as Error).message).toBe((naive as Error).message);
    expect((spark as Error).message).toBe(`cannot read ${join(dir, 'a.log.gz')}: corrupt gzip stream (unexpected end of file)`);
  });

  it('fails like the naive engine on a file the user running mr may not read (the cluster reads with its own rights): exit 1, nothing billed', async () => {
    // A directory every user may enter, with a file only its owner may read: mr runs as another user (root: as nobody through setpriv).
    const dir = mkdtempSync(join(tmpdir(), 'mr-unreadable-'));
    try {
      chmodSync(dir, 0o777);
      writeFileSync(join(dir, '.env'), Object.entries(RATES).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o644 });
      writeFileSync(join(dir, 'secret.log'), '2025-05-02T10:00:00Z u1 login 200 100ms\n', { mode: 0o600 });
      const root = process.getuid?.() === 0;
      if (!root) chmodSync(join(dir, 'secret.log'), 0o000);
      const asOther = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
      const messages = ['naive', 'spark'].map((engine) => {
        const out = `out-${engine}/billing.txt`;
        const cmd = [...asOther, 'env', `HOME=${dir}`, process.execPath, '--', cliPath, 'aggregate', 'secret.log', '--engine', engine, ...(engine === 'spark' ? ['--remote', sc.cluster.remote] : []), '--out', out, '--log-format', 'json'];
        const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: dir, encoding: 'utf8' });
        expect(r.status, `${engine}: ${r.stderr}`).toBe(1);
        expect(existsSync(join(dir, dirname(out))), `${engine}: nothing written`).toBe(false);
        return reportedErrors(r.stderr);
      });
      expect(messages).toEqual([['cannot read secret.log: permission denied (EACCES)'], ['cannot read secret.log: permission denied (EACCES)']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails like the naive engine on a CSV file without a required column', async () => {
    const dir = join(sc.work, 'nocol');
    writeEdgeFixtures(dir);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'z.csv'), 'timestamp,user,task,status\n2025-05-02T23:16:50Z,u,login,200\n');
    const { naive, spark } = await bothFail(dir);
    expect(naive).toBeInstanceOf(InputError);
    expect(spark).toBeInstanceOf(InputError);
    expect((spark as Error).message).toBe((naive as Error).message);
  });
});

describe('spark engine and the Spark Connect client', () => {
  it('says when the cluster runs none of its tasks (another job holds every core), feeds the progress bar, and bills the same', async () => {
    const { files } = await discoverInputs([REFERENCE]);
    const config = billingConfigFromEnv(RATES);
    const naive = await runEngine(runNaive, files, config);
    // Another session's job, queued first, holds every core of the local test cluster (a core per CPU) for 24 s: tasks of a second's sleep.
    const tasks = 24 * availableParallelism();
    const blocker = new SparkConnectClient({ remote: sc.cluster.remote });
    const release = new AbortController();
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    await blocker.setConf({ 'spark.connect.progress.reportInterval': '200ms' });
    const blocking = blocker
      .collect(sql(`SELECT count(*) AS n FROM (SELECT reflect('java.lang.Thread', 'sleep', CAST(1000 AS BIGINT)) AS s FROM range(0, ${tasks}, 1, ${tasks})) WHERE s IS NULL`), {
        signal: release.signal,
        onProgress: (p) => {
          if (p.inflightTasks > 0) holding();
        },
      })
      .catch((e: unknown) => e);
    const notices: string[] = [];
    const bytes: number[] = [];
    let spark: EngineOutcome;
    try {
      await held;
      // mr spark status says so too: Connect answers, its probe job waits for a core.
      const port = /:(\d+)$/.exec(sc.cluster.remote)![1]!;
      const runDir = mkdtempSync(join(sc.work, 'status-busy-'));
      const status = await runCli(['spark', 'status', '--run-dir', runDir, '--connect-port', port], { cwd: runDir });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`^connect {2}answering at sc://127\\.0\\.0\\.1:${port}, but its probe job waited 10 s for an executor core: other jobs hold every core`, 'm'));
      spark = await runEngine(
        (input) =>
          runSpark(
            { ...input, onBytes: (n) => bytes.push(n) },
            {
              client: sc.client,
              idleNoticeMs: 2000,
              onNotice: (m) => {
                notices.push(m);
                // Said: the cores are given back, and the job runs.
                release.abort();
              },
            },
          ),
        files,
        config,
      );
    } finally {
      release.abort();
      await blocking;
      await blocker.close();
    }
    expect(notices).toEqual([expect.stringMatching(/^spark engine: the cluster has run none of this job's tasks for \d+ s: waiting for executor cores/)]);
    expectSame({ naive, spark });
    expect(bytes.every((n) => n > 0)).toBe(true);
    expect(bytes.reduce((a, b) => a + b, 0)).toBe(files[0]!.size);
  });

  it('fails within seconds, saying how to start the cluster, when nothing listens', async () => {
    const { files } = await discoverInputs([REFERENCE]);
    const started = Date.now();
    const err = await runEngine((input) => runSpark(input, { remote: 'sc://127.0.0.1:1', connectTimeoutMs: 3000 }), files, billingConfigFromEnv(RATES)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SparkRunFailure);
    expect((err as SparkRunFailure).exitCode).toBe(1);
    expect((err as SparkRunFailure).sparkError).toBeInstanceOf(SparkConnectionError);
    expect((err as Error).message).toContain('mr spark up');
    expect(Date.now() - started).toBeLessThan(8000);
  });
});
