/**
 * The spark engine: the billing contract computed in a Spark cluster through Spark Connect.
 *
 * The input files are read by the cluster (`text` source, lineSep "\n", gzip by extension):
 * local paths are made absolute for the local cluster, URIs (s3a://…) are passed as they
 * are. One SQL query (billing-sql.ts) applies every rule and groups by (user, task); the
 * client gets back the usage rows, the out-of-window count, one row per reject and the CSV
 * header of each CSV file. The bill itself is made by the common finalize/output code from
 * the BillingResult returned here, as for the other engines.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { RunInput } from '../../engine/core/billing/run.js';
import { UsageTable, UserUsage, countUnknownTask, emptyCounts, type BillingResult, type RunCounts, type SortedUsage } from '../../engine/core/billing/usage.js';
import { csvLayout, type CsvLayout } from '../../engine/core/formats/csv.js';
import { LineFramer, bomLength, isBlank } from '../../engine/core/formats/lines.js';
import type { InputFile } from '../../engine/core/input/discover.js';
import { readChunks } from '../../engine/core/input/read.js';
import { RULES } from '../../engine/core/validation/rules.js';
import type { RejectReason } from '../../engine/core/validation/reasons.js';
import { InputError, RunFailure, UsageError, cannotRead } from '../../engine/core/errors.js';
import { resolvedPath } from '../../engine/core/resolved-path.js';
import { unwrapLine, type Wrapping } from '../../engine/core/formats/wrapped.js';
import { SparkConnectClient, createTempView, project, readFiles, resolveRemote, sql, utf8Text, type ExecuteOptions, type SqlValue } from '@mr/spark-connect';
import { ClusterProgress, IDLE_NOTICE_MS } from './progress.js';
import { s3aSession, type S3aSession } from './s3a-session.js';
import { asRunFailure, asRunFailures } from './failure.js';
import { registerFunctions } from '../functions/functions.js';
import { billingQuery, csvView, JSONL_VIEW, KIND, SPACE_VIEW, type QuerySources } from './billing-sql.js';
import { dedupeQuery } from './dedupe-sql.js';
import { CONFLICT_EXAMPLES, DEFAULT_DEDUPE } from '../../engine/core/dedupe/dedupe.js';

export interface SparkEngineOptions {
  /** Spark Connect address (default: SPARK_REMOTE, then sc://127.0.0.1:15002). */
  readonly remote?: string;
  /** An already connected client to reuse (tests); it is left open. */
  readonly client?: SparkConnectClient;
  /** Milliseconds to wait for the Connect server to answer (default 5000). */
  readonly connectTimeoutMs?: number;
  /**
   * Use mr's executor functions when the cluster has them (spark/functions; default: true,
   * or false when MR_SPARK_FUNCTIONS=off). Without them the job takes its SQL fast path.
   */
  readonly functions?: boolean;
  /** Told why the executor functions are not used, when they are not, and when the cluster runs none of the job's tasks for a while (the CLI logs these as warnings). */
  readonly onNotice?: (message: string) => void;
  /** How long the job may wait with none of its tasks running before onNotice says so (default IDLE_NOTICE_MS). */
  readonly idleNoticeMs?: number;
  /** Print the job's phases and their seconds on stderr (default: MR_SPARK_TRACE=1 in the environment; the CLI passes the env file's too). */
  readonly trace?: boolean;
}

/** Session settings the query relies on. */
export const SESSION_CONF: Readonly<Record<string, string>> = {
  // Casts and arithmetic on malformed input give NULL (then a reject), never a query failure.
  'spark.sql.ansi.enabled': 'false',
  // JSON.parse keeps the last of duplicate keys; so does parse_json with this setting.
  'spark.sql.variant.allowDuplicateKeys': 'true',
  // Malformed input is a run failure, never a silently smaller bill.
  'spark.sql.files.ignoreCorruptFiles': 'false',
  'spark.sql.files.ignoreMissingFiles': 'false',
  // Progress reports (the bar, the notice of a job waiting for cores: progress.ts) every second, not every 2 s.
  'spark.connect.progress.reportInterval': '1s',
};

