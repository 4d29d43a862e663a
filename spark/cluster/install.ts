/**
 * Provisioning of a Spark distribution for the local cluster.
 *
 * Spark SPARK_VERSION (runs on Java 17) comes from the pyspark source distribution on PyPI,
 * fetched with pip, whose `deps/` folder holds Spark's jars (Spark Connect included),
 * `bin/spark-class`, `bin/spark-submit` and `sbin/`. It is downloaded once into a cache
 * outside the clone (`$MR_CACHE_DIR`, else `$XDG_CACHE_HOME/mr`, else `~/.cache/mr`) and
 * unpacked next to it as `spark-<version>/` (engine/core/cache-dir.ts), which later runs and CI reuse. `SPARK_HOME`
 * overrides all of it.
 *
 * The S3A connector (hadoop-aws matching Spark's hadoop-client 3.4.2, and the AWS SDK v2
 * bundle that hadoop-aws 3.4.2's pom names) is added to the distribution's jars by
 * ensureS3a(): fetched with Maven (`mvn dependency:copy`, checksums strict) and checked
 * against the SHA-256 pinned below, so that the cluster reads s3a:// itself.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
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
  if (isSparkHome(home) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === SPARK_VERSION) return ensureS3a(home, env, log);

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
  }).then((h) => ensureS3a(h, env, log));
}

/** The S3A connector's jars: Maven coordinates, file name, SHA-256. */
export const S3A_JARS: ReadonlyArray<{ readonly artifact: string; readonly file: string; readonly sha256: string }> = [
  { artifact: 'org.apache.hadoop:hadoop-aws:3.4.2', file: 'hadoop-aws-3.4.2.jar', sha256: 'd2d24e6b715b5656b9d238bf13b6682a07e2004dd36aad74a73aeb854319f4d9' },
  { artifact: 'software.amazon.awssdk:bundle:2.29.52', file: 'bundle-2.29.52.jar', sha256: '62638f33045690c6bc5e496b54b0b2e89a9ad38cbedacdf6e017fea6bc85f55c' },
];

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Adds the S3A connector to `home`'s jars when it is missing (a distribution of this cache
 * only: a SPARK_HOME of the user's is left as it is). Downloads with Maven into the cache,
 * verifies each jar's SHA-256, then copies it in; safe to call from several processes at once.
 */
export async function ensureS3a(home: string, env: Env, log: (m: string) => void): Promise<string> {
  const jars = join(home, 'jars');
  const missing = () => S3A_JARS.filter((j) => !existsSync(join(jars, j.file)));
  if (missing().length === 0) return home;
  const cache = mrCacheDir(env);
  return withLock(cache, async () => {
    const dir = join(cache, 's3a-jars');
    mkdirSync(dir, { recursive: true });
    for (const jar of missing()) {
      const file = join(dir, jar.file);
      if (!existsSync(file) || (await sha256Of(file)) !== jar.sha256) {
        log(`downloading ${jar.artifact} (the S3A connector) with Maven into ${dir}`);
        await runLogged('mvn', ['-q', '-B', '--strict-checksums', 'dependency:copy', `-Dartifact=${jar.artifact}`, `-DoutputDirectory=${dir}`], log);
      }
      const sum = await sha256Of(file);
      if (sum !== jar.sha256) throw new RunFailure(`${jar.artifact}: SHA-256 ${sum} is not the pinned ${jar.sha256}; not installed`);
      const tmp = join(jars, `.${jar.file}.${process.pid}`);
      copyFileSync(file, tmp);
      renameSync(tmp, join(jars, jar.file));
      log(`added ${jar.file} to ${jars}`);
    }
    return home;
  });
}
