/**
 * A local Spark cluster on 127.0.0.1: a standalone master, one worker and a Spark Connect
 * server (SparkConnectServer through spark-submit, driver in client mode on the master).
 * Logs and pid files are kept in a run directory. `sparkUp` is idempotent and waits until
 * Connect answers a query that runs on an executor; `sparkDown` stops exactly the
 * processes whose pid files `sparkUp` wrote (checked against their command line, so a
 * reused pid is never signalled); `sparkStatus` says what runs.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { RunFailure } from '../../engine/core/errors.js';
import { SparkConnectClient, acceptsConnections, sql, tasksWaiting } from '@mr/spark-connect';
import { mrCacheDir } from '../../engine/core/cache-dir.js';
import { intSetting } from '../../engine/core/config/integers.js';
import { ensureSpark, type Env } from './install.js';
import { buildFunctionsJar } from '../functions/functions.js';

export const HOST = '127.0.0.1';

export interface ClusterOptions {
  /** Environment for SPARK_* settings and the install location (default: process.env). */
  readonly env?: Env;
  /** Spark distribution; default: ensureSpark() (installs it when missing). */
  readonly sparkHome?: string;
  /** Logs and pid files; default: $MR_SPARK_RUN_DIR, else <cache>/spark-run. */
  readonly runDir?: string;
  readonly masterPort?: number;
  readonly masterWebUiPort?: number;
  readonly workerWebUiPort?: number;
  readonly connectPort?: number;
  /** Web UI of the Connect server's driver. */
  readonly driverUiPort?: number;
  /** Cores and memory the worker offers (default: all cores, 4g). */
  readonly workerCores?: number;
  readonly workerMemory?: string;
  /** How long `up` waits for Connect to answer (default 180 s). */
  readonly startTimeoutMs?: number;
  /**
   * Give the Connect server mr's executor functions' jar (default true). False starts a plain
   * Spark cluster, as a user's own would be: the job then adds the jar to its session.
   */
  readonly functions?: boolean;
  readonly log?: (message: string) => void;
}

interface Resolved {
  readonly env: Env;
  readonly runDir: string;
  readonly masterPort: number;
  readonly masterWebUiPort: number;
  readonly workerWebUiPort: number;
  readonly connectPort: number;
  readonly driverUiPort: number;
  readonly workerCores: number;
  readonly workerMemory: string;
  readonly startTimeoutMs: number;
  readonly log: (message: string) => void;
}

function resolveOptions(o: ClusterOptions): Resolved {
  const env = o.env ?? process.env;
  return {
    env,
    runDir: o.runDir ?? (env['MR_SPARK_RUN_DIR'] || join(mrCacheDir(env), 'spark-run')),
    masterPort: o.masterPort ?? intSetting(env, 'SPARK_MASTER_PORT', 7077, 1, 65535),
    masterWebUiPort: o.masterWebUiPort ?? intSetting(env, 'SPARK_MASTER_WEBUI_PORT', 8080, 1, 65535),
    workerWebUiPort: o.workerWebUiPort ?? intSetting(env, 'SPARK_WORKER_WEBUI_PORT', 8081, 1, 65535),
    connectPort: o.connectPort ?? intSetting(env, 'SPARK_CONNECT_PORT', 15002, 1, 65535),
    driverUiPort: o.driverUiPort ?? intSetting(env, 'SPARK_UI_PORT', 4040, 1, 65535),
    workerCores: o.workerCores ?? intSetting(env, 'SPARK_WORKER_CORES', availableParallelism(), 1),
    workerMemory: o.workerMemory ?? (env['SPARK_WORKER_MEMORY'] || `${sizeCluster(availableParallelism(), totalmem()).workerMemoryMiB}m`),
    startTimeoutMs: o.startTimeoutMs ?? 180_000,
    log: o.log ?? (() => undefined),
  };
}

export type ComponentName = 'master' | 'worker' | 'connect';
const COMPONENTS: readonly ComponentName[] = ['master', 'worker', 'connect'];
const MAIN_CLASS: Readonly<Record<ComponentName, string>> = {
  master: 'org.apache.spark.deploy.master.Master',
  worker: 'org.apache.spark.deploy.worker.Worker',
  connect: 'org.apache.spark.sql.connect.service.SparkConnectServer',
};

export interface ComponentStatus {
  readonly name: ComponentName;
  readonly pid: number | null;
  readonly running: boolean;
  readonly port: number;
  readonly log: string;
}

