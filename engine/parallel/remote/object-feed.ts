/**
 * Objects in S3 read for the map tasks by the main thread (README "Objects in S3"): one
 * streamed GET per object, from its first byte to its last, or with `--s3-streams N` one per
 * run of its shards (engine/core/input/s3.ts's S3RangeReader: pinned to the listed ETag,
 * reopened where it stopped after a failure), into a window of shared chunks that the tasks
 * reading the object's shards scan in place (a gzip object's: copy out for zlib;
 * feed-reader.ts). So
 * - the AWS SDK (about 25 MiB of memory per thread) and the HTTP work stay on the main thread,
 *   which does no per-line work: the workers only scan lines, as they do for a local file;
 * - an object costs one GET (or N) however finely it is sharded, so shards can be as small as
 *   load balance wants (a GET has a fixed cost a local read has not);
 * - memory is bounded by the span the running tasks read at once: the window keeps the bytes
 *   from the lowest position a shard not yet finished may still ask for (a started shard's
 *   last request's `keep`, an unstarted one's first byte) to the highest position asked for, plus
 *   READ_AHEAD_BYTES. The stream reads on while a request waits past its end, so a request
 *   never waits on memory (no deadlock), and reads ahead only that far otherwise.
 */
import { setMaxListeners } from 'node:events';
import type { MessagePort } from 'node:worker_threads';
import { InputError } from '../../core/errors.js';
import type { S3Object } from '../../core/input/s3-url.js';
import type { Shard } from '../sharding.js';
import type { FeedChunk, FeedReply, FeedRequest } from './protocol.js';

/** Bytes per chunk of a window (one read of the stream; one answer to a task). */
export const FEED_CHUNK_BYTES = 1 << 20;
/** How far the stream reads past the highest position asked for. */
export const READ_AHEAD_BYTES = 2 << 20;

/** Where an object's bytes come from: S3RangeReader's shape (a test may give another source). */
export interface ObjectReader {
  readAt(buf: Buffer, off: number, len: number, pos: number): Promise<number>;
  close(): void;
}
/** A source of the object's bytes from `origin`, read sequentially, most of them before `limit`. */
export type OpenObject = (object: S3Object, path: string, origin: number, limit: number, signal: AbortSignal) => Promise<ObjectReader>;

/** The real source: one streamed ranged GET of [origin, limit) and a tail past it, through the AWS SDK (loaded here, on the main thread, only). */
export const openS3Object: OpenObject = async (object, path, origin, limit, signal) => {
  const { S3RangeReader } = await import('../../core/input/s3.js');
  return new S3RangeReader(object, path, origin, limit, signal);
};

interface Chunk {
  readonly start: number;
  readonly length: number;
  readonly sab: SharedArrayBuffer;
}

/** Freed chunks, reused by every object of a run. */
class ChunkPool {
  private readonly free: SharedArrayBuffer[] = [];
  /** Chunks made so far (the most the windows held at once). */
  made = 0;
  take(): SharedArrayBuffer {
    const sab = this.free.pop();
    if (sab !== undefined) return sab;
    this.made++;
    return new SharedArrayBuffer(FEED_CHUNK_BYTES);
  }
  give(sab: SharedArrayBuffer): void {
    this.free.push(sab);
  }
}

/** One stream of an object and its window, shared by the tasks reading a run of its shards (a segment). */
class ObjectFeed {
  private readonly chunks: Chunk[] = [];
  /** Where the stream starts (the byte before the first shard, to align) and where its shards end. */
  private readonly origin: number;
  private readonly limit: number;
  /** The object offset the stream reads next (the window's end). */
  private hi: number;
  private maxAsked = 0;
  private reading = false;
  private failed: string | null = null;
  private closed = false;
  private reader: ObjectReader | null = null;
  private readonly pending: { readonly pos: number; readonly len: number; readonly reply: (r: FeedReply) => void }[] = [];
  /** A started shard's lowest position still needed (its last request's `keep`), by shard index. */
  private readonly positions = new Map<number, number>();
  /** The shards not finished, by index. */
  private readonly left = new Map<number, Shard>();

  constructor(
    private readonly object: S3Object,
    /** The object's input path (its URL), for messages and to tell objects apart. */
    readonly path: string,
    shards: readonly Shard[],
    private readonly pool: ChunkPool,
    private readonly open: OpenObject,
    private readonly signal: AbortSignal,
  ) {
    for (const s of shards) this.left.set(s.index, s);
    this.origin = Math.max(0, Math.min(...shards.map((s) => s.start)) - 1);
    this.limit = shards.some((s) => s.end < 0) ? object.size : Math.max(...shards.map((s) => s.end));
    this.hi = this.origin;
  }

