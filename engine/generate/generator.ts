/**
 * Synthetic API logs in every format, with a chosen share of bad lines of each reject
 * reason. Deterministic for a seed. Lines are built as latin1 strings (ASCII content plus
 * raw 0xFF bytes for bad_encoding) and written in large chunks; a shape other than plain
 * (shapes.ts) rewrites each line as it is written, drawing its own values from a PRNG of its
 * own, so a shaped file holds the same records as the plain one.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { setImmediate as turn } from 'node:timers/promises';
import { stagingPath } from '../core/outputs/staged.js';
import type { Format } from '../core/formats/format.js';
import { REJECT_REASONS, type RejectReason } from '../core/validation/reasons.js';
import { ByteBuilder } from './byte-builder.js';
import { lineShaper, shapeMismatch, type Shape } from './shapes.js';

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
  /** CSV and JSON lines: every good record carries a unique `request_id` (SPEC "Duplicate deliveries"). */
  readonly requestIds?: boolean;
  /** Share (0..1) of batches delivered twice, as a retrying shipper does: the batch's bytes repeated right after it. */
  readonly redeliver?: number;
  /** Share (0..1) of the re-delivered good records with ids that come back changed (their duration): conflicting duplicates. */
  readonly conflicts?: number;
  /** Lines per batch (default 100). */
  readonly batchLines?: number;
  /** How the lines are written (shapes.ts; default plain). */
  readonly shape?: Shape;
  /** Stops the writing (checked between chunks); the file is then not written. */
  readonly signal?: AbortSignal;
}