const GLOB_CHARS = /[\\{}[\]*?]/g;
const escapeGlob = (path: string) => path.replace(GLOB_CHARS, (c) => `\\${c}`);

/**
 * The path of a local file as the cluster is given it: absolute, with no `.`, `..` or empty
 * part, naming the file the other engines open. Hadoop resolves those parts as text, which is
 * exact for `.` and empty parts but not for `..` after a link: `link/../api.log` is `api.log`
 * in the folder above the link's target to the file system, beside the link to Hadoop (another
 * file's lines, or none). So a path with `..` is given by its folder as the file system
 * resolves it (the C library's realpath, through links) and its own name as named; any other
 * path keeps its folders as spelled (a cluster may share the inputs' volume under that
 * spelling only). The own name stays (a link's, not its target's): it decides gzip and what
 * Spark skips, as it does in the other engines (checkWrappedNames, checkClusterNames).
 */
function localClusterPath(path: string, folders: Map<string, string>): string {
  try {
    return resolvedPath(isAbsolute(path) ? path : `${process.cwd()}/${path}`, folders);
  } catch (err) {
    throw cannotRead(path, err);
  }
}

/** The path the cluster reads for an S3 object: through Hadoop's S3A connector, under the run's scheme (s3aSession: `s3a://bucket/key` or `mrs3a-…://bucket/key`), glob characters escaped. */
export function clusterPathOf(file: InputFile, s3aScheme = 's3a'): string {
  if (file.s3 === undefined) throw new Error(`${file.path} is not an object in S3`);
  return `${s3aScheme}://${file.s3.bucket}/${escapeGlob(file.s3.key)}`;
}

/** The local path of a `file:` URI as Spark reports it (`file:/a/b%20c.log`), else the text itself. */
function localPathOf(sparkPath: string): string {
  if (!sparkPath.startsWith('file:')) return sparkPath;
  try {
    return fileURLToPath(new URL(sparkPath));
  } catch {
    return sparkPath;
  }
}

/** The paths the cluster is given for the inputs (glob characters escaped), and its file names mapped back to the InputFile they came from. */
class FileIndex {
  private readonly byKey = new Map<string, number>();
  private readonly paths: string[];

  constructor(
    private readonly files: readonly InputFile[],
    /** The scheme the session reads objects through (S3aSession). */
    s3aScheme: string,
  ) {
    const folders = new Map<string, string>();
    this.paths = files.map((f, i) => {
      if (f.s3 !== undefined) {
        this.byKey.set(`${s3aScheme}://${f.s3.bucket}/${f.s3.key}`, i);
        return clusterPathOf(f, s3aScheme);
      }
      const local = localClusterPath(f.path, folders);
      this.byKey.set(local, i);
      return escapeGlob(local);
    });
  }

  /** The path the cluster reads for the input at `i`. */
  clusterPath(i: number): string {
    return this.paths[i]!;
  }

  indexOf(sparkPath: string): number {
    const i = this.byKey.get(FileIndex.keyOf(sparkPath)) ?? this.byKey.get(sparkPath);
    if (i === undefined) throw new RunFailure(`spark engine: the cluster read a file that was not asked for: ${sparkPath}`);
    return i;
  }

  /**
   * The name a cluster's file name is indexed by. Spark reports a file as a URI, percent-encoded
   * (`s3a://b/api%20log.jsonl` for the key `api log.jsonl`, `a%23b` for `a#b`, and
   * `api%2520log.jsonl` for the key `api%20log.jsonl`): decoded whole, never looked up as
   * written first, so a key that looks encoded never takes its twin's place.
   */
  private static keyOf(sparkPath: string): string {
    if (sparkPath.startsWith('file:')) return localPathOf(sparkPath);
    try {
      return decodeURIComponent(sparkPath);
    } catch {
      return sparkPath; // not percent-encoded text: as written
    }
  }

  file(i: number): InputFile {
    return this.files[i]!;
  }
}

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