export interface ClusterStatus {
  readonly runDir: string;
  readonly remote: string;
  readonly masterUrl: string;
  /** The web UI (and its REST API, /api/v1) of the Connect server's driver. */
  readonly driverUiUrl: string;
  readonly components: readonly ComponentStatus[];
  /** Every component runs and Connect answered (status: a short probe). */
  readonly ready: boolean;
  /** Connect took the probe, but its tasks waited for an executor core until the probe's timeout. */
  readonly busy: boolean;
}

function pidFile(r: Resolved, name: ComponentName): string {
  return join(r.runDir, `${name}.pid`);
}

function logFile(r: Resolved, name: ComponentName): string {
  return join(r.runDir, `${name}.log`);
}

/** The pid from a component's pid file when that process still runs the component's main class. */
function livePid(r: Resolved, name: ComponentName): number | null {
  const file = pidFile(r, name);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes(MAIN_CLASS[name])) return pid;
    // An empty command line is a process in the middle of execve (spark-class execs java)
    // or a zombie; only the zombie is gone.
    if (cmdline === '') return processState(pid) === 'running' ? pid : null;
    return null;
  } catch {
    try {
      process.kill(pid, 0);
      return existsSync('/proc') ? null : pid; // no /proc: trust the pid file
    } catch {
      return null;
    }
  }
}

/** From /proc/<pid>/stat: a zombie or dead process is 'gone', anything else 'running'. */
function processState(pid: number): 'running' | 'gone' {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X' || state === 'x' ? 'gone' : 'running';
  } catch {
    return 'gone';
  }
}

function portOf(r: Resolved, name: ComponentName): number {
  return name === 'master' ? r.masterPort : name === 'worker' ? r.workerWebUiPort : r.connectPort;
}

function portOpen(port: number, timeoutMs = 500): Promise<boolean> {
  return tcpAnswers(HOST, port, timeoutMs);
}

/** True when a TCP connection to host:port opens within the timeout. */
export function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** What `mr spark up` gives the cluster on a machine with these cores and bytes of memory. */
export interface ClusterSizing {
  readonly workerMemoryMiB: number;
  readonly executorCores: number;
  readonly executorMemoryMiB: number;
  readonly driverMemoryMiB: number;
  readonly shufflePartitions: number;
}

/**
 * Sizes the local cluster to the machine: one executor with every core (one JVM: one JIT,
 * one copy of the code, no executor-to-executor shuffle over the loopback), a quarter of the
 * machine's memory for the worker (the rest for the OS page cache that serves the input,
 * the driver, mr itself and other work), the executor taking all of it less its overhead, and two shuffle
 * partitions per core (the billing job's aggregate is small; AQE coalesces them further).
 */
export function sizeCluster(cores: number, memoryBytes: number): ClusterSizing {
  const mib = Math.floor(memoryBytes / 1048576);
  const workerMemoryMiB = Math.max(1024, Math.min(32 * 1024, Math.floor(mib / 4)));
  // Spark adds max(384 MiB, 10%) of overhead to the heap it is asked for.
  const executorMemoryMiB = Math.max(512, Math.floor((workerMemoryMiB - 384) / 1.1));
  const driverMemoryMiB = Math.max(1024, Math.min(4096, Math.floor(mib / 8)));
  return { workerMemoryMiB, executorCores: Math.max(1, cores), executorMemoryMiB, driverMemoryMiB, shufflePartitions: Math.max(2, cores * 2) };
}

/**
 * Session-independent settings that matter for the billing job (README "Spark engine
 * performance"). The generated whole-stage code of the billing query has methods over
 * HotSpot's 8,000-byte JIT limit (the exact path's rules are compiled into the same method
 * as the fast path); without -XX:-DontCompileHugeMethods they run interpreted, 3-4x slower.
 */
export function jobConf(sizing: ClusterSizing, workerCores: number, workerMemoryMiB: number): Record<string, string> {
  const executorCores = Math.min(sizing.executorCores, workerCores);
  const worker = Number.isFinite(workerMemoryMiB) ? workerMemoryMiB : sizing.workerMemoryMiB;
  // The executor must fit in what the worker offers, or it never starts.
  const executorMemoryMiB = Math.max(512, Math.floor((worker - 384) / 1.1));
  return {
    'spark.executor.cores': String(executorCores),
    'spark.executor.memory': `${executorMemoryMiB}m`,
    'spark.driver.memory': `${sizing.driverMemoryMiB}m`,
    'spark.sql.shuffle.partitions': String(Math.max(2, workerCores * 2)),
    'spark.sql.adaptive.enabled': 'true',
    'spark.sql.adaptive.coalescePartitions.enabled': 'true',
    // 128 MiB splits: a 1 GiB file is 8 tasks, 4 per core; smaller splits only add task overhead.
    'spark.sql.files.maxPartitionBytes': '128m',
    // The driver's UI store keeps every SQL execution's plan text; the billing query's plan is
    // large, and a long-lived Connect server filled its heap with them: keep few, and short.
    'spark.sql.ui.retainedExecutions': '20',
    'spark.ui.retainedJobs': '100',
    'spark.ui.retainedStages': '200',
    'spark.sql.maxPlanStringLength': '65536',
  };
}

