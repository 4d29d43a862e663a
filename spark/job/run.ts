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
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Table } from 'apache-arrow';
import type { RunInput } from '../../engine/core/billing/run.js';
import { UsageTable, emptyCounts, type BillingResult } from '../../engine/core/billing/usage.js';
import { csvLayout, type CsvLayout } from '../../engine/core/formats/csv.js';
import type { Format } from '../../engine/core/formats/format.js';
import type { InputFile } from '../../engine/core/input/discover.js';
import { taskIndex } from '../../engine/core/config/config.js';
import { REJECT_REASONS, type RejectReason } from '../../engine/core/validation/reasons.js';
import { RunFailure } from '../../engine/core/errors.js';
import { SparkConnectClient, resolveRemote } from '../connect/client.js';
import { createTempView, project, readFiles, sql } from '../connect/plan.js';
import { billingQuery, VIEW_OF_FORMAT } from './billing-sql.js';

export interface SparkEngineOptions {
  /** Spark Connect address (default: SPARK_REMOTE, then sc://127.0.0.1:15002). */
  readonly remote?: string;
  /** An already connected client to reuse (tests); it is left open. */
  readonly client?: SparkConnectClient;
  /** Milliseconds to wait for the Connect server to answer (default 5000). */
  readonly connectTimeoutMs?: number;
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
};

/** The path the cluster reads: URIs as given, local paths absolute, glob characters escaped. */
export function clusterPath(path: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(path)) return path;
  const abs = isAbsolute(path) ? path : resolve(path);
  return abs.replace(/[\\{}[\]*?]/g, (c) => `\\${c}`);
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

/** Maps the cluster's file names back to the InputFile they came from. */
class FileIndex {
  private readonly byKey = new Map<string, number>();