  ask(shard: number, pos: number, len: number, keep: number, reply: (r: FeedReply) => void): void {
    if (this.failed !== null) return reply({ error: this.failed });
    if (!this.left.has(shard)) return reply({ error: `internal: shard ${shard} is not one of ${this.path}'s` });
    this.positions.set(shard, Math.min(keep, pos));
    this.release();
    if (pos >= this.object.size) return reply({ eof: true });
    if (pos > this.maxAsked) this.maxAsked = pos;
    if (pos < this.hi) {
      const chunks = this.answer(pos, len);
      if (chunks.length > 0) return reply({ chunks });
      return reply({ error: `internal: bytes at ${pos} of ${this.path} were released before they were read, or lie before the stream's start` });
    }
    this.pending.push({ pos, len, reply });
    void this.pump();
  }

  /** Opens the stream and reads ahead from the first shard's start before any task asks (its first byte may take a while). */
  prime(): void {
    this.maxAsked = this.origin;
    void this.pump();
  }

  /** The shard is done with (its task ended): its bytes may go. Whether the whole object is. */
  finish(shard: number): boolean {
    this.left.delete(shard);
    this.positions.delete(shard);
    if (this.left.size > 0) {
      this.release();
      return false;
    }
    this.close();
    return true;
  }

  close(): void {
    this.closed = true;
    this.reader?.close();
    this.reader = null;
    for (const c of this.chunks.splice(0)) this.pool.give(c.sab);
    for (const p of this.pending.splice(0)) p.reply({ error: `cannot read ${this.path}: the run stopped` });
  }

  /** The window's chunks holding [pos, pos + len) that are read, from the one holding pos (none if it is not in the window). */
  private answer(pos: number, len: number): FeedChunk[] {
    const out: FeedChunk[] = [];
    for (const c of this.chunks) {
      if (c.start + c.length <= pos) continue;
      if (c.start >= pos + len || (out.length === 0 && c.start > pos)) break;
      out.push({ chunk: c.sab, start: c.start, length: c.length });
    }
    return out;
  }

  /** Gives back the chunks below every position a shard not finished may still ask for. */
  private release(): void {
    let floor = Infinity;
    for (const s of this.left.values()) floor = Math.min(floor, this.positions.get(s.index) ?? Math.max(0, s.start - 1));
    while (this.chunks.length > 0 && this.chunks[0]!.start + this.chunks[0]!.length <= floor) this.pool.give(this.chunks.shift()!.sab);
  }

  /** Reads the stream on while a request waits past the window's end, or until READ_AHEAD_BYTES past the highest one asked for. */
  private async pump(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      while (!this.closed && this.hi < this.object.size && (this.pending.length > 0 || this.hi < this.maxAsked + READ_AHEAD_BYTES)) {
        this.reader ??= await this.open(this.object, this.path, this.origin, this.limit, this.signal);
        const sab = this.pool.take();
        let n: number;
        try {
          n = await this.reader.readAt(Buffer.from(sab), 0, Math.min(FEED_CHUNK_BYTES, this.object.size - this.hi), this.hi);
        } catch (err) {
          this.pool.give(sab);
          throw err;
        }
        if (this.closed) {
          this.pool.give(sab);
          return;
        }
        if (n === 0) throw new InputError(`cannot read ${this.path}: the object ended at byte ${this.hi} of the ${this.object.size} listed`);
        const c: Chunk = { start: this.hi, length: n, sab };
        this.chunks.push(c);
        this.hi += n;
        for (let i = 0; i < this.pending.length; ) {
          const p = this.pending[i]!;
          if (p.pos < this.hi) {
            this.pending.splice(i, 1);
            p.reply({ chunks: this.answer(p.pos, p.len) });
          } else i++;
        }
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.reading = false;
    }
  }

  private fail(err: unknown): void {
    this.failed = err instanceof InputError ? err.message : this.signal.aborted ? `cannot read ${this.path}: the run stopped` : `cannot read ${this.path}: ${err instanceof Error ? err.message : String(err)}`;
    for (const p of this.pending.splice(0)) p.reply({ error: this.failed });
    this.reader?.close();
    this.reader = null;
  }
}

/**
 * The objects in S3 of a run's shards, each streamed once for the tasks that read it. A task
 * reading any is given one end of a MessageChannel (connect), and is finished when it ends.
 */