export interface GenerateResult {
  readonly lines: number;
  readonly bytes: number;
  readonly bad: Record<string, number>;
  /** Lines written again in re-delivered batches (good and bad alike), and the good ones of them changed. */
  readonly redelivered: number;
  readonly changed: number;
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

export function reasonsFor(format: Format, requestIds = false): RejectReason[] {
  // bad_wrapper belongs to wrapped input (--wrapped): the fluent-bit shape wraps every line
  // well, so that the wrapped file bills exactly like the plain one.
  return REJECT_REASONS.filter((r) =>
    r === 'bad_wrapper' ? false : r === 'bad_json' ? format === 'jsonl' : r === 'bad_field_count' ? format !== 'jsonl' : r === 'bad_request_id' ? requestIds && format !== 'space' : true,
  );
}

const CHUNK_BYTES = 4 << 20;

/**
 * Every second of a day as `HH:MM:SSZ`, 9 bytes each. Built on the first `generate`, not
 * when the module loads: every CLI command imports this module, and building it took about
 * a tenth of the CLI's start-up.
 */
let timesOfDay: Buffer | undefined;
function secondsOfDay(): Buffer {
  if (timesOfDay !== undefined) return timesOfDay;
  const b = Buffer.allocUnsafe(86400 * 9);
  for (let t = 0; t < 86400; t++) b.write(`${TWO[(t / 3600) | 0]}:${TWO[((t / 60) | 0) % 60]}:${TWO[t % 60]}Z`, t * 9, 'latin1');
  return (timesOfDay = b);
}

/** The seed of a shape's own PRNG: another sequence than the records', so that a shape draws none of theirs. */
const shapeSeed = (seed: number) => (Math.imul(seed, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;

export async function generate(o: GenerateOptions): Promise<GenerateResult> {
  const shape = o.shape ?? 'plain';
  const misfit = shapeMismatch(shape, o.format);
  if (misfit !== null) throw new RangeError(misfit);
  const times = secondsOfDay();
  const rnd = prng(o.seed);
  const ids = o.requestIds === true && o.format !== 'space';
  const reasons = reasonsFor(o.format, ids).filter((r) => (o.bad[r] ?? 0) > 0);
  const thresholds: number[] = [];
  let acc = 0;
  for (const r of reasons) thresholds.push((acc += o.bad[r]!));
  if (acc > 1) throw new RangeError('the bad-line shares add up to more than 1');
  const badShare = acc;
  const badCounts: Record<string, number> = {};
  const start = Date.parse(`${o.startDay}T00:00:00Z`);
  const days = Array.from({ length: o.days }, (_, d) => Buffer.from(new Date(start + d * 86400000).toISOString().slice(0, 11), 'latin1'));
  // User names user1..userN packed in one buffer.
  const userNames = Buffer.from(Array.from({ length: o.users }, (_, i) => `user${i + 1}`).join(''), 'latin1');
  const userStart = new Int32Array(o.users + 1);
  for (let i = 0, at = 0; i < o.users; i++) {
    userStart[i] = at;
    at += 4 + String(i + 1).length;
    userStart[i + 1] = at;
  }
  const tasks = o.tasks.map((t) => Buffer.from(t, 'latin1'));
  const fmt = o.format;
  const [pre, sep1, sep2, sep3, sep4, post] = (
    fmt === 'space'
      ? ['', ' ', ' ', ' ', ' ', 'ms\n']
      : fmt === 'csv'
        ? ['', ',', ',', ',', ',', '\n']
        : ['{"timestamp":"', '","user":"', '","task":"', '","status":', ',"duration_ms":', '}\n']
  ).map((t) => Buffer.from(t, 'latin1')) as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
  // Request ids come first on the line (so a record's last digits are its duration): `req-<seed>-<n>`.
  const idPrefix = fmt === 'csv' ? `req-${o.seed}-` : `{"request_id":"req-${o.seed}-`;
  const idSuffix = fmt === 'csv' ? ',' : '",';
  const batchLines = o.batchLines ?? 100;
  const redeliver = o.redeliver ?? 0;
  const conflicts = o.conflicts ?? 0;
  let redelivered = 0;
  let changed = 0;
  let batchStart = 0;
  let batchCount = 0;
  /** Where the duration's last digit of each good line of the current batch stands in `out` (a conflict changes it). */
  const goodLines: number[] = [];

  const sink = await openSink(o.out, o.gzip);
  try {
    const out = new ByteBuilder(CHUNK_BYTES + 256 * 1024);
    const shaper = shape === 'plain' ? null : lineShaper(shape, prng(shapeSeed(o.seed)), o.startDay);
    /** Where a line is built: in `out` itself when plain, else in a builder of its own, then written to `out` in the shape. */
    const w = shaper === null ? out : new ByteBuilder(256 * 1024);
    const put = (piece: Buffer) => w.bytes(piece, 0, piece.length);
    /** A line given as text (the header, a bad line): as it is, or in the shape. */
    const textLine = (text: string) => {
      if (shaper === null) return out.text(`${text}\n`);
      w.text(text);
      shaper.line(w.buf, 0, w.len, out);
      w.len = 0;
    };
    if (fmt === 'csv') textLine(ids ? 'request_id,timestamp,user,task,status,duration_ms' : 'timestamp,user,task,status,duration_ms');
    batchStart = out.len;
    let lines = 0;
    let bytes = 0;
    const maxLines = o.lines ?? Number.POSITIVE_INFINITY;
    const maxBytes = o.bytes ?? Number.POSITIVE_INFINITY;

    while (lines < maxLines && bytes + out.len < maxBytes) {
      const day = days[(rnd() * o.days) | 0]!;
      const second = (rnd() * 86400) | 0;
      const u = (rnd() * o.users) | 0;
      const task = (rnd() * tasks.length) | 0;
      const r = rnd();
      const status = r < 0.9 ? 200 : r < 0.95 ? 404 : 500;
      const duration = 50 + ((rnd() * 2000) | 0);
      const pick = badShare > 0 ? rnd() : 1;
      lines++;
      if (pick >= badShare) {
        if (ids) {
          w.text(idPrefix);
          w.int(lines);
          w.text(fmt === 'csv' ? idSuffix : '');
          if (fmt === 'jsonl') w.text('","timestamp":"');
        }
        if (!(ids && fmt === 'jsonl')) put(pre);
        w.bytes(day, 0, 11);
        w.bytes(times, second * 9, second * 9 + 9);
        put(sep1);
        w.bytes(userNames, userStart[u]!, userStart[u + 1]!);
        put(sep2);
        w.bytes(tasks[task]!, 0, tasks[task]!.length);
        put(sep3);
        w.int(status);
        put(sep4);
        w.int(duration);
        const digit = w.len - 1;
        put(post);
        if (shaper === null) goodLines.push(digit);
        else {
          // Every `post` ends with the LF, which the shape writes itself.
          goodLines.push(shaper.line(w.buf, 0, w.len - 1, out, digit));
          w.len = 0;
        }
      } else {
        let i = 0;
        while (pick >= thresholds[i]!) i++;
        const reason = reasons[i]!;
        badCounts[reason] = (badCounts[reason] ?? 0) + 1;
        const ts = `${day.toString('latin1')}${times.toString('latin1', second * 9, second * 9 + 9)}`;
        const user = userNames.toString('latin1', userStart[u]!, userStart[u + 1]!);
        const line = badLine(fmt, reason, rnd, ts, user, o.tasks[task]!, String(status), String(duration));
        textLine(ids ? withBadOrNoId(fmt, line, reason) : line);
      }
      if (++batchCount === batchLines || lines >= maxLines) {
        if (redeliver > 0 && lines + batchCount <= maxLines && rnd() < redeliver) {
          // The shipper retries the whole batch: its bytes again, some good records changed.
          const end = out.len;
          out.repeat(batchStart, end);
          const shift = end - batchStart;
          redelivered += batchCount;
          lines += batchCount;
          if (ids && conflicts > 0) {
            for (const at of goodLines) {
              if (rnd() >= conflicts) continue;
              // The duration's last digit changed, in the batch's second delivery.
              const p = at + shift;
              const d = out.buf[p]! - 48;
              out.buf[p] = 48 + ((d + 1) % 10);
              changed++;
            }
          }
        }
        batchCount = 0;
        goodLines.length = 0;
        if (out.len >= CHUNK_BYTES) {
          bytes += await sink.write(out.buf.subarray(0, out.len));
          // A turn of the event loop between chunks, so that a signal is handled (and stops the writing).
          await turn();
          o.signal?.throwIfAborted();
          out.len = 0;
        }
        batchStart = out.len;
      }
    }
    bytes += await sink.write(out.buf.subarray(0, out.len));
    await sink.commit();
    return { lines, bytes, bad: badCounts, redelivered, changed };
  } catch (err) {
    await sink.discard();
    throw err;
  }
}

/** A bad line of a run with request ids: with a bad id for bad_request_id, else without an id. */
function withBadOrNoId(fmt: Format, line: string, reason: RejectReason): string {
  if (fmt === 'csv') return `${reason === 'bad_request_id' ? 'bad id' : ''},${line}`;
  if (reason === 'bad_request_id' && line.startsWith('{')) return `{"request_id":42,${line.slice(1)}`;
  return line;
}

/** One line that fails exactly `reason` (latin1 text; 0xFF for bad encoding). */
function badLine(fmt: Format, reason: RejectReason, rnd: () => number, ts: string, user: string, task: string, status: string, duration: string): string {
  let timestamp = ts;
  switch (reason) {
    case 'line_too_long':
      return `${ts} ${user} ${task} ${status} ${'9'.repeat(70_000)}ms`;
    case 'bad_field_count':
      return fmt === 'csv' ? `${ts},${user},${task},${duration}` : `${ts} ${user} ${task} ${duration}ms`;
    case 'bad_json':
      return `{"timestamp":"${ts}","user":"${user}"`;
    case 'bad_encoding':
      user = `${user}\xff`;
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
  switch (fmt) {
    case 'space':
      return `${timestamp} ${user} ${task} ${status} ${duration.endsWith('s') ? duration : `${duration}ms`}`;
    case 'csv':
      return `${timestamp},${user},${task},${status},${duration}`;
    case 'jsonl': {
      const num = (v: string) => (/^\d+$/.test(v) ? v : JSON.stringify(v));
      const escaped = user.replace(/[\x00-\x1f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      return `{"timestamp":"${timestamp}","user":"${escaped}","task":"${task}","status":${num(status)},"duration_ms":${num(duration)}}`;
    }
  }
}

/**
 * Where the lines go: a staging name beside `out` (staged.ts stagingPath), renamed to `out` by
 * commit, removed by discard, so that an interrupted or failed run leaves no partial file that
 * looks generated (nor a stale one replaced by half of another).
 */
interface Sink {
  write(bytes: Buffer): Promise<number>;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

async function openSink(path: string, gzip: boolean): Promise<Sink> {
  mkdirSync(dirname(path), { recursive: true });
  const temp = stagingPath(path);
  const remove = () => rmSync(temp, { force: true });
  if (!gzip) {
    let fd: number | null = openSync(temp, 'wx', 0o644);
    const close = () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    };
    return {
      async write(b) {
        let off = 0;
        while (off < b.length) off += writeSync(fd!, b, off);
        return b.length;
      },
      async commit() {
        close();
        renameSync(temp, path);
      },
      async discard() {
        close();
        remove();
      },
    };
  }
  const out = createWriteStream(temp, { flags: 'wx', mode: 0o644 });
  const z = createGzip({ level: 1 });
  z.pipe(out);
  return {
    async write(b) {
      if (!z.write(Buffer.from(b))) await once(z, 'drain');
      return b.length;
    },
    async commit() {
      z.end();
      await once(out, 'close');
      renameSync(temp, path);
    },
    async discard() {
      z.destroy();
      out.destroy();
      if (!out.closed) await once(out, 'close').catch(() => undefined);
      remove();
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
