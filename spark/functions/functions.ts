/**
 * mr's Java functions on the Spark executors (the sources in ./java): the fast path of each
 * format as one pass over a line's bytes (DelimitedLine for the space format and CSV, JsonLine
 * for JSON lines), instead of a regular expression and a `split` per line (README "Spark
 * engine performance", fourth pass).
 *
 * - Built: `buildFunctionsJar` compiles the sources with the JDK's `javac` against Spark's own
 *   jars into `<cache>/functions/mr-spark-functions-<version>.jar`, once per version (the
 *   SHA-256 of the sources, also written into the jar). `mr spark up` gives that jar to the
 *   Connect server (`--jars`), which hands it to every executor; the Spark image of docker/
 *   builds the same jar into Spark's jars.
 * - Used: `registerFunctions` registers them in the job's session
 *   (`spark.udf.registerJavaFunction` over Spark Connect), from the cluster's class path or
 *   from this machine's jar added to the session, and says whether they are usable: this exact
 *   version, or none. Otherwise the job takes its SQL fast path, which bills the same and
 *   costs more (README decision 41).
 * - Rules: every limit the functions check is an argument packed here from
 *   engine/core/validation/rules.ts and the CSV header's layout (`delimitedLineCall`,
 *   `jsonLineCall`), never a constant of the Java code.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import {
  SparkConnectionError,
  SparkError,
  SparkInterruptedError,
  registerJavaFunction,
  sql,
  type ExecuteOptions,
  type SparkConnectClient,
} from '@mr/spark-connect';
import { mrCacheDir } from '../../engine/core/cache-dir.js';
import { shippedFile } from '../../engine/core/package-files.js';
import { FIELDS, RULES } from '../../engine/core/validation/rules.js';

const run = promisify(execFile);

/** The Java sources' package folder (copied into dist/ by `npm run build`). */
export const SOURCE_DIR = shippedFile('spark/functions/java/mr/spark/functions/');
const PACKAGE_PATH = 'mr/spark/functions';

/** The functions: SQL name, Java class, return type (DDL). */
export const FUNCTIONS = {
  version: { name: 'mr_functions_version', className: 'mr.spark.functions.Version', type: 'string' },
  delimitedLine: { name: 'mr_delimited_line', className: 'mr.spark.functions.DelimitedLine', type: 'struct<usr:string,task:string,du:bigint,sec:bigint>' },
  jsonLine: { name: 'mr_json_line', className: 'mr.spark.functions.JsonLine', type: 'struct<usr:string,task:string,du:bigint,sec:bigint>' },
} as const;

/** The Java sources, in name order. */
export function sourceFiles(): string[] {
  return readdirSync(SOURCE_DIR)
    .filter((f) => f.endsWith('.java'))
    .sort()
    .map((f) => join(SOURCE_DIR, f));
}

/**
 * The functions' version: the SHA-256 (hex) of the Java sources concatenated in name order,
 * what `find . -name '*.java' -printf '%f\n' | LC_ALL=C sort | xargs cat | sha256sum` prints in
 * their folder (docker/spark/Dockerfile). Read once per process: the shipped sources do not change.
 */
export function functionsVersion(): string {
  if (sourcesVersion === undefined) {
    const hash = createHash('sha256');
    for (const f of sourceFiles()) hash.update(readFileSync(f));
    sourcesVersion = hash.digest('hex');
  }
  return sourcesVersion;
}
let sourcesVersion: string | undefined;

/** Where the jar of this version lives in mr's cache. */
export function functionsJarPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(mrCacheDir(env), 'functions', `mr-spark-functions-${functionsVersion().slice(0, 16)}.jar`);
}

/**
 * Builds the functions' jar for `sparkHome` (its jars are the compile classpath) unless this
 * version is already in the cache; returns its path, or null when the JDK's `javac` and `jar`
 * are not there (the job then takes its SQL fast path).
 */