interface RejectRow {
  readonly file: number;
  readonly bs: bigint;
  readonly id: bigint;
  readonly reason: RejectReason;
  readonly raw: Uint8Array;
}

/**
 * Sets the session configuration the billing query needs, in one Spark Connect Config call.
 * Not as SQL `SET` statements: each of those is an execution of its own (a job, about 40 ms),
 * and its plan, value included, is shown in the Spark UI's SQL tab and its REST API, S3A's
 * secret key too.
 */
async function configureSession(client: SparkConnectClient, signal: AbortSignal, s3a: S3aSession): Promise<void> {
  await client.setConf({ ...SESSION_CONF, ...s3a.conf }, { signal });
}

/** Runs the billing job in the cluster and returns counts and usage for the common finalize step. */
export async function runSpark(input: RunInput, options: SparkEngineOptions = {}): Promise<BillingResult> {
  const owned = options.client === undefined;
  let client: SparkConnectClient;
  try {
    client =
      options.client ??
      new SparkConnectClient({
        remote: resolveRemote(options.remote),
        ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      });
  } catch (err) {
    throw asRunFailure(err); // an invalid connection string
  }
  const close = async () => {
    if (owned) await client.close();
  };
  try {
    return await runWith(client, input, close, {
      functions: options.functions ?? process.env['MR_SPARK_FUNCTIONS'] !== 'off',
      notice: options.onNotice ?? (() => undefined),
      idleNoticeMs: options.idleNoticeMs ?? IDLE_NOTICE_MS,
      trace: phaseTracer(options.trace ?? process.env['MR_SPARK_TRACE'] === '1'),
    });
  } catch (err) {
    await close();
    throw asRunFailure(err);
  }
}

/** An engine runner bound to a remote, shaped like the other engines' (RunInput → BillingResult). */
export function sparkEngine(options: SparkEngineOptions = {}): (input: RunInput) => Promise<BillingResult> {
  return (input) => runSpark(input, options);
}

/**
 * Hadoop's text source picks a decompressor by the file name's extension, in any case
 * (`.BZ2` is bzip2 to it; its codecs: BZip2, Default/Deflate, Gzip, Lz4, Snappy, ZStandard),
 * never by the bytes.
 */
const CODEC_EXTENSIONS = ['.gz', '.bz2', '.deflate', '.lz4', '.snappy', '.zst'];

/** The way out of a file name the cluster would read otherwise than the other engines (decisions 39 and 45). */
const WAY_OUT = 'rename it, or bill it with the parallel or naive engine';

/**
 * --wrapped reads every file whatever its name, gzip told by its bytes; the cluster tells gzip
 * by the name. Where the two disagree (a gzip object without `.gz`, or a name with a codec's
 * extension on bytes that are not gzip) the cluster would read other bytes than the other
 * engines: the run is refused (exit 2, README decision 39), naming the file.
 */
export function checkWrappedNames(files: readonly InputFile[]): void {
  for (const f of files) {
    if (f.wrapped === undefined) continue;
    const name = f.s3?.key ?? f.path;
    const lower = name.toLowerCase();
    const codec = CODEC_EXTENSIONS.find((ext) => lower.endsWith(ext));
    if (f.gzip && codec !== '.gz') {
      throw new UsageError(`the spark engine reads gzip by the name's .gz, and ${f.path} is gzip without it: ${WAY_OUT}`);
    }
    if (!f.gzip && codec !== undefined) {
      throw new UsageError(`the spark engine would decompress ${f.path} by its name's ${name.slice(-codec.length)}, but it is ${codec === '.gz' ? 'not gzip' : 'not read compressed by mr'}: ${WAY_OUT}`);
    }
  }
}

