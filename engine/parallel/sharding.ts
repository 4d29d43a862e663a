/**
 * Shard planning: plain files split into byte ranges (newline alignment is done by the
 * worker that reads the range), gzip files and small files as one whole-file shard each.
 * Many more shards than workers, handed out dynamically, so a slow shard does not idle
 * the others. CSV headers are read here, once, so every shard of a CSV file knows its columns.
 */
import type { InputFile } from '../core/input/discover.js';
import type { CsvLayout } from '../core/formats/csv.js';
import { CsvHeaderFinder, readCsvHeader, type CsvHeader } from '../core/formats/csv-header.js';
import { LineFramer } from '../core/formats/lines.js';
import { readChunks } from '../core/input/read.js';
import type { S3Object } from '../core/input/s3-url.js';
import type { Wrapping } from '../core/formats/wrapped.js';
import type { DedupeMode } from '../core/dedupe/dedupe.js';
import { UsageError } from '../core/errors.js';

export interface Shard {
  /** Position in the run's shard order (file order, then offset). */
  readonly index: number;
  readonly path: string;
  /** Where the bytes are read from when that is not `path` (standard input spooled to a temporary file). */
  readonly readPath?: string;
  readonly format: InputFile['format'];
  readonly gzip: boolean;
  /** Lines whose first byte lies in [start, end) belong to the shard; a whole gzip file has end = -1. */
  readonly start: number;
  readonly end: number;
  /** The CSV layout for shards that begin after the header line. */
  readonly csv?: CsvLayout;
  /** The S3 object the bytes are read from (streamed by the main thread: remote/object-feed.ts), when the input is one. */
  readonly s3?: S3Object;
  /** --wrapped: lines are unwrapped first (the per-line path, not the space scanner). */
  readonly wrapped?: Wrapping;
}

export const MIN_SHARD_BYTES = 4 << 20;
export const MAX_SHARD_BYTES = 64 << 20;

/** Shard size for a run: about four shards per worker, within [4 MiB, 64 MiB]. */
export function defaultShardBytes(totalBytes: number, workers: number): number {
  const target = Math.ceil(totalBytes / (workers * 4));
  return Math.min(MAX_SHARD_BYTES, Math.max(MIN_SHARD_BYTES, target));
}

/** Largest shard of an object in S3 by default. */
export const S3_SHARD_BYTES = 16 << 20;

/**
 * Shard size for the objects in S3 of a run: the local shard size, at most S3_SHARD_BYTES. An
 * object is one streamed GET however it is sharded (the main thread feeds the tasks its bytes:
 * remote/object-feed.ts), and the feed holds about the bytes of the shards being read at once,
 * so small shards keep that memory small while the workers stay balanced.
 */
export function defaultS3ShardBytes(localShardBytes: number): number {
  return Math.min(S3_SHARD_BYTES, localShardBytes);
}

/**
 * The headers of the CSV objects in S3 among `files` (a local file's is read as its shards are
 * planned): their first bytes, read once here on the main thread.
 */
export async function remoteCsvHeaders(files: readonly InputFile[], signal?: AbortSignal): Promise<Map<string, CsvHeader | undefined>> {
  const headers = new Map<string, CsvHeader | undefined>();
  for (const f of files) {
    if (f.s3 === undefined || f.gzip || f.format !== 'csv' || f.wrapped !== undefined) continue;
    const finder = new CsvHeaderFinder(f.path);
    const framer = new LineFramer(finder);
    for await (const chunk of readChunks(f, undefined, { signal, end: Math.min(f.size, 1 << 20) })) {
      framer.push(chunk);
      if (finder.found !== undefined) break;
    }
    if (finder.found === undefined) {
      // No header in the first MiB: read on to the end (a header is at most 64 KiB after blank lines).
      for await (const chunk of readChunks(f, undefined, { signal, start: Math.min(f.size, 1 << 20) })) {
        framer.push(chunk);
        if (finder.found !== undefined) break;
      }
      if (finder.found === undefined) framer.end();
    }
    headers.set(f.path, finder.found);
  }
  return headers;
}