export async function buildFunctionsJar(sparkHome: string, env: Readonly<Record<string, string | undefined>>, log: (m: string) => void): Promise<string | null> {
  const jar = functionsJarPath(env);
  if (existsSync(jar)) return jar;
  const dir = join(mrCacheDir(env), 'functions');
  const tmp = join(dir, `.build-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'classes', PACKAGE_PATH), { recursive: true });
  try {
    await run('javac', ['--release', '17', '-nowarn', '-cp', join(sparkHome, 'jars', '*'), '-d', join(tmp, 'classes'), ...sourceFiles()]);
    writeFileSync(join(tmp, 'classes', PACKAGE_PATH, 'version'), `${functionsVersion()}\n`);
    await run('jar', ['cf', join(tmp, 'functions.jar'), '-C', join(tmp, 'classes'), '.']);
    renameSync(join(tmp, 'functions.jar'), jar);
    log(`built ${jar} (mr's executor functions)`);
    return jar;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      log('javac or jar not found: the spark engine will use its SQL fast path (install a JDK 17 for the faster one)');
      return null;
    }
    throw new Error(`building mr's executor functions failed: ${e.stderr?.trim() || e.message}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Why the functions are not used, or null when they are registered and usable. */
export type FunctionsState = { readonly usable: true } | { readonly usable: false; readonly why: string };

/**
 * Registers the functions in the client's session when the cluster can run this version of
 * them: from its class path (`mr spark up`, the Spark image), else from this machine's jar
 * (`functionsJarPath`, built by `npm run spark:install` or `mr spark up`) added to the session
 * as an artifact, which the driver and its executors then load. A cluster that has another
 * version on its class path, or no jar on either side, answers `usable: false` and why; a lost
 * connection or an interrupt is thrown as it is.
 */
export async function registerFunctions(
  client: SparkConnectClient,
  /** The run's signal, and its progress listener (the probe is a job, which may wait for cores). */
  opts: ExecuteOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<FunctionsState> {
  const { version, delimitedLine, jsonLine } = FUNCTIONS;
  const wanted = functionsVersion();
  /** The version the session can load ('' when none), or a Spark error. */
  const found = async (): Promise<string> => {
    try {
      await client.command(registerJavaFunction(version.name, version.className, version.type), opts);
      const t = await client.collect(sql(`SELECT ${version.name}() AS v`), opts);
      return String(t?.getChildAt(0)?.get(0) ?? '');
    } catch (err) {
      if (err instanceof SparkConnectionError || err instanceof SparkInterruptedError || !(err instanceof SparkError)) throw err;
      return '';
    }
  };
  let onCluster = await found();
  if (onCluster === '') {
    const jar = functionsJarPath(env);
    if (!existsSync(jar)) {
      return { usable: false, why: `the cluster does not have mr's executor functions, and this machine has no ${jar} to add (npm run spark:install builds it)` };
    }
    await client.addArtifacts([{ name: `jars/${basename(jar)}`, data: readFileSync(jar) }], opts);
    onCluster = await found();
  }
  if (onCluster !== wanted) {
    return {
      usable: false,
      why: `the cluster has mr's executor functions of another version (${onCluster.slice(0, 16) || 'none'}; this mr needs ${wanted.slice(0, 16)}): restart it with this mr (mr spark down; mr spark up)`,
    };
  }
  for (const f of [delimitedLine, jsonLine]) await client.command(registerJavaFunction(f.name, f.className, f.type), opts);
  return { usable: true };
}

/** Where a delimited format's fields are: the separator, the field count, each field's position, the request id's (-1: none). */
export interface DelimitedLayout {
  readonly format: 'space' | 'csv';
  readonly separator: string;
  readonly fieldCount: number;
  readonly timestamp: number;
  readonly user: number;
  readonly task: number;
  readonly status: number;
  readonly duration: number;
  readonly requestId: number;
}

/** The space format's layout, from the rules. */
export function spaceLayout(): DelimitedLayout {
  const at = (f: (typeof FIELDS)[number]) => FIELDS.indexOf(f);
  return {
    format: 'space',
    separator: RULES.space.commonSeparator,
    fieldCount: RULES.space.fieldCount,
    timestamp: at('timestamp'),
    user: at('user'),
    task: at('task'),
    status: at('status'),
    duration: at('duration'),
    requestId: -1,
  };
}

/** A layout DelimitedLine can read (one ASCII separator byte, at most 254 fields). */
export function fitsDelimitedLine(layout: DelimitedLayout): boolean {
  return layout.separator.length === 1 && layout.separator.charCodeAt(0) < 0x80 && layout.fieldCount < 255;
}

/** Little-endian fields, as the functions' Rules classes read them. */
class RulesBytes {
  private readonly parts: Buffer[] = [];
  int(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v | 0);
    this.parts.push(b);
    return this;
  }
  long(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt.asIntN(64, v));
    this.parts.push(b);
    return this;
  }
  /** An ASCII byte test as two 64-bit masks (bytes 0-63, 64-127). */
  mask(ok: (byte: number) => boolean): this {
    let lo = 0n;
    let hi = 0n;
    for (let x = 0; x < 128; x++) {
      if (!ok(x)) continue;
      if (x < 64) lo |= 1n << BigInt(x);
      else hi |= 1n << BigInt(x - 64);
    }
    return this.long(lo).long(hi);
  }
  bytes(text: string): this {
    const b = Buffer.from(text, 'utf8');
    this.int(b.length);
    this.parts.push(b);
    return this;
  }
  /** The SQL binary literal of the fields. */
  sql(): string {
    return `X'${Buffer.concat(this.parts).toString('hex').toUpperCase()}'`;
  }
}