/**
 * Names the cluster would not read as named (README decision 45), so that a spark run reads
 * exactly the files the other engines read, or is refused before the cluster reads anything
 * (exit 2, naming the first such file, with the way out):
 * - Spark's file sources skip a file whose name begins with `.`, or with `_` unless it holds a
 *   `=` (a partition directory's sign), or ends in `._COPYING_` (a copy in progress), even when
 *   the file is named by its full path: its lines would silently be left out of the bill;
 * - Hadoop's paths resolve an empty, `.` or `..` segment of an S3 key (`a//b`, `a/./b`,
 *   `a/../b`), so the cluster would read another object, or none;
 * - Hadoop reads no local file with `:` in its name (the read fails with Hadoop's own message;
 *   a folder's `:` is read, as is an S3 key's).
 */
export function checkClusterNames(files: readonly InputFile[]): void {
  for (const f of files) {
    const path = f.s3?.key ?? f.path;
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (name.startsWith('.') || (name.startsWith('_') && !name.includes('=')) || name.endsWith('._COPYING_')) {
      throw new UsageError(`the spark engine cannot read ${f.path}: Spark skips files whose names begin with '.' or '_' (or end in ._COPYING_); ${WAY_OUT}`);
    }
    if (f.s3?.keysBelow === true) {
      throw new UsageError(`the spark engine cannot read ${f.path}: other keys lie under ${f.s3.key}/, so Hadoop reads it as that folder, not as the object; ${WAY_OUT}`);
    }
    if (f.s3 !== undefined && f.s3.key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new UsageError(`the spark engine cannot read ${f.path}: Hadoop resolves the empty, '.' or '..' parts of its key to another key; ${WAY_OUT}`);
    }
    if (f.s3 === undefined && name.includes(':')) {
      throw new UsageError(`the spark engine cannot read ${f.path}: Hadoop reads no local file with ':' in its name; ${WAY_OUT}`);
    }
  }
}

/**
 * The cluster reads the files with its own rights, not mr's: a file the user running mr may
 * not read (mode 600, another owner) would be billed, and its lines copied into the rejects,
 * where the other engines fail with exit 1. Each local file is opened here first, as they
 * would open it.
 */
export async function checkReadable(files: readonly InputFile[], signal?: AbortSignal): Promise<void> {
  for (const f of files) {
    signal?.throwIfAborted();
    if (f.s3 !== undefined || f.stream !== undefined) continue;
    try {
      // O_NONBLOCK, as the other engines' reader opens (core/input/read.ts): a path replaced
      // by a FIFO after discovery must fail, not block this open forever.
      await (await open(f.readPath ?? f.path, constants.O_RDONLY | constants.O_NONBLOCK)).close();
    } catch (err) {
      throw cannotRead(f.path, err);
    }
  }
}

/**
 * Hadoop reads a zero-byte `.gz` as a file of no lines; to the other engines it is no gzip
 * stream, a corrupt input (README "Empty input"): exit 1 naming it as they do (zlib's words),
 * before the cluster reads.
 */
export function checkGzipNotEmpty(files: readonly InputFile[]): void {
  for (const f of files) {
    if (f.gzip && f.size === 0) throw cannotRead(f.path, 'corrupt gzip stream (unexpected end of file)');
  }
}

/**
 * A CSV file's header row as the core reads it: the first non-blank line (BOM dropped); null
 * when there is none. Wrapped (--wrapped): the first line that unwraps to a non-blank inner
 * line, which is the header; `raw` is that line as read (what a reject of it would show).
 */
export async function readCsvHeader(file: InputFile, signal?: AbortSignal): Promise<Buffer | null> {
  return (await readCsvHeaderLine(file, signal))?.header ?? null;
}