/** Memory text (`4g`, `512m`) → MiB; NaN when not understood. */
export function memoryMiB(text: string): number {
  const m = /^(\d+)([kmgt]?)b?$/i.exec(text.trim());
  if (m === null) return NaN;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  return unit === 'k' ? n / 1024 : unit === 'm' || unit === '' ? n : unit === 'g' ? n * 1024 : n * 1024 * 1024;
}

/** spark-submit --conf settings from the environment, as in the original project. */
export function sparkConfFromEnv(env: Env): Record<string, string> {
  const conf: Record<string, string> = {};
  const set = (key: string, envKey: string) => {
    const v = env[envKey];
    if (v !== undefined && v.trim() !== '') conf[key] = v.trim();
  };
  set('spark.executor.memory', 'SPARK_EXECUTOR_MEMORY');
  set('spark.executor.cores', 'SPARK_EXECUTOR_CORES');
  set('spark.driver.memory', 'SPARK_DRIVER_MEMORY');
  set('spark.app.name', 'SPARK_APP_NAME');
  const dyn: Array<[string, string]> = [
    ['spark.dynamicAllocation.minExecutors', 'SPARK_DYNAMIC_ALLOCATION_MIN_EXECUTORS'],
    ['spark.dynamicAllocation.initialExecutors', 'SPARK_DYNAMIC_ALLOCATION_INITIAL_EXECUTORS'],
    ['spark.dynamicAllocation.maxExecutors', 'SPARK_DYNAMIC_ALLOCATION_MAX_EXECUTORS'],
    ['spark.dynamicAllocation.executorIdleTimeout', 'SPARK_DYNAMIC_ALLOCATION_EXECUTOR_IDLE_TIMEOUT'],
  ];
  for (const [key, envKey] of dyn) set(key, envKey);
  const enabled = env['SPARK_DYNAMIC_ALLOCATION_ENABLED']?.trim().toLowerCase();
  if (enabled === 'true' || (enabled !== 'false' && dyn.some(([, k]) => env[k] !== undefined && env[k]!.trim() !== ''))) {
    conf['spark.dynamicAllocation.enabled'] = 'true';
    // Standalone without an external shuffle service: executors are released once their shuffle data is unused.
    conf['spark.dynamicAllocation.shuffleTracking.enabled'] = 'true';
  }
  if (env['SPARK_EVENT_LOG_ENABLED']?.trim() === 'true' && env['SPARK_EVENT_LOG_DIR']) {
    conf['spark.eventLog.enabled'] = 'true';
    conf['spark.eventLog.dir'] = env['SPARK_EVENT_LOG_DIR'];
  }
  return conf;
}

function commandFor(r: Resolved, home: string, name: ComponentName, jar: string | null): { cmd: string; args: string[] } {
  const master = `spark://${HOST}:${r.masterPort}`;
  switch (name) {
    case 'master':
      return { cmd: join(home, 'bin', 'spark-class'), args: [MAIN_CLASS.master, '--host', HOST, '--port', String(r.masterPort), '--webui-port', String(r.masterWebUiPort)] };
    case 'worker':
      return {
        cmd: join(home, 'bin', 'spark-class'),
        args: [MAIN_CLASS.worker, master, '--host', HOST, '--webui-port', String(r.workerWebUiPort), '--cores', String(r.workerCores), '--memory', r.workerMemory, '--work-dir', join(r.runDir, 'work')],
      };
    case 'connect': {
      const conf: Record<string, string> = {
        'spark.app.name': 'mr-spark-connect',
        'spark.driver.host': HOST,
        'spark.driver.bindAddress': HOST,
        'spark.ui.port': String(r.driverUiPort),
        'spark.connect.grpc.binding.address': HOST,
        'spark.connect.grpc.binding.port': String(r.connectPort),
        ...jobConf(sizeCluster(availableParallelism(), totalmem()), r.workerCores, memoryMiB(r.workerMemory)),
        ...sparkConfFromEnv(r.env),
      };
      // mr's executor functions (spark/functions): on the driver's classpath and shipped to every executor.
      const args = ['--class', MAIN_CLASS.connect, '--master', master, ...(jar === null ? [] : ['--jars', jar])];
      for (const [k, v] of Object.entries(conf)) args.push('--conf', `${k}=${v}`);
      return { cmd: join(home, 'bin', 'spark-submit'), args };
    }
  }
}

