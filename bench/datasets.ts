/**
 * Benchmark datasets: made once with `mr generate` and cached outside the clone (see
 * paths.ts cacheDir), keyed by format, size, users and seed (and shape and gzip for the
 * shapes case). A dataset is written under a partial name and renamed, with a JSON sidecar
 * holding generate's own report (lines, bytes).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MR_MAIN, cacheDir } from './paths.js';
import { runChild } from './child.js';
import type { Shape } from '../engine/generate/shapes.js';

export type Format = 'space' | 'csv' | 'jsonl';

export interface DatasetSpec {
  readonly format: Format;
  /** Target size in MiB (generate stops at the last whole line below it); 0 with `lines` for tiny sets. */
  readonly sizeMiB: number;
  readonly users: number;
  /** Fixed line count instead of a size (the tiny start-up probe). */
  readonly lines?: number;
  /** Request ids and re-delivered batches (`mr generate --request-ids --redeliver R --conflicts C`): the dedupe sets. */
  readonly redeliver?: { readonly share: number; readonly conflicts: number };
  /**
   * The lines' shape (`mr generate --shape`; default plain) and gzip (`.gz`). A set with either
   * holds the same records as its plain set (the same spec without them): it is generated with
   * `--lines` set to that set's line count, so that both must bill byte-identically.
   */
  readonly shape?: Shape;
  readonly gzip?: boolean;
}

export interface Dataset extends DatasetSpec {
  readonly id: string;
  readonly path: string;
  /** Non-blank data lines (records), from generate's report. */
  readonly records: number;
  readonly bytes: number;
  readonly badLines: number;
  readonly generateSeconds: number | null;
  /** Re-delivered records and how many came back changed, from generate's report (dedupe sets; 0 otherwise). */
  readonly redelivered: number;
  readonly changed: number;
}

export const SEED = 1;
/**
 * A small share of bad lines of every reason SQL can also judge; `line_too_long` is left out
 * because each such line is 70 KB and a 0.01% share of them would be a sixth of the bytes.
 */
export const BAD_SHARES =
  'bad_encoding=0.0001,bad_field_count=0.0001,bad_timestamp=0.0001,bad_user=0.0001,unknown_task=0.0001,bad_status=0.0001,bad_duration=0.0001';

/** Bumped when the cached files must be regenerated (a change of shares or generator contract). */
const CACHE_VERSION = 'v1';

export function usersLabel(users: number): string {
  return users >= 1_000_000 && users % 1_000_000 === 0 ? `${users / 1_000_000}M` : users >= 1000 && users % 1000 === 0 ? `${users / 1000}k` : String(users);
}

/** A user count as written on the command line: `1000`, `1k`, `100k`, `1M`, `10M`. */
export function parseCount(text: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(text.trim());
  const n = m === null ? NaN : Number(m[1]) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1000 : 1_000_000);
  if (!(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`not a count: ${JSON.stringify(text)} (e.g. 1000, 100k, 1M)`);
  return n;
}