async function readCsvHeaderLine(file: InputFile, signal?: AbortSignal, wrapping?: Wrapping): Promise<{ header: Buffer; raw: Buffer } | null> {
  let header: Buffer | null = null;
  let raw: Buffer | null = null;
  let tooLong = false;
  const framer = new LineFramer({
    line(offset, bytes) {
      if (header !== null || tooLong) return;
      const b = offset === 0 ? bytes.subarray(bomLength(bytes)) : bytes;
      if (isBlank(b)) return;
      if (wrapping === undefined) {
        header = raw = Buffer.from(b);
        return;
      }
      const u = unwrapLine(b, wrapping);
      if (Buffer.isBuffer(u)) {
        header = Buffer.from(u);
        raw = Buffer.from(b);
      }
    },
    tooLong() {
      if (header === null) tooLong = true;
    },
  });
  for await (const chunk of readChunks(file, undefined, signal === undefined ? {} : { signal })) {
    framer.push(chunk);
    if (header !== null || tooLong) break;
  }
  if (header === null && !tooLong) framer.end();
  if (tooLong) throw new InputError(`${file.path}: the CSV header row is longer than 64 KiB`);
  return header === null ? null : { header, raw: raw! };
}

/** Marks the end of one phase of a run. */
type Trace = (phase: string) => void;

/**
 * A run's phase tracer: with MR_SPARK_TRACE=1 (SparkEngineOptions.trace), each phase of the
 * job and its seconds since the last on stderr (to see where a run's time goes); else nothing.
 */
function phaseTracer(on: boolean): Trace {
  if (!on) return () => undefined;
  let at = performance.now();
  return (phase) => {
    const now = performance.now();
    process.stderr.write(`mr spark: ${phase} ${((now - at) / 1000).toFixed(2)} s\n`);
    at = now;
  };
}

interface CsvFile {
  readonly file: number;
  /** The header line as read (wrapped: the wrapped line), which the query rejects. */
  readonly header: Buffer;
}