/**
 * The environment of a Spark daemon: the process's own, with the settings file's Spark and
 * Java variables (SPARK_*, JAVA_*, HADOOP_*) over it, and never SPARK_REMOTE, from either:
 * spark-submit refuses to start the Connect server with a remote as well as a master. The
 * file's other keys (rates, AWS credentials, mr's own settings) are the billing run's, not the
 * cluster's: the spark engine hands S3A its credentials per session (s3aSessionConf).
 */
export function daemonEnv(own: Env, file: Env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(own)) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(file)) if (v !== undefined && /^(SPARK|JAVA|HADOOP)_/.test(k)) env[k] = v;
  delete env['SPARK_REMOTE'];
  return env;
}

/** A component this process started: its pid, and whether it has exited (from the child's own exit event). */
interface Started {
  readonly pid: number;
  exited(): string | null;
}

async function startComponent(r: Resolved, home: string, name: ComponentName, jar: string | null): Promise<Started> {
  const { cmd, args } = commandFor(r, home, name, jar);
  const out = openSync(logFile(r, name), 'a');
  try {
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ['ignore', out, out],
      cwd: r.runDir,
      env: {
        ...daemonEnv(process.env, r.env),
        SPARK_HOME: home,
        SPARK_LOCAL_IP: HOST,
        SPARK_LOCAL_HOSTNAME: 'localhost',
        SPARK_MASTER_OPTS: `${r.env['SPARK_MASTER_OPTS'] ?? ''} -Dspark.master.rest.enabled=false`.trim(),
        SPARK_LOG_DIR: r.runDir,
        SPARK_PID_DIR: r.runDir,
      },
    });
    let exit: string | null = null;
    child.once('exit', (code, signal) => {
      exit = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
    });
    child.once('error', (err) => {
      exit = err.message;
    });
    const pid = child.pid;
    if (pid === undefined) throw new RunFailure(`cannot start Spark ${name} (${cmd})`);
    child.unref();
    writeFileSync(pidFile(r, name), `${pid}\n`);
    return { pid, exited: () => exit };
  } finally {
    closeSync(out);
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Polls `check` until it holds. A component started here has failed when its own exit event
 * fired; one started earlier (by another `up`) when its pid file no longer names it.
 */
async function waitFor(what: string, r: Resolved, name: ComponentName, deadline: number, check: () => Promise<boolean>, started?: Started): Promise<void> {
  for (;;) {
    if (await check()) return;
    const exit = started !== undefined ? started.exited() : livePid(r, name) === null ? 'gone' : null;
    if (exit !== null) {
      throw new RunFailure(`Spark ${name} exited while starting (${exit}); see ${logFile(r, name)}:\n${tail(logFile(r, name))}`);
    }
    if (Date.now() > deadline) throw new RunFailure(`timed out waiting for ${what}; see ${logFile(r, name)}:\n${tail(logFile(r, name))}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** Asks Connect for a query that needs an executor; true when it answers. */
export async function connectAnswers(remote: string, timeoutMs: number): Promise<boolean> {
  return (await connectState(remote, timeoutMs)) === 'answering';
}

/**
 * Asks Connect for a query that needs an executor: `answering` when it ran; `busy` when Connect
 * took it but its progress reports said its tasks waited with none running until the timeout
 * (every executor core held by other jobs, or no executor yet); `silent` otherwise.
 */
export async function connectState(remote: string, timeoutMs: number): Promise<'answering' | 'busy' | 'silent'> {
  const client = new SparkConnectClient({ remote, connectTimeoutMs: Math.min(timeoutMs, 5000) });
  let waiting = false;
  try {
    const t = await client.collect(sql('SELECT count(*) AS n FROM range(0, 4, 1, 2)'), {
      timeoutMs,
      onProgress: (p) => (waiting = tasksWaiting(p)),
    });
    return t !== null && Number(t.getChildAt(0)?.get(0)) === 4 ? 'answering' : 'silent';
  } catch {
    return waiting ? 'busy' : 'silent';
  } finally {
    await client.close();
  }
}

/** Starts what is not running yet and waits until Spark Connect answers. */
export async function sparkUp(options: ClusterOptions = {}): Promise<ClusterStatus> {
  const r = resolveOptions(options);
  const home = options.sparkHome ?? (await ensureSpark({ env: r.env, log: r.log }));
  const jar = options.functions === false ? null : await buildFunctionsJar(home, r.env, r.log);
  mkdirSync(join(r.runDir, 'work'), { recursive: true });
  const deadline = Date.now() + r.startTimeoutMs;
  const remote = `sc://${HOST}:${r.connectPort}`;
  const startedHere: Partial<Record<ComponentName, Started>> = {};
  for (const name of COMPONENTS) {
    if (livePid(r, name) !== null) {
      r.log(`spark ${name}: already running (pid ${livePid(r, name)})`);
      continue;
    }
    const port = portOf(r, name);
    if (await portOpen(port)) {
      throw new RunFailure(`port ${HOST}:${port} for the Spark ${name} is already in use by another process; stop it or choose other ports`);
    }
    const started = await startComponent(r, home, name, jar);
    startedHere[name] = started;
    r.log(`spark ${name}: started (pid ${started.pid}, log ${logFile(r, name)})`);
    if (name === 'master') await waitFor(`the Spark master on ${HOST}:${r.masterPort}`, r, name, deadline, () => portOpen(r.masterPort), started);
    if (name === 'worker') await waitFor(`the Spark worker`, r, name, deadline, () => portOpen(r.workerWebUiPort), started);
  }
  await waitFor(`Spark Connect at ${remote}`, r, 'connect', deadline, () => connectAnswers(remote, 30_000), startedHere.connect);
  r.log(`spark connect: answering at ${remote}`);
  return sparkStatus({ ...options, runDir: r.runDir }, { probe: false, ready: true });
}

/** Stops the components `sparkUp` started (connect, worker, master), waiting for each to exit. */
export async function sparkDown(options: ClusterOptions = {}): Promise<{ stopped: ComponentName[] }> {
  const r = resolveOptions(options);
  const stopped: ComponentName[] = [];
  for (const name of [...COMPONENTS].reverse()) {
    const pid = livePid(r, name);
    if (pid !== null) {
      r.log(`spark ${name}: stopping (pid ${pid})`);
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (livePid(r, name) !== null && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
      if (livePid(r, name) !== null) {
        r.log(`spark ${name}: did not stop on SIGTERM, killing`);
        process.kill(pid, 'SIGKILL');
        while (livePid(r, name) !== null) await new Promise((res) => setTimeout(res, 100));
      }
      stopped.push(name);
    }
    rmSync(pidFile(r, name), { force: true });
  }
  return { stopped };
}

/** How long `mr spark status` gives Connect to run its probe job. */
const STATUS_PROBE_MS = 10_000;

/** What runs: each component's pid, and (with probe) whether Connect answers. */
export async function sparkStatus(options: ClusterOptions = {}, how: { probe?: boolean; ready?: boolean } = {}): Promise<ClusterStatus> {
  const r = resolveOptions(options);
  const components = COMPONENTS.map((name): ComponentStatus => {
    const pid = livePid(r, name);
    return { name, pid, running: pid !== null, port: portOf(r, name), log: logFile(r, name) };
  });
  const remote = `sc://${HOST}:${r.connectPort}`;
  const allRunning = components.every((c) => c.running);
  // Asked whether Connect answers, with no record of this run directory's daemons (another
  // --run-dir, a server started otherwise): its port is asked all the same once something
  // accepts connections there (nothing there: said at once, not after the connect timeout).
  const probe = (how.probe ?? true) && (allRunning || (await acceptsConnections(HOST, r.connectPort)));
  const state = how.ready === true ? 'answering' : probe && how.ready === undefined ? await connectState(remote, STATUS_PROBE_MS) : 'silent';
  return {
    runDir: r.runDir,
    remote,
    masterUrl: `spark://${HOST}:${r.masterPort}`,
    driverUiUrl: `http://${HOST}:${r.driverUiPort}`,
    components,
    ready: state === 'answering',
    busy: state === 'busy',
  };
}

/** A human summary of a status, one line per component. */
export function formatStatus(s: ClusterStatus): string {
  const lines = s.components.map((c) => `${c.name.padEnd(8)} ${c.running ? `running  pid ${c.pid}` : 'stopped'}  port ${c.port}  log ${c.log}`);
  lines.push(
    s.ready
      ? `connect  answering at ${s.remote}`
      : s.busy
        ? `connect  answering at ${s.remote}, but its probe job waited ${STATUS_PROBE_MS / 1000} s for an executor core: other jobs hold every core (the driver's UI, ${s.driverUiUrl}, shows them)`
        : `connect  not answering at ${s.remote}`,
  );
  return lines.join('\n');
}
