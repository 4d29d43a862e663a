/**
 * The "s3" dataset of `npm run bench` (issue 14): the 1 GiB space-format set (and with
 * --large the 4 GiB one) put in each of two local S3-compatible servers on 127.0.0.1
 * (fixtures/s3/server.ts): moto, the tests' server, which reads the whole object before it
 * answers any GET and spends about 0.6 s of CPU per GiB it serves; and gofakes3 (in memory),
 * which serves a range as S3 does. Both run on the 2 cores the engine uses, which a real
 * store does not. Billed by the parallel engine from `s3://`, beside
 * - `raw-get`: the raw download of the same object from the same server, one GetObject
 *   streamed through the SDK, bytes discarded (the ceiling any reader has there; the engine
 *   reads an object the same way, one streamed GET, feeding its workers: remote/object-feed.ts);
 * - `parallel-local`: the parallel engine on the same file on disk (from the page cache).
 * Rounds are interleaved (each round runs every row once, in a rotating order) so that a
 * shared machine's load falls on all rows alike; rates use each row's fastest round. The
 * s3 run's bill must equal the local run's byte for byte, or the row is a mismatch.
 * Targets: s3 MiB/s >= 70% of min(local MiB/s, the raw download), and the s3 run's
 * peak RSS within 64 MiB of the local run's.
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Server, S3ServerKind } from '../fixtures/s3/server.js';
import { runChild } from './child.js';
import { ensureDataset, sizeLabel, type Dataset } from './datasets.js';
import { childEnv, commandFor, parallel } from './engines.js';
import { preRead } from './measure.js';

const BUCKET = 'mr-bench';
export const S3_TARGET_RATIO = 0.7;
export const S3_RSS_TARGET_MIB = 64;
const MiB = 1 << 20;

export type S3RowKind = 'parallel-s3' | 'parallel-local' | 'raw-get';
const KINDS: readonly S3RowKind[] = ['parallel-local', 'parallel-s3', 'raw-get'];

export interface S3Row {
  readonly kind: S3RowKind;
  /** Seconds of each round. */
  readonly seconds: number[];
  readonly bestS: number;
  readonly mibPerS: number;
  /** Peak RSS of the engine's process (largest over the rounds); null for the in-process downloads. */
  readonly peakRssMiB: number | null;
}

export interface S3Result {
  readonly store: S3ServerKind;
  readonly dataset: string;
  readonly bytes: number;
  readonly workers: number;
  readonly rounds: number;
  readonly rows: S3Row[];
  /** min(local MiB/s, the raw download's MiB/s). */
  readonly ceilingMibPerS: number;
  /** parallel-s3 MiB/s over the ceiling (target >= S3_TARGET_RATIO). */
  readonly ratio: number;
  /** parallel-s3 peak RSS minus parallel-local's, MiB (target <= S3_RSS_TARGET_MIB). */
  readonly rssDeltaMiB: number | null;
  /** The s3 run's bill differs from the local run's (its time does not count). */
  readonly mismatch: string | null;
  readonly loadAverage1m: number[];
}

export interface S3BenchOptions {
  readonly sizesMiB: readonly number[];
  /** The servers, in turn (default both). */
  readonly stores?: readonly S3ServerKind[];
  readonly workers: number;
  readonly rounds: number;
  readonly regenerate?: boolean;
  readonly log: (line: string) => void;
}

async function upload(server: S3Server, key: string, ds: Dataset): Promise<void> {
  await server.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: createReadStream(ds.path), ContentLength: ds.bytes }));
  const head = await server.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
  if (Number(head.ContentLength) !== ds.bytes) throw new Error(`bench s3: uploaded ${head.ContentLength} bytes of ${ds.bytes}`);
}