async function runWith(
  client: SparkConnectClient,
  input: RunInput,
  close: () => Promise<void>,
  use: { readonly functions: boolean; readonly notice: (message: string) => void; readonly idleNoticeMs: number; readonly trace: Trace },
): Promise<BillingResult> {
  const { signal } = input;
  const { trace } = use;
  const counts = emptyCounts();
  const T = input.config.rates.length;
  if (input.files.length === 0) {
    await close();
    return { counts, usage: new UsageTable(T) };
  }
  const s3a = s3aSession(input.files);
  const wrapping = input.files[0]!.wrapped;
  checkWrappedNames(input.files);
  checkClusterNames(input.files);
  checkGzipNotEmpty(input.files);
  await checkReadable(input.files, signal);
  const index = new FileIndex(input.files, s3a.scheme);
  trace('start');

  // CSV headers, in path order (the first bad one fails the run, as in the other engines).
  const layouts = new Map<string, { layout: CsvLayout; paths: string[] }>();
  const csvFiles: CsvFile[] = [];
  for (let i = 0; i < input.files.length; i++) {
    const f = input.files[i]!;
    if (f.format !== 'csv') continue;
    const found = await readCsvHeaderLine(f, signal, wrapping);
    if (found === null) continue; // only blank lines: no records
    const { header, raw } = found;
    const layout = csvLayout(header.toString('utf8'), f.path);
    const key = JSON.stringify(layout);
    if (!layouts.has(key)) layouts.set(key, { layout, paths: [] });
    layouts.get(key)!.paths.push(index.clusterPath(i));
    csvFiles.push({ file: i, header: raw });
  }

  trace('csv headers read');
  // Every operation of the run reports its progress: the bar, and the notice of a job waiting for cores.
  const progress = new ClusterProgress(input.files.reduce((n, f) => n + f.size, 0), input.onBytes, use.notice, use.idleNoticeMs);
  const exec: ExecuteOptions = { signal, onProgress: (p) => progress.report(p) };
  await client.connect(signal);
  await configureSession(client, signal, s3a);
  let functions = false;
  if (use.functions) {
    const state = await registerFunctions(client, exec);
    functions = state.usable;
    if (!state.usable) use.notice(`spark engine: ${state.why}; using the SQL fast path (the same bill, slower)`);
  }
  trace(`connected, session set, executor functions ${functions ? 'registered' : 'not used'}`);
  const view = async (name: string, paths: string[]) => {
    const read = readFiles('text', paths, { lineSep: '\n' });
    const projected = project(read, ['value AS v', 'input_file_name() AS path', 'input_file_block_start() AS bs', 'monotonically_increasing_id() AS id']);
    await client.command(createTempView(name, projected), exec);
  };
  const pathsOf = (format: 'space' | 'jsonl') => input.files.flatMap((f, i) => (f.format === format ? [index.clusterPath(i)] : []));
  const [spacePaths, jsonlPaths] = [pathsOf('space'), pathsOf('jsonl')];
  const sources: QuerySources = { space: spacePaths.length > 0, jsonl: jsonlPaths.length > 0, csv: [...layouts.values()].map((l) => l.layout) };
  if (sources.space) await view(SPACE_VIEW, spacePaths);
  if (sources.jsonl) await view(JSONL_VIEW, jsonlPaths);
  let g = 0;
  for (const { paths } of layouts.values()) await view(csvView(g++), paths);
  if (!sources.space && !sources.jsonl && sources.csv.length === 0) {
    await close();
    return { counts, usage: new UsageTable(T) };
  }

  const agg = `mr_agg_${randomUUID().replace(/-/g, '')}`;
  const deduped = `${agg}_dd`;
  let cached = false;
  let dedupeCached = false;
  const release = async () => {
    try {
      if (dedupeCached) await client.collect(sql(`UNCACHE TABLE IF EXISTS ${deduped}`)).catch(() => undefined);
      dedupeCached = false;
      if (cached) await client.collect(sql(`UNCACHE TABLE IF EXISTS ${agg}`)).catch(() => undefined);
      cached = false;
    } finally {
      await close();
    }
  };
  const dedupeMode = (input.dedupe ?? DEFAULT_DEDUPE).mode;
  const dedupe = dedupeMode === 'off' ? undefined : dedupeMode;
  try {
    // One pass over the input; then counts, and a retry with exact decimal sums if a BIGINT sum overflowed.
    let exactSums = false;
    let tally: Map<string, { n: number; overflow: number }>;
    for (;;) {
      const { query, args } = billingQuery(sources, input.config, input.window, {
        exactSums,
        functions,
        ...(dedupe === undefined ? {} : { dedupe }),
        ...(wrapping === undefined ? {} : { wrapped: wrapping }),
      });
      await client.collect(sql(`CACHE TABLE ${agg} AS ${query}`, args), exec);
      cached = true;
      trace('billing query (one pass over the input, result cached)');
      tally = new Map();
      const t = await client.collect(
        sql(`SELECT k, r, CAST(sum(n) AS BIGINT) AS n, count_if(k = ${KIND.ok} AND dur IS NULL) AS overflow FROM ${agg} GROUP BY k, r`),
        exec,
      );
      for (const row of t ?? []) {
        const r = (row as unknown as { toJSON(): Record<string, unknown> }).toJSON();
        tally.set(`${r['k']}:${r['r'] ?? ''}`, { n: num(r['n']), overflow: num(r['overflow']) });
      }
      if (exactSums || ![...tally.values()].some((v) => v.overflow > 0)) break;
      await client.collect(sql(`UNCACHE TABLE IF EXISTS ${agg}`), exec);
      cached = false;
      exactSums = true;
    }
    // Duplicate deliveries: the second stage, in the cluster, when some valid line has an identity.
    let table = agg;
    // Only JSON lines and CSV files with a request_id column can carry ids (any line can, with `line`).
    const mayHaveKeys = dedupe === 'line' || sources.jsonl || sources.csv.some((l) => l.requestId >= 0);
    if (dedupe !== undefined && mayHaveKeys) {
      const order = new Map<string, number>();
      for (const row of (await client.collect(sql(`SELECT DISTINCT path FROM ${agg} WHERE dkey IS NOT NULL`), exec)) ?? []) {
        const path = (row as unknown as { toJSON(): Record<string, unknown> }).toJSON()['path'] as string;
        order.set(path, index.indexOf(path));
      }
      if (order.size > 0) {
        const { query, args } = dedupeQuery(agg, order);
        await client.collect(sql(`CACHE TABLE ${deduped} AS ${query}`, args), exec);
        dedupeCached = true;
        table = deduped;
        tally = new Map();
        const t = await client.collect(
          sql(`SELECT k, r, CAST(sum(n) AS BIGINT) AS n, count_if(conflict) AS conflicts FROM ${deduped} GROUP BY k, r`),
          exec,
        );
        for (const row of t ?? []) {
          const r = (row as unknown as { toJSON(): Record<string, unknown> }).toJSON();
          tally.set(`${r['k']}:${r['r'] ?? ''}`, { n: num(r['n']), overflow: 0 });
          counts.conflictingDuplicates += num(r['conflicts']);
        }
        await readConflictExamples(client, deduped, counts, exec);
        trace('dedupe (second stage, result cached)');
      }
    }
    trace('counts');
    progress.finish();
    for (const [key, { n }] of tally) {
      const [k, r] = key.split(':');
      const kind = Number(k);
      if (kind === KIND.blank) continue;
      counts.records += n;
      if (kind === KIND.ok) counts.accepted += n;
      else if (kind === KIND.out) counts.outOfWindow += n;
      else if (kind === KIND.duplicate) counts.duplicates += n;
      else if (kind === KIND.reject) {
        const reason = RULES.reasons[Number(r)];
        if (reason === undefined) throw new RunFailure(`spark engine: unexpected reject reason ${r}`);
        counts.rejected[reason] += n;
      } else throw new RunFailure(`spark engine: unexpected result row kind ${k}`);
    }

    const rejects = await readRejects(client, table, index, exec, counts);
    dropCsvHeaders(rejects, csvFiles, index, counts, wrapping !== undefined);
    trace(`rejects read (${rejects.length})`);
    for (const r of rejects) {
      signal.throwIfAborted();
      if (!input.rejects.add(index.file(r.file).path, null, r.reason, r.raw)) await input.rejects.drain();
    }
    return { counts, usage: sortedUsage(client, table, input, exec, trace), release };
  } catch (err) {
    await release();
    throw err;
  }
}