export function planShards(
  files: readonly InputFile[],
  shardBytes: number,
  /**
   * CSV headers by path: those of objects in S3 (remoteCsvHeaders); a local file's is read and
   * added here the first time, so a second plan of the same files reads none again.
   */
  headers: Map<string, CsvHeader | undefined> = new Map(),
  /** Shard size of the objects in S3 (default: shardBytes). */
  s3ShardBytes = shardBytes,
): Shard[] {
  const shards: Shard[] = [];
  for (const f of files) {
    const step = f.s3 === undefined ? shardBytes : s3ShardBytes;
    const s3 = { ...(f.s3 === undefined ? {} : { s3: f.s3 }), ...(f.wrapped === undefined ? {} : { wrapped: f.wrapped }) };
    if (f.gzip) {
      shards.push({ index: shards.length, path: f.path, readPath: f.readPath, format: f.format, gzip: true, start: 0, end: -1, ...s3 });
      continue;
    }
    if (f.wrapped !== undefined && f.format === 'csv') {
      // The header is the first unwrapped line: one shard reads the file from its start.
      shards.push({ index: shards.length, path: f.path, readPath: f.readPath, format: f.format, gzip: false, start: 0, end: f.size, ...s3 });
      continue;
    }
    if (f.format === 'csv' && f.s3 === undefined && !headers.has(f.path)) headers.set(f.path, readCsvHeader(f.path, f.readPath));
    const header = f.format === 'csv' ? headers.get(f.path) : undefined;
    for (let start = 0; start < f.size || start === 0; start += step) {
      const end = Math.min(f.size, start + step);
      const csv = header !== undefined && start > header.offset ? header.layout : undefined;
      shards.push({ index: shards.length, path: f.path, readPath: f.readPath, format: f.format, gzip: false, start, end, csv, ...s3 });
      if (end >= f.size) break;
    }
  }
  return shards;
}

/** Bytes a shard covers (its compressed size for a whole gzip file). */
function shardBytes(s: Shard, sizes: ReadonlyMap<string, number>): number {
  return s.end < 0 ? (sizes.get(s.path) ?? 0) : s.end - s.start;
}

/**
 * Tasks from shards, in order: a shard as large as `maxBytes` is a task of its own; runs of
 * smaller ones (small files) share a task up to `maxBytes` and `maxShards`, so a million tiny
 * files are not a million tasks. A task holding a shard of an object in S3 takes only up to
 * `s3MaxBytes` (the objects' shard size, defaultS3ShardBytes): the object feed holds the bytes of
 * the tasks being read, and an object's 16 MiB shards grouped four to a 64 MiB task took
 * about 85 MiB more RSS (the bench's s3 dataset, 2 workers).
 */