  constructor(private readonly files: readonly InputFile[]) {
    files.forEach((f, i) => {
      this.byKey.set(f.path, i);
      if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(f.path)) this.byKey.set(isAbsolute(f.path) ? f.path : resolve(f.path), i);
    });
  }

  indexOf(sparkPath: string): number {
    const i = this.byKey.get(sparkPath) ?? this.byKey.get(localPathOf(sparkPath)) ?? this.byKey.get(decodeURI(sparkPath));
    if (i === undefined) throw new RunFailure(`spark engine: the cluster read a file that was not asked for: ${sparkPath}`);
    return i;
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

/** Sets the session configuration the billing query needs. */
async function configureSession(client: SparkConnectClient, signal: AbortSignal): Promise<void> {
  for (const [k, v] of Object.entries(SESSION_CONF)) {
    await client.collect(sql(`SET ${k}=${v}`), { signal });
  }
}

/** Runs the billing job in the cluster and returns counts and usage for the common finalize step. */
export async function runSpark(input: RunInput, options: SparkEngineOptions = {}): Promise<BillingResult> {
  const client =
    options.client ??
    new SparkConnectClient({
      remote: resolveRemote(options.remote),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    });
  try {
    return await runWith(client, input);
  } finally {
    if (options.client === undefined) await client.close();
  }
}

/** An engine runner bound to a remote, shaped like the other engines' (RunInput → BillingResult). */
export function sparkEngine(options: SparkEngineOptions = {}): (input: RunInput) => Promise<BillingResult> {
  return (input) => runSpark(input, options);
}

async function runWith(client: SparkConnectClient, input: RunInput): Promise<BillingResult> {
  const { signal } = input;
  const counts = emptyCounts();
  const usage = new UsageTable(input.config.rates.length);
  if (input.files.length === 0) return { counts, usage };
  await client.connect();
  await configureSession(client, signal);

  const index = new FileIndex(input.files);
  const formats: Format[] = [];
  for (const format of ['space', 'csv', 'jsonl'] as const) {
    const paths = input.files.filter((f) => f.format === format).map((f) => clusterPath(f.path));
    if (paths.length === 0) continue;
    formats.push(format);
    const read = readFiles('text', paths, { lineSep: '\n' });
    const view = project(read, [
      'CAST(value AS BINARY) AS b',
      '_metadata.file_path AS path',
      '_metadata.file_block_start AS bs',
      'monotonically_increasing_id() AS id',
    ]);
    await client.command(createTempView(VIEW_OF_FORMAT[format], view), { signal });
  }

  const { query, args } = billingQuery(formats, input.config, input.window);
  const table = await client.collect(sql(query, args), { signal });
  input.onBytes(input.files.reduce((n, f) => n + f.size, 0));
  const rejects = collectResult(table, index, input, counts, usage);

  // Rejects in file order, then in the order the cluster read the lines (the offset is unknown).
  rejects.sort((a, b) => a.file - b.file || (a.bs < b.bs ? -1 : a.bs > b.bs ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const r of rejects) {
    signal.throwIfAborted();
    if (!input.rejects.add(index.file(r.file).path, null, r.reason, r.raw)) await input.rejects.drain();
  }
  return { counts, usage };
}

const LAYOUT_COLUMNS: ReadonlyArray<[keyof CsvLayout, string]> = [
  ['timestamp', 'h_ts'],
  ['user', 'h_user'],
  ['task', 'h_task'],
  ['status', 'h_status'],
  ['duration', 'h_duration'],
];

function collectResult(table: Table | null, index: FileIndex, input: RunInput, counts: ReturnType<typeof emptyCounts>, usage: UsageTable): RejectRow[] {
  const rejects: RejectRow[] = [];
  if (table === null) return rejects;
  const tasks = taskIndex(input.config);
  const reasons = new Set<string>(REJECT_REASONS);
  const headers: Array<{ file: number; row: Record<string, unknown> }> = [];
  for (const row of table as Iterable<Record<string, unknown>>) {
    const kind = row['kind'] as string;
    const n = num(row['n']);
    switch (kind) {
      case 'ok': {
        const task = tasks.get(row['task'] as string);
        if (task === undefined) throw new RunFailure(`spark engine: the cluster billed an unknown task ${JSON.stringify(row['task'])}`);
        usage.row(row['usr'] as string).addBig(task, n, BigInt(row['dur'] as string));
        counts.records += n;
        counts.accepted += n;
        break;
      }
      case 'out':
        counts.records += n;
        counts.outOfWindow += n;
        break;
      case 'reject': {
        const reason = row['reason'] as string;
        if (!reasons.has(reason)) throw new RunFailure(`spark engine: unexpected reject reason ${reason}`);
        counts.records += n;
        counts.rejected[reason as RejectReason] += n;
        rejects.push({
          file: index.indexOf(row['path'] as string),
          bs: BigInt(row['bs'] as bigint),
          id: BigInt(row['id'] as bigint),
          reason: reason as RejectReason,
          raw: row['raw'] as Uint8Array,
        });
        break;
      }
      case 'header':
        headers.push({ file: index.indexOf(row['path'] as string), row });
        break;
      default:
        throw new RunFailure(`spark engine: unexpected result row kind ${kind}`);
    }
  }
  // The core's own header rules decide (and name the file in any error, first file first);
  // the query's column choice must agree with them, or the counts would silently differ.
  headers.sort((a, b) => a.file - b.file);
  for (const { file, row } of headers) {
    const path = index.file(file).path;
    const header = Buffer.from(row['raw'] as Uint8Array).toString('utf8');
    const layout = csvLayout(header, path);
    const agrees = num(row['h_count']) === layout.fieldCount && LAYOUT_COLUMNS.every(([key, col]) => num(row[col]) === layout[key] + 1);
    if (!agrees) {
      throw new RunFailure(`spark engine: the cluster read the CSV header of ${path} differently from the contract: ${JSON.stringify(header.slice(0, 200))}`);
    }
  }
  return rejects;
}