export class ObjectFeeds {
  private readonly pool = new ChunkPool();
  private readonly byShard = new Map<number, ObjectFeed>();
  private readonly feeds = new Set<ObjectFeed>();
  private readonly ports = new Set<MessagePort>();
  private readonly abort = new AbortController();

  /**
   * `streams`: concurrent streams per object, each a ranged GET of a contiguous run of its
   * shards (a segment); the tasks are then handed out across an object's segments in turn
   * (dispatchOrder), so that every stream is read at once.
   */
  constructor(shards: readonly Shard[], streams: number, signal?: AbortSignal, open: OpenObject = openS3Object) {
    // Every object's open reader listens to this signal (S3RangeReader, until it is closed):
    // as many at once as objects are being read, which passes Node's warning limit of 10.
    setMaxListeners(0, this.abort.signal);
    if (signal !== undefined) {
      if (signal.aborted) this.abort.abort(signal.reason);
      else signal.addEventListener('abort', () => this.abort.abort(signal.reason), { once: true });
    }
    const byPath = new Map<string, Shard[]>();
    for (const s of shards) {
      if (s.s3 === undefined) continue;
      let list = byPath.get(s.path);
      if (list === undefined) byPath.set(s.path, (list = []));
      list.push(s);
    }
    for (const [path, list] of byPath) {
      list.sort((a, b) => a.start - b.start);
      const k = Math.max(1, Math.min(streams, list.length));
      for (let j = 0; j < k; j++) {
        const segment = list.slice(Math.floor((j * list.length) / k), Math.floor(((j + 1) * list.length) / k));
        const feed = new ObjectFeed(list[0]!.s3!, path, segment, this.pool, open, this.abort.signal);
        this.feeds.add(feed);
        for (const s of segment) this.byShard.set(s.index, feed);
      }
    }
    // The first object's streams open now, while the workers start: a GET's first byte can take
    // a while (the bench's store reads the whole object first), and no task waits on it then.
    const first = shards.find((s) => s.s3 !== undefined);
    if (first !== undefined) for (const f of this.feeds) if (f.path === first.path) f.prime();
  }

  /**
   * The order to hand the tasks out in (indexes into `tasks`): as given, but each run of tasks
   * reading one object taken from its segments in turn (one from the first, one from the
   * second, ...), so that its streams are read together.
   */
  dispatchOrder(tasks: readonly (readonly Shard[])[]): number[] {
    const order: number[] = [];
    for (let i = 0; i < tasks.length; ) {
      const feed = this.byShard.get(tasks[i]![0]!.index);
      const path = feed?.path;
      if (path === undefined) {
        order.push(i++);
        continue;
      }
      const bySegment = new Map<ObjectFeed, number[]>();
      for (; i < tasks.length; i++) {
        const f = this.byShard.get(tasks[i]![0]!.index);
        if (f === undefined || f.path !== path) break;
        let list = bySegment.get(f);
        if (list === undefined) bySegment.set(f, (list = []));
        list.push(i);
      }
      const lists = [...bySegment.values()];
      for (let round = 0; lists.some((l) => round < l.length); round++) for (const l of lists) if (round < l.length) order.push(l[round]!);
    }
    return order;
  }

  /** Whether a shard's bytes come through a feed. */
  has(shard: Shard): boolean {
    return this.byShard.has(shard.index);
  }

  /** Answers the requests a task makes on `port` (the other end goes to the task). */
  connect(port: MessagePort): void {
    this.ports.add(port);
    port.on('message', (m: FeedRequest) => {
      const feed = this.byShard.get(m.shard);
      const reply = (r: FeedReply) => {
        if (this.ports.has(port)) port.postMessage(r);
      };
      if (feed === undefined) reply({ error: `internal: shard ${m.shard} is read from no object in S3` });
      else feed.ask(m.shard, m.pos, m.len, m.keep, reply);
    });
  }

  /** A task ended (done or failed): its port closes and its shards' bytes may go. */
  finished(port: MessagePort, shards: readonly Shard[]): void {
    this.ports.delete(port);
    port.close();
    for (const s of shards) {
      const feed = this.byShard.get(s.index);
      if (feed === undefined) continue;
      this.byShard.delete(s.index);
      if (feed.finish(s.index)) this.feeds.delete(feed);
    }
  }

  /** Chunks made (the windows' peak, FEED_CHUNK_BYTES each). */
  get chunksMade(): number {
    return this.pool.made;
  }

  /** Stops every stream and closes every port. */
  close(): void {
    this.abort.abort(new Error('closed'));
    for (const f of this.feeds) f.close();
    this.feeds.clear();
    for (const p of this.ports) p.close();
    this.ports.clear();
  }
}
