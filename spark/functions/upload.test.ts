/**
 * A Spark cluster started without mr's executor functions (a user's own cluster): the job adds
 * this machine's jar to its session (Spark Connect AddArtifacts), registers the functions from
 * it, and bills exactly like the naive engine, with no fallback notice. The cluster is started
 * with settings as a user's .env holds them: its daemons take only the Spark ones.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SparkConnectClient, SparkError, registerJavaFunction } from '@mr/spark-connect';
import { sparkDown, sparkUp, type ClusterOptions } from '../cluster/cluster.js';
import { ensureSpark } from '../cluster/install.js';
import { buildFunctionsJar, FUNCTIONS, registerFunctions } from './functions.js';
import { discoverInputs } from '../../engine/core/input/discover.js';
import { billingConfigFromEnv } from '../../engine/core/config/config.js';
import { runNaive } from '../../engine/naive/engine.js';
import { generate, reasonsFor, DEFAULT_TASKS } from '../../engine/generate/generator.js';
import { runEngine } from '../../fixtures/spark/differential.js';
import { runSpark } from '../job/run.js';

const PORTS = { masterPort: 17277, masterWebUiPort: 18280, workerWebUiPort: 18281, connectPort: 15302, driverUiPort: 14340 };
const RATES = { RATE_login: '0.005', RATE_getUserProfile: '0.002', RATE_createOrder: '0.010', RATE_updateInventory: '0.008', RATE_deleteOrder: '0.007' };

let dir: string;
let cluster: ClusterOptions;
let remote: string;
/** Each daemon's environment (NAME=value entries), read when the cluster was up. */
let daemonEnvs: string[][];
const DAEMON_SECRET = 'mr-daemon-env-secret-3b9e';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mr-plain-cluster-'));
  const log = (m: string) => process.stderr.write(`[spark-plain] ${m}\n`);
  // This machine's jar, as `npm run spark:install` leaves it.
  expect(await buildFunctionsJar(await ensureSpark({ log }), process.env, log)).not.toBeNull();
  // Its settings as `mr spark up --env-file .env` reads them from a file like .env.example: a
  // Spark setting, SPARK_REMOTE (spark-submit refuses a remote beside a master), rates and an
  // AWS secret (the billing run's, never given to the Spark daemons).
  const file = { SPARK_MR_TEST_SETTING: 'kept', SPARK_REMOTE: 'sc://127.0.0.1:15002', RATE_login: '0.005', AWS_SECRET_ACCESS_KEY: DAEMON_SECRET };
  cluster = { ...PORTS, env: { ...process.env, ...file }, runDir: join(dir, 'spark-run'), workerCores: 2, workerMemory: '2g', functions: false, log };
  const up = await sparkUp(cluster);
  remote = up.remote;
  daemonEnvs = up.components.map((c) => readFileSync(`/proc/${c.pid}/environ`, 'utf8').split('\0'));
}, 600_000);

afterAll(async () => {
  if (cluster !== undefined) await sparkDown(cluster);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('the daemons of `mr spark up`', () => {
  it('start with a settings file holding SPARK_REMOTE, and take only its Spark settings, not its rates or credentials', () => {
    expect(daemonEnvs).toHaveLength(3);
    for (const env of daemonEnvs) {
      expect(env).toContain('SPARK_MR_TEST_SETTING=kept');
      expect(env.filter((e) => /^(SPARK_REMOTE|RATE_login|AWS_SECRET_ACCESS_KEY)=/.test(e))).toEqual([]);
      expect(env.join('\n')).not.toContain(DAEMON_SECRET);
    }
  });
});

describe('executor functions on a cluster without them', () => {
  it('the job adds the jar to its session and bills like the naive engine', async () => {
    const client = new SparkConnectClient({ remote });
    try {
      // The cluster's class path has no functions.
      const missing = await client.command(registerJavaFunction('mr_probe', FUNCTIONS.delimitedLine.className, FUNCTIONS.delimitedLine.type)).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(SparkError);

      for (const format of ['space', 'csv'] as const) {
        await generate({
          out: join(dir, 'in', `part.${format === 'space' ? 'log' : 'csv'}`),
          format,
          lines: 5_000,
          users: 50,
          tasks: DEFAULT_TASKS,
          bad: Object.fromEntries(reasonsFor(format, false).map((r) => [r, 0.01])),
          seed: 3,
          gzip: false,
          startDay: '2025-05-01',
          days: 2,
          requestIds: false,
          redeliver: 0,
          conflicts: 0,
        });
      }
      const { files } = await discoverInputs([join(dir, 'in')]);
      const config = billingConfigFromEnv(RATES);
      const notices: string[] = [];
      const naive = await runEngine(runNaive, files, config);
      const spark = await runEngine((input) => runSpark(input, { client, onNotice: (m) => notices.push(m) }), files, config);
      expect(notices).toEqual([]);
      expect(spark.bill).toBe(naive.bill);
      expect(spark.usage).toEqual(naive.usage);
      expect(spark.rejects).toEqual(naive.rejects);
      expect(naive.counts.accepted).toBeGreaterThan(9000);
      // The session has them now, from the added jar.
      expect(await registerFunctions(client)).toEqual({ usable: true });
    } finally {
      await client.close();
    }
  });

  it('without a jar on this machine either: the SQL fast path, and a notice saying why', async () => {
    const client = new SparkConnectClient({ remote });
    try {
      const state = await registerFunctions(client, {}, { ...process.env, MR_CACHE_DIR: join(dir, 'empty-cache') });
      expect(state.usable).toBe(false);
      expect(state.usable ? '' : state.why).toMatch(/does not have mr's executor functions.*npm run spark:install/);
    } finally {
      await client.close();
    }
  });
});