/** The first few conflicting duplicates in input order (the cluster does not know line offsets: -1). */
async function readConflictExamples(client: SparkConnectClient, table: string, counts: RunCounts, exec: ExecuteOptions): Promise<void> {
  if (counts.conflictingDuplicates === 0) return;
  const rows = await client.collect(
    sql(`SELECT CAST(dkey AS BINARY) AS rid, fidx, first_fidx, differs FROM ${table} WHERE conflict ORDER BY fidx, bs, id LIMIT ${CONFLICT_EXAMPLES}`),
    exec,
  );
  counts.conflictExamples = Array.from(rows ?? [], (row) => {
    const r = (row as unknown as { toJSON(): Record<string, unknown> }).toJSON();
    return {
      requestId: utf8Text(r['rid'] as Uint8Array),
      at: { order: num(r['fidx']), offset: -1 },
      first: { order: num(r['first_fidx']), offset: -1 },
      differs: String(r['differs']).split(','),
    };
  });
}

/** Every reject row, in file order, then in the order the cluster read the lines (the offset is unknown). */
async function readRejects(client: SparkConnectClient, agg: string, index: FileIndex, exec: ExecuteOptions, counts: RunCounts): Promise<RejectRow[]> {
  const rejects: RejectRow[] = [];
  for await (const batch of client.stream(sql(`SELECT r, path, bs, id, raw, CAST(task AS BINARY) AS task FROM ${agg} WHERE k = ${KIND.reject}`), exec)) {
    const [r, path, bs, id, raw, task] = ['r', 'path', 'bs', 'id', 'raw', 'task'].map((c) => batch.getChild(c)!);
    for (let i = 0; i < batch.numRows; i++) {
      const reason = RULES.reasons[num(r!.get(i))];
      if (reason === undefined) throw new RunFailure(`spark engine: unexpected reject reason ${String(r!.get(i))}`);
      // An unknown task's name, as the other engines count it (none when the field is missing).
      const name = task!.get(i) as Uint8Array | null;
      if (reason === 'unknown_task' && name !== null) countUnknownTask(counts.unknownTasks, utf8Text(name));
      rejects.push({
        file: index.indexOf(path!.get(i) as string),
        bs: BigInt(bs!.get(i) as bigint),
        id: BigInt(id!.get(i) as bigint),
        reason,
        raw: (raw!.get(i) as Uint8Array).slice(),
      });
    }
  }
  rejects.sort((a, b) => a.file - b.file || (a.bs < b.bs ? -1 : a.bs > b.bs ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return rejects;
}

/** Rejects a wrapped line can have before its file's header line (the header finder skips those lines). */
const WRAPPER_REASONS: ReadonlySet<RejectReason> = new Set(['bad_wrapper', 'bad_encoding']);

/**
 * The query judges a CSV file's header row like any line; it is always a reject there (its
 * timestamp column holds the column's name). It is the first reject of its file (wrapped:
 * after the file's wrapper rejects), and must be the header the client read, or the counts
 * would silently differ: it is taken out here.
 */
function dropCsvHeaders(rejects: RejectRow[], csvFiles: readonly CsvFile[], index: FileIndex, counts: RunCounts, wrapped: boolean): void {
  const headerOf = new Map(csvFiles.map((c) => [c.file, c.header]));
  const drop = new Set<number>();
  for (let i = 0; i < rejects.length; i++) {
    const r = rejects[i]!;
    const header = headerOf.get(r.file);
    if (header === undefined) continue;
    if (wrapped && WRAPPER_REASONS.has(r.reason)) continue;
    const expected = header.subarray(0, RULES.line.rejectRawBytes);
    if (!Buffer.from(r.raw).equals(expected)) break;
    drop.add(i);
    headerOf.delete(r.file);
    counts.records--;
    counts.rejected[r.reason]--;
  }
  if (headerOf.size > 0) {
    const path = index.file(headerOf.keys().next().value!).path;
    throw new RunFailure(`spark engine: the cluster did not read the CSV header of ${path} as its first record`);
  }
  if (drop.size > 0) {
    let w = 0;
    for (let i = 0; i < rejects.length; i++) if (!drop.has(i)) rejects[w++] = rejects[i]!;
    rejects.length = w;
  }
}

/** The per-(user, task) totals, sorted by the cluster by user (UTF-8 byte order), streamed a batch at a time. */
function sortedUsage(client: SparkConnectClient, agg: string, input: RunInput, exec: ExecuteOptions, trace: Trace): SortedUsage {
  const T = input.config.rates.length;
  const args: Record<string, SqlValue> = {};
  const tasks = input.config.rates.map((r, i) => {
    args[`task${i}`] = r.task;
    return `:task${i}`;
  });
  const query = `SELECT CAST(usr AS BINARY) AS usr, CAST(array_position(array(${tasks.join(', ')}), task) - 1 AS INT) AS t, n, CAST(dur AS STRING) AS dur
    FROM ${agg} WHERE k = ${KIND.ok} ORDER BY usr, t`;
  return {
    taskCount: T,
    async *users() {
      let current: string | null = null;
      let usage = new UserUsage(T);
      for await (const batch of asRunFailures(client.stream(sql(query, args), exec))) {
        const usr = batch.getChild('usr')!;
        const t = batch.getChild('t')!;
        const n = batch.getChild('n')!;
        const dur = batch.getChild('dur')!;
        for (let i = 0; i < batch.numRows; i++) {
          const user = utf8Text(usr.get(i) as Uint8Array);
          if (user !== current) {
            if (current !== null) yield { user: current, usage };
            current = user;
            usage = new UserUsage(T);
          }
          const task = t.get(i) as number;
          if (!(task >= 0 && task < T)) throw new RunFailure(`spark engine: the cluster billed an unknown task for ${JSON.stringify(user)}`);
          usage.addBig(task, num(n.get(i)), BigInt(dur.get(i) as string));
        }
      }
      if (current !== null) yield { user: current, usage };
      trace('usage streamed');
    },
  };
}
