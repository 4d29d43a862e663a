/**
 * Provisioning of a Spark distribution for the local cluster.
 *
 * Spark SPARK_VERSION (runs on Java 17) comes from the pyspark source distribution on PyPI,
 * fetched with pip, whose `deps/` folder holds Spark's jars (Spark Connect included),
 * `bin/spark-class`, `bin/spark-submit` and `sbin/`. It is downloaded once into a cache
 * outside the clone (`$MR_CACHE_DIR`, else `$XDG_CACHE_HOME/mr`, else `~/.cache/mr`) and
 * unpacked next to it as `spark-<version>/` (engine/core/cache-dir.ts), which later runs and CI reuse. `SPARK_HOME`
 * overrides all of it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mrCacheDir } from '../../engine/core/cache-dir.js';
import { RunFailure } from '../../engine/core/errors.js';

const run = promisify(execFile);

/** The pinned Spark version (pyspark on PyPI carries the same distribution). */
export const SPARK_VERSION = '4.1.1';
const MARKER = '.mr-spark-install';

export type Env = Readonly<Record<string, string | undefined>>;

/** Where the distribution lives: SPARK_HOME when set, else the cache's spark-<version>. */
export function sparkHome(env: Env = process.env): string {
  return env['SPARK_HOME'] || join(mrCacheDir(env), `spark-${SPARK_VERSION}`);
}

/** True when `home` looks like a usable Spark distribution. */
export function isSparkHome(home: string): boolean {
  return existsSync(join(home, 'bin', 'spark-class')) && existsSync(join(home, 'bin', 'spark-submit')) && existsSync(join(home, 'jars'));
}

/** The spark-connect jar of a distribution (it holds Spark's own .proto files). */
export function connectJar(home: string): string {
  const jars = join(home, 'jars');
  const name = readdirSync(jars).find((f) => /^spark-connect_2\.\d+-.*\.jar$/.test(f));
  if (name === undefined) throw new RunFailure(`no spark-connect jar in ${jars}: the Spark distribution is incomplete`);
  return join(jars, name);
}

export interface InstallOptions {
  readonly env?: Env;
  readonly log?: (message: string) => void;
}

async function javaMajor(): Promise<number> {
  let out: string;
  try {
    const r = await run('java', ['-version'], { encoding: 'utf8' });
    out = `${r.stdout}${r.stderr}`;
  } catch (err) {
    throw new RunFailure(`Java is needed for Spark and \`java\` is not on PATH (install a JDK 17 or 21): ${(err as Error).message}`);
  }
  const m = /version "(\d+)(?:\.(\d+))?/.exec(out);
  if (m === null) throw new RunFailure(`cannot read the Java version from: ${out.trim()}`);
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

/** Runs a command, its output passed to the log; rejects with the command's exit status. */
function runLogged(cmd: string, args: string[], log: (m: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onData = (b: Buffer) => {
      for (const line of b.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        log(`  ${line}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(new RunFailure(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new RunFailure(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${tail.join('\n')}`))));
  });
}

/** A cross-process lock (a directory); a lock older than 30 minutes is taken as stale. */
async function withLock<T>(dir: string, body: () => Promise<T>): Promise<T> {
  const lock = join(dir, '.install.lock');
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // raced with its owner removing it
      }
      if (Date.now() - started > 30 * 60_000) throw new RunFailure(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Makes sure a Spark distribution is there and returns its SPARK_HOME. Downloads and
 * unpacks only what is missing; safe to call from several processes at once.
 */
export async function ensureSpark(options: InstallOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  if (env['SPARK_HOME']) {
    const home = env['SPARK_HOME'];
    if (!isSparkHome(home)) throw new RunFailure(`SPARK_HOME=${home} is not a Spark distribution (no bin/spark-class, bin/spark-submit or jars/)`);
    return home;
  }
  const home = sparkHome(env);
  const marker = join(home, MARKER);
  if (isSparkHome(home) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === SPARK_VERSION) return home;

  const java = await javaMajor();
  if (java < 17) throw new RunFailure(`Spark ${SPARK_VERSION} needs Java 17 or newer; \`java\` is Java ${java}`);

  const cache = mrCacheDir(env);
  mkdirSync(cache, { recursive: true });
  return withLock(cache, async () => {
    if (isSparkHome(home) && existsSync(marker)) return home;
    const sdist = join(cache, `pyspark-${SPARK_VERSION}.tar.gz`);
    if (!existsSync(sdist)) {
      log(`downloading pyspark ${SPARK_VERSION} (Spark ${SPARK_VERSION} jars and scripts, about 450 MB) into ${cache}`);
      const python = env['PYTHON'] || 'python3';
      await runLogged(python, ['-m', 'pip', 'download', `pyspark==${SPARK_VERSION}`, '--no-deps', '--no-binary', ':all:', '--disable-pip-version-check', '-d', cache], log);
      if (!existsSync(sdist)) throw new RunFailure(`pip did not leave ${sdist}`);
    }
    const tmp = join(cache, `.spark-${SPARK_VERSION}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    log(`unpacking Spark ${SPARK_VERSION} into ${home}`);
    const deps = `pyspark-${SPARK_VERSION}/deps`;
    await runLogged('tar', ['-xzf', sdist, '-C', tmp, '--strip-components=2', `${deps}/bin`, `${deps}/sbin`, `${deps}/jars`], log);
    for (const dir of ['bin', 'sbin']) {
      for (const f of readdirSync(join(tmp, dir))) if (!f.endsWith('.cmd')) chmodSync(join(tmp, dir, f), 0o755);
    }
    mkdirSync(join(tmp, 'conf'), { recursive: true });
    writeFileSync(join(tmp, MARKER), `${SPARK_VERSION}\n`);
    rmSync(home, { recursive: true, force: true });
    renameSync(tmp, home);
    log(`Spark ${SPARK_VERSION} ready: SPARK_HOME=${home}`);
    return home;
  });
}