/**
 * The value rules both functions read first (ValueRules.java): the user's bytes and length,
 * the status range, the calendar and clock, the duration's most digits; checked against the
 * shapes the functions read.
 */
function valueRules(): RulesBytes {
  const T = RULES.timestamp;
  if (T.commonShape !== '9999-99-99T99:99:99Z') throw new Error('executor functions: the common timestamp shape changed; update ValueRules.instant');
  if (T.month[0] !== 1 || T.month[1] !== 12 || T.daysInMonth.length !== 12) throw new Error('executor functions: months are not 1-12');
  if (T.hour[0] !== 0 || T.minute[0] !== 0 || T.second[0] !== 0) throw new Error('executor functions: the clock no longer starts at 0');
  const userChar = new RegExp(`^[${RULES.user.commonChars}]$`);
  const width = String(RULES.status.max).length;
  const statusMin = Math.max(RULES.status.min, 10 ** (width - 1));
  return new RulesBytes()
    .mask((x) => userChar.test(String.fromCharCode(x)))
    .int((RULES.user.minBytes << 16) | RULES.user.maxBytes)
    .int((statusMin << 16) | RULES.status.max)
    .long(T.daysInMonth.reduce((acc, n, i) => acc | (BigInt(n) << BigInt(5 * i)), 0n))
    .int((T.hour[1] << 16) | (T.minute[1] << 8) | T.second[1])
    .int(FAST_DIGITS);
}

/**
 * The DelimitedLine call on a BINARY line: its rules packed from the core's rules and the
 * layout (see DelimitedLine.java for their order). Throws when a rule left the shapes the
 * function reads.
 */
export function delimitedLineCall(line: string, layout: DelimitedLayout): string {
  if (!fitsDelimitedLine(layout)) throw new Error('delimitedLineCall: the layout does not fit DelimitedLine');
  if (RULES.requestId.minBytes !== 1) throw new Error('delimitedLineCall: a request id is no longer 1 byte or more; update DelimitedLine');
  const sep = layout.separator.charCodeAt(0);
  const positions = [layout.timestamp, layout.user, layout.task, layout.status, layout.duration, layout.requestId < 0 ? 255 : layout.requestId];
  const packed = positions.reduce((acc, p, i) => acc | (BigInt(p) << BigInt(8 * (i + 1))), BigInt(layout.fieldCount));
  const quote = 0x22;
  const comma = 0x2c;
  // A token (task, request id): printable ASCII but the separator, quotes and commas; any other
  // field: the same, spaces allowed (a CSV column the rules do not read).
  const token = (x: number) => x >= 0x21 && x <= 0x7e && x !== sep && x !== quote && x !== comma;
  const other = (x: number) => (x === 0x20 && sep !== 0x20) || token(x);
  const rules = valueRules()
    .int(sep)
    .long(packed)
    .int(RULES.duration.suffixRequired[layout.format] ? 1 : 0)
    .mask(token)
    .mask(other)
    .int(RULES.requestId.maxBytes)
    .bytes(RULES.duration.suffix);
  return `${FUNCTIONS.delimitedLine.name}(${line}, ${rules.sql()})`;
}

/**
 * The JsonLine call on a BINARY line: the common object's literal pieces from the rules' JSON
 * keys in the rules' field order, and the value rules (see JsonLine.java).
 */
export function jsonLineCall(line: string): string {
  if (FIELDS.join(',') !== 'timestamp,user,task,status,duration') throw new Error('jsonLineCall: the field order changed; update JsonLine');
  const key = (f: (typeof FIELDS)[number]) => JSON.stringify(RULES.jsonl.keys[f]);
  const pieces = [`{${key('timestamp')}:"`, `",${key('user')}:"`, `",${key('task')}:"`, `",${key('status')}:`, `,${key('duration')}:`, '}'];
  // A task string without escapes: printable ASCII but the quote and the backslash.
  const task = (x: number) => x >= 0x20 && x <= 0x7e && x !== 0x22 && x !== 0x5c;
  const rules = valueRules().mask(task);
  for (const p of pieces) rules.bytes(p);
  return `${FUNCTIONS.jsonLine.name}(${line}, ${rules.sql()})`;
}

/** Most digits of a duration on a fast path: far below 2^53, and below any MAX_DURATION_MS check's overflow. */
export const FAST_DIGITS = 15;