export function groupShards(shards: readonly Shard[], files: readonly InputFile[], maxBytes: number, maxShards = 1024, s3MaxBytes = maxBytes): Shard[][] {
  const sizes = new Map(files.map((f) => [f.path, f.size]));
  const groups: Shard[][] = [];
  let group: Shard[] = [];
  let bytes = 0;
  let remote = false;
  for (const s of shards) {
    const n = shardBytes(s, sizes);
    const limit = remote || s.s3 !== undefined ? Math.min(maxBytes, s3MaxBytes) : maxBytes;
    if (group.length > 0 && (bytes + n > limit || group.length >= maxShards)) {
      groups.push(group);
      group = [];
      bytes = 0;
      remote = false;
    }
    group.push(s);
    bytes += n;
    remote ||= s.s3 !== undefined;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** The smallest piece splitTail cuts. */
export const MIN_TAIL_BYTES = 1 << 20;

/**
 * The end of the run cut finer so that every worker stays busy to the end: tasks are handed
 * out as workers free up, so the last one to finish can run for up to a whole task after the
 * others are idle. The tasks covering the last `workers` × `shardBytes` bytes, when each is one
 * byte range of a plain file, are cut into quarters (at least MIN_TAIL_BYTES), so the last
 * tasks handed out are small. Shards are renumbered in order (a shard's index is its position).
 * A CSV range holding the file's header (no layout of its own) is left whole, and so is a range
 * of an object in S3 (already small: defaultS3ShardBytes).
 */
export function splitTail(tasks: readonly (readonly Shard[])[], workers: number, shardBytes: number): Shard[][] {
  const piece = Math.max(MIN_TAIL_BYTES, Math.floor(shardBytes / 4));
  const out: Shard[][] = tasks.map((t) => [...t]);
  if (workers < 2) return out;
  let left = workers * shardBytes;
  for (let i = out.length - 1; i >= 0 && left > 0; i--) {
    const t = out[i]!;
    const s = t[0]!;
    if (t.length !== 1 || s.gzip || s.end < 0 || s.s3 !== undefined || s.wrapped !== undefined || (s.format === 'csv' && s.csv === undefined)) break;
    left -= s.end - s.start;
    if (s.end - s.start < 2 * piece) continue;
    // Even cuts: no sliver at the end.
    const len = s.end - s.start;
    const n = Math.floor(len / piece);
    const pieces: Shard[][] = [];
    for (let k = 0; k < n; k++) pieces.push([{ ...s, start: s.start + Math.floor((k * len) / n), end: s.start + Math.floor(((k + 1) * len) / n) }]);
    out.splice(i, 1, ...pieces);
  }
  let index = 0;
  return out.map((t) => t.map((s) => ({ ...s, index: index++ })));
}

/**
 * Whether records of these shards can have an identity under `mode` (SPEC "Duplicate
 * deliveries"), so that their map tasks can emit shuffle records: every valid line with
 * `line`; with `auto` only a request id, which any JSON line may carry and a CSV file only in
 * a `request_id` column. A space-format line never has one. A CSV file whose header no shard
 * knows (it lies in the file's only shard, or the file is gzip or wrapped) counts as one that
 * may.
 */
export function mayHaveIdentity(tasks: readonly (readonly Shard[])[], mode: Exclude<DedupeMode, 'off'>): boolean {
  if (mode === 'line') return true;
  const shards = tasks.flat();
  if (shards.some((s) => s.format === 'jsonl')) return true;
  const csvIds = new Map<string, boolean>();
  for (const s of shards) if (s.csv !== undefined) csvIds.set(s.path, s.csv.requestId >= 0);
  return shards.some((s) => s.format === 'csv' && (csvIds.get(s.path) ?? true));
}

/**
 * The most shards an explicit --shard-size may cut a run into: each costs about 0.15 ms of
 * scheduling (200 MiB in 8 KiB shards, 25,600 of them, took 7.9 s against 4.4 s in 64 KiB
 * shards), and `--shard-size 1` on 200 MiB planned 200 million and never started.
 */
export const MAX_EXPLICIT_SHARDS = 100_000;

export interface RunPlanOptions {
  readonly workers: number;
  /** An explicit shard size (--shard-size): every file, objects in S3 included, in shards of it, the tail not cut. */
  readonly shardBytes?: number;
  /** The run's dedupe mode, when it dedupes. */
  readonly dedupe?: Exclude<DedupeMode, 'off'>;
  /** With dedupe, the largest default shard when some records can have an identity (a map task's shuffle output is held whole until it is handed over). */
  readonly dedupeShardBytes: number;
  /** The headers of CSV objects in S3 (remoteCsvHeaders). */
  readonly remoteHeaders?: ReadonlyMap<string, CsvHeader | undefined>;
}

/**
 * A run's map tasks: its files in shards (defaultShardBytes; objects in S3
 * defaultS3ShardBytes), grouped, the last ones cut finer (splitTail). With dedupe the default
 * shard is at most `dedupeShardBytes` only when some shard's records can have an identity
 * (mayHaveIdentity): a run of space-format logs keeps the larger shards (1 GiB, 1,000 users,
 * 2 workers, five pairs: 1.43-1.52 s against 1.48-1.57 s with 16 MiB shards).
 */
export function planRun(files: readonly InputFile[], opts: RunPlanOptions): Shard[][] {
  // Filled with the local files' headers by the first plan: a second one (capped for dedupe) reads none again.
  const headers = new Map(opts.remoteHeaders);
  const plan = (size: number, s3Size: number) => groupShards(planShards(files, size, headers, s3Size), files, size, undefined, s3Size);
  if (opts.shardBytes !== undefined) {
    const shardBytes = opts.shardBytes;
    const shards = files.reduce((n, f) => n + (f.gzip ? 1 : Math.max(1, Math.ceil(f.size / shardBytes))), 0);
    if (shards > MAX_EXPLICIT_SHARDS) {
      throw new UsageError(
        `--shard-size ${shardBytes} cuts the inputs (${files.reduce((n, f) => n + f.size, 0)} bytes) into ${shards} shards, over ${MAX_EXPLICIT_SHARDS}: give a larger --shard-size, or leave it out`,
      );
    }
    return plan(shardBytes, shardBytes);
  }
  let size = defaultShardBytes(files.reduce((n, f) => n + f.size, 0), opts.workers);
  let planned = plan(size, defaultS3ShardBytes(size));
  if (opts.dedupe !== undefined && size > opts.dedupeShardBytes && mayHaveIdentity(planned, opts.dedupe)) {
    size = opts.dedupeShardBytes;
    planned = plan(size, defaultS3ShardBytes(size));
  }
  return splitTail(planned, opts.workers, size);
}