/** One GetObject of the whole object, streamed, bytes counted and dropped. */
async function rawGet(server: S3Server, key: string): Promise<number> {
  const r = await server.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  let n = 0;
  for await (const chunk of r.Body as AsyncIterable<Uint8Array>) n += chunk.length;
  return n;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Runs the s3 dataset for each store and size; each server is started here and stopped after its sizes. */
export async function s3Bench(opts: S3BenchOptions): Promise<S3Result[]> {
  const results: S3Result[] = [];
  for (const store of opts.stores ?? (['moto', 'gofakes3'] as const)) results.push(...(await storeBench(store, opts)));
  return results;
}

async function storeBench(store: S3ServerKind, opts: S3BenchOptions): Promise<S3Result[]> {
  const { log, workers } = opts;
  log(`s3: starting the local S3 server (${store}, fixtures/s3/server.ts)`);
  // Loaded here, not at the top: the server is test support, run from a clone, and not in the npm package.
  const { createBucket, startS3Server } = await import('../fixtures/s3/server.js');
  const server = await startS3Server(store);
  // The in-process downloads use the engine's own client settings (credentials from the environment).
  Object.assign(process.env, server.env);
  const work = mkdtempSync(join(tmpdir(), 'mr-bench-s3-'));
  const results: S3Result[] = [];
  try {
    await createBucket(server.client, BUCKET);
    for (const sizeMiB of opts.sizesMiB) {
      const ds = await ensureDataset({ format: 'space', sizeMiB, users: 1000 }, { regenerate: opts.regenerate, log });
      const key = `logs/${ds.id}.log`;
      const t0 = performance.now();
      await upload(server, key, ds);
      log(`s3: ${ds.id} uploaded to ${store} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await preRead(ds.path);
      const seconds = new Map<S3RowKind, number[]>(KINDS.map((k) => [k, []]));
      const rss = new Map<S3RowKind, number>();
      const load: number[] = [];
      let mismatch: string | null = null;
      const engine = parallel(workers);
      const env = { ...childEnv(), ...server.env, AWS_ENDPOINT_URL: server.endpoint };
      for (let round = 0; round < opts.rounds; round++) {
        load.push(Number(loadavg()[0]!.toFixed(2)));
        const order = KINDS.map((_, i) => KINDS[(i + round) % KINDS.length]!);
        const bills = new Map<S3RowKind, string>();
        for (const kind of order) {
          const started = performance.now();
          if (kind === 'raw-get') {
            const n = await rawGet(server, key);
            if (n !== ds.bytes) throw new Error(`bench s3: ${kind} read ${n} bytes of ${ds.bytes}`);
            seconds.get(kind)!.push((performance.now() - started) / 1000);
          } else {
            const input = kind === 'parallel-s3' ? `s3://${BUCKET}/${key}` : ds.path;
            const out = join(work, `${kind}.billing.txt`);
            const child = await runChild(process.execPath, commandFor(engine, input, out), { env, cwd: work, measureRss: true });
            if (child.code !== 0) throw new Error(`bench s3: ${kind} exited with ${child.code}: ${child.stderr.trim().split('\n').slice(-3).join('\n')}`);
            seconds.get(kind)!.push(child.seconds);
            if (child.peakRssBytes !== null) rss.set(kind, Math.max(rss.get(kind) ?? 0, child.peakRssBytes / MiB));
            bills.set(kind, sha256(out));
          }
          log(`s3: ${store} ${ds.id} round ${round + 1} ${kind} ${seconds.get(kind)!.at(-1)!.toFixed(2)} s`);
        }
        if (bills.get('parallel-s3') !== bills.get('parallel-local')) mismatch = `round ${round + 1}: the s3 run's billing.txt differs from the local run's`;
      }
      const rows: S3Row[] = KINDS.map((kind) => {
        const s = seconds.get(kind)!;
        const bestS = Math.min(...s);
        return { kind, seconds: s.map((x) => Number(x.toFixed(3))), bestS: Number(bestS.toFixed(3)), mibPerS: Number((ds.bytes / MiB / bestS).toFixed(1)), peakRssMiB: rss.has(kind) ? Math.round(rss.get(kind)!) : null };
      });
      const rate = (k: S3RowKind) => rows.find((r) => r.kind === k)!.mibPerS;
      const ceiling = Math.min(rate('parallel-local'), rate('raw-get'));
      const s3Rss = rss.get('parallel-s3');
      const localRss = rss.get('parallel-local');
      results.push({
        store,
        dataset: `s3-${ds.id}`,
        bytes: ds.bytes,
        workers,
        rounds: opts.rounds,
        rows,
        ceilingMibPerS: ceiling,
        ratio: Number((rate('parallel-s3') / ceiling).toFixed(3)),
        rssDeltaMiB: s3Rss === undefined || localRss === undefined ? null : Math.round(s3Rss - localRss),
        mismatch,
        loadAverage1m: load,
      });
    }
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}

/** The s3 rows as a Markdown table, and the targets' verdicts. */
export function s3Table(results: readonly S3Result[]): string {
  const lines = ['| store | dataset | row | best s | MiB/s | peak RSS MiB | rounds (s) |', '|---|---|---|---|---|---|---|'];
  const verdicts: string[] = [];
  for (const r of results) {
    for (const row of r.rows) {
      lines.push(`| ${r.store} | ${r.dataset} | ${row.kind === 'parallel-s3' || row.kind === 'parallel-local' ? `${row.kind} (${r.workers}w)` : row.kind} | ${row.bestS.toFixed(2)} | ${row.mibPerS.toFixed(1)} | ${row.peakRssMiB ?? '–'} | ${row.seconds.map((s) => s.toFixed(2)).join(', ')} |`);
    }
    verdicts.push(
      `${r.store}, ${r.dataset} (${sizeLabel(Math.round(r.bytes / MiB))}, load ${r.loadAverage1m.join(', ')}): parallel from S3 at ${(r.ratio * 100).toFixed(0)}% of the ceiling ${r.ceilingMibPerS.toFixed(1)} MiB/s (target ${S3_TARGET_RATIO * 100}%: ${r.ratio >= S3_TARGET_RATIO ? 'met' : 'NOT met'}); peak RSS ${r.rssDeltaMiB === null ? '?' : `${r.rssDeltaMiB >= 0 ? '+' : ''}${r.rssDeltaMiB} MiB`} over the local run (target ≤ ${S3_RSS_TARGET_MIB} MiB: ${r.rssDeltaMiB !== null && r.rssDeltaMiB <= S3_RSS_TARGET_MIB ? 'met' : 'NOT met'})${r.mismatch ? `; MISMATCH: ${r.mismatch}` : ''}`,
    );
  }
  return [...lines, '', ...verdicts.map((v) => `- ${v}`)].join('\n');
}
