/**
 * Synthetic API logs in every format, with a chosen share of bad lines of each reject
 * reason. Deterministic for a seed. Lines are built as latin1 strings (ASCII content plus
 * raw 0xFF bytes for bad_encoding) and written in large chunks.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Format } from '../core/formats/format.js';
import { REJECT_REASONS, type RejectReason } from '../core/validation/reasons.js';

export const DEFAULT_TASKS = ['login', 'getUserProfile', 'createOrder', 'updateInventory', 'deleteOrder'];

export interface GenerateOptions {
  readonly out: string;
  readonly format: Format;
  /** Stop after this many bytes (approximately: whole lines) ... */
  readonly bytes?: number;
  /** ... or after this many lines. */
  readonly lines?: number;
  readonly users: number;
  readonly tasks: readonly string[];
  /** Share (0..1) of lines that are bad, per reject reason. */
  readonly bad: Partial<Record<RejectReason, number>>;
  readonly seed: number;
  readonly gzip: boolean;
  /** First day of the generated timestamps (YYYY-MM-DD) and how many days they span. */
  readonly startDay: string;
  readonly days: number;
}

export interface GenerateResult {
  readonly lines: number;
  readonly bytes: number;
  readonly bad: Record<string, number>;
}

/** mulberry32: a small, fast, seedable PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TWO = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const CHUNK_CHARS = 4 << 20;

export function reasonsFor(format: Format): RejectReason[] {
  return REJECT_REASONS.filter((r) => (r === 'bad_json' ? format === 'jsonl' : r === 'bad_field_count' ? format !== 'jsonl' : true));
}

export async function generate(o: GenerateOptions): Promise<GenerateResult> {
  const rnd = prng(o.seed);
  const reasons = reasonsFor(o.format).filter((r) => (o.bad[r] ?? 0) > 0);
  const thresholds: number[] = [];
  let acc = 0;
  for (const r of reasons) thresholds.push((acc += o.bad[r]!));
  if (acc > 1) throw new RangeError('the bad-line shares add up to more than 1');
  const badCounts: Record<string, number> = {};
  const dayPrefixes: string[] = [];
  const start = Date.parse(`${o.startDay}T00:00:00Z`);
  for (let d = 0; d < o.days; d++) dayPrefixes.push(new Date(start + d * 86400000).toISOString().slice(0, 11));
  const userNames = Array.from({ length: o.users }, (_, i) => `user${i + 1}`);

  const sink = await openSink(o.out, o.gzip);
  let chunk = o.format === 'csv' ? 'timestamp,user,task,status,duration_ms\n' : '';
  let lines = 0;
  let bytes = 0;
  const maxLines = o.lines ?? Number.POSITIVE_INFINITY;
  const maxBytes = o.bytes ?? Number.POSITIVE_INFINITY;

  while (lines < maxLines && bytes + chunk.length < maxBytes) {
    const ts = `${dayPrefixes[(rnd() * o.days) | 0]}${TWO[(rnd() * 24) | 0]}:${TWO[(rnd() * 60) | 0]}:${TWO[(rnd() * 60) | 0]}Z`;
    let user = userNames[(rnd() * o.users) | 0]!;
    let task = o.tasks[(rnd() * o.tasks.length) | 0]!;
    let status = rnd() < 0.9 ? '200' : rnd() < 0.5 ? '404' : '500';
    let duration = String(50 + ((rnd() * 2000) | 0));
    let timestamp = ts;
    let line: string | null = null;
    const pick = reasons.length > 0 ? rnd() : 1;
    let reason: RejectReason | undefined;
    for (let i = 0; i < thresholds.length; i++) {
      if (pick < thresholds[i]!) {
        reason = reasons[i];
        break;
      }
    }
    switch (reason) {
      case undefined:
        break;
      case 'line_too_long':
        line = `${ts} ${user} ${task} ${status} ${'9'.repeat(70_000)}ms`;
        break;
      case 'bad_encoding':
        user = `${user}\xff`;
        break;
      case 'bad_field_count':
        line = o.format === 'csv' ? `${ts},${user},${task},${duration}` : `${ts} ${user} ${task} ${duration}ms`;
        break;
      case 'bad_json':
        line = `{"timestamp":"${ts}","user":"${user}"`;
        break;
      case 'bad_timestamp':
        timestamp = rnd() < 0.5 ? '2025-02-30T10:00:00Z' : ts.replace('T', '_');
        break;
      case 'bad_user':
        user = rnd() < 0.5 ? 'u'.repeat(129) : `${user}\x01`;
        break;
      case 'unknown_task':
        task = 'refundOrder';
        break;
      case 'bad_status':
        status = rnd() < 0.5 ? '700' : 'OK';
        break;
      case 'bad_duration':
        duration = rnd() < 0.5 ? '12s' : '-5';
        break;
    }
    if (reason !== undefined) badCounts[reason] = (badCounts[reason] ?? 0) + 1;
    if (line === null) {
      switch (o.format) {
        case 'space':
          line = `${timestamp} ${user} ${task} ${status} ${duration.endsWith('s') ? duration : `${duration}ms`}`;
          break;
        case 'csv':
          line = `${timestamp},${user},${task},${status},${duration}`;
          break;
        case 'jsonl': {
          const num = (s: string) => (/^\d+$/.test(s) ? s : JSON.stringify(s));
          line = `{"timestamp":"${timestamp}","user":"${user.replace(/[\x00-\x1f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}","task":"${task}","status":${num(status)},"duration_ms":${num(duration)}}`;
          break;
        }
      }
    }
    chunk += line + '\n';
    lines++;
    if (chunk.length >= CHUNK_CHARS) {
      bytes += await sink.write(chunk);
      chunk = '';
    }
  }
  bytes += await sink.write(chunk);
  await sink.close();
  return { lines, bytes, bad: badCounts };
}

interface Sink {
  write(latin1: string): Promise<number>;
  close(): Promise<void>;
}

async function openSink(path: string, gzip: boolean): Promise<Sink> {
  mkdirSync(dirname(path), { recursive: true });
  if (!gzip) {
    const fd = openSync(path, 'w');
    return {
      async write(s) {
        const b = Buffer.from(s, 'latin1');
        let off = 0;
        while (off < b.length) off += writeSync(fd, b, off);
        return b.length;
      },
      async close() {
        closeSync(fd);
      },
    };
  }
  const out = createWriteStream(path);
  const z = createGzip({ level: 1 });
  z.pipe(out);
  return {
    async write(s) {
      const b = Buffer.from(s, 'latin1');
      if (!z.write(b)) await once(z, 'drain');
      return b.length;
    },
    async close() {
      z.end();
      await once(out, 'close');
    },
  };
}

/** Parses sizes such as `64MiB`, `1GiB`, `500k`, `1048576`. */
export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (m === null) return null;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}