/** A size as written on the command line: `64MiB`, `1GiB` (or a number of MiB). */
export function parseSizeMiB(text: string): number {
  const m = /^(\d+)\s*(MiB|GiB)?$/i.exec(text.trim());
  const n = m === null ? NaN : Number(m[1]) * (m[2]?.toLowerCase() === 'gib' ? 1024 : 1);
  if (!(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`not a size: ${JSON.stringify(text)} (e.g. 64MiB, 1GiB)`);
  return n;
}

export function sizeLabel(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024}GiB` : `${mib}MiB`;
}

export function datasetId(s: DatasetSpec): string {
  const size = s.lines !== undefined ? `${s.lines}lines` : sizeLabel(s.sizeMiB);
  const ids = s.redeliver !== undefined ? `-ids-redeliver${s.redeliver.share}-conflicts${s.redeliver.conflicts}` : '';
  const shape = s.shape !== undefined && s.shape !== 'plain' ? `-${s.shape}` : '';
  return `${s.format}-${size}-${usersLabel(s.users)}users${ids}${shape}${s.gzip ? '-gzip' : ''}`;
}

/** The cached file's name (and, with `.partial` before the extension, the name it is written under). */
export function datasetFileName(s: DatasetSpec, partial = false): string {
  const ext = `${s.format === 'csv' ? 'csv' : s.format === 'jsonl' ? 'jsonl' : 'log'}${s.gzip ? '.gz' : ''}`;
  return `${datasetId(s)}-seed${SEED}${partial ? '.partial' : ''}.${ext}`;
}

/** A shaped or gzip set's plain set: the same records as plain lines in a plain file. */
export function plainOf(s: DatasetSpec): DatasetSpec | null {
  if ((s.shape === undefined || s.shape === 'plain') && !s.gzip) return null;
  const { shape: _shape, gzip: _gzip, ...plain } = s;
  return plain;
}

/** What `mr aggregate` needs besides the path to read a set: a wrapper (Fluent Bit's, CloudWatch's) says its inner format. */
export function readArgs(s: Pick<DatasetSpec, 'format' | 'shape'>): string[] {
  return s.shape === 'fluent-bit' || s.shape === 'cloudwatch' ? ['--wrapped', s.shape, '--format', s.format] : [];
}

/** "space 1k users", the chart's panel of a dataset. */
export function variantLabel(s: Pick<DatasetSpec, 'format' | 'users'>): string {
  return `${s.format === 'space' ? 'original format' : s.format === 'csv' ? 'CSV' : 'JSON lines'}, ${usersLabel(s.users)} users`;
}

interface GenerateReport {
  lines: number;
  bytes: number;
  bad: Record<string, number>;
  seconds: number;
  /** Re-delivered records and how many of them came back changed (the dedupe sets). */
  redelivered?: number;
  changed?: number;
}

/** Returns the cached dataset, generating it first when missing (or when `regenerate`). */
export async function ensureDataset(spec: DatasetSpec, opts: { regenerate?: boolean; log?: (line: string) => void } = {}): Promise<Dataset> {
  const dir = join(cacheDir(), CACHE_VERSION);
  mkdirSync(dir, { recursive: true });
  const id = datasetId(spec);
  const path = join(dir, datasetFileName(spec));
  const metaPath = `${path}.meta.json`;
  let generateSeconds: number | null = null;
  // A shaped or gzip set: as many lines as its plain set (made first if missing), hence the same records.
  const plain = plainOf(spec);
  const lines = spec.lines ?? (plain === null ? undefined : (await ensureDataset(plain, { log: opts.log })).records);
  const stale = () => lines !== undefined && (JSON.parse(readFileSync(metaPath, 'utf8')) as GenerateReport).lines !== lines;
  if (opts.regenerate || !existsSync(path) || !existsSync(metaPath) || stale()) {
    rmSync(metaPath, { force: true });
    const partial = join(dir, datasetFileName(spec, true));
    const args = [MR_MAIN, 'generate', '--out', partial, '--users', String(spec.users), '--seed', String(SEED), '--bad', BAD_SHARES];
    if (lines !== undefined) args.push('--lines', String(lines));
    else args.push('--size', `${spec.sizeMiB}MiB`);
    if (spec.redeliver !== undefined) args.push('--request-ids', '--redeliver', String(spec.redeliver.share), '--conflicts', String(spec.redeliver.conflicts));
    if (spec.shape !== undefined) args.push('--shape', spec.shape);
    opts.log?.(`generating ${id} (${path}) ...`);
    const r = await runChild(process.execPath, args, {});
    if (r.code !== 0) throw new Error(`mr generate ${id} failed (exit ${r.code}): ${r.stderr.trim().slice(-2000)}`);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as GenerateReport;
    renameSync(partial, path);
    writeFileSync(metaPath, JSON.stringify({ ...report, wallSeconds: r.seconds }, null, 2));
    generateSeconds = r.seconds;
    opts.log?.(`generated ${id}: ${report.lines} lines, ${(report.bytes / 1048576).toFixed(0)} MiB in ${r.seconds.toFixed(1)} s`);
  }
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as GenerateReport;
  const badLines = Object.values(meta.bad).reduce((a, b) => a + b, 0);
  return { ...spec, id, path, records: meta.lines, bytes: meta.bytes, badLines, generateSeconds, redelivered: meta.redelivered ?? 0, changed: meta.changed ?? 0 };
}
