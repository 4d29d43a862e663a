/**
 * A map task's reads of an object in S3, in the worker: views of the chunks the main thread
 * streams into shared memory (object-feed.ts), asked for over the task's MessagePort, for a
 * shard's lines to be scanned where they lie (a ViewAt, scan/range-reader.ts), or copies of
 * them (a ReadAt: a gzip object's bytes, handed to zlib).
 * Reads must come at increasing positions (readOwnedLines' and a gzip object's do): each
 * request tells the main thread the position read now, before which every byte is done with
 * (its chunks may be reused), and asks for the bytes past those held, ahead of the reads.
 */
import type { MessagePort } from 'node:worker_threads';
import { InputError } from '../../core/errors.js';
import type { ReadAt, ViewAt } from '../scan/range-reader.js';
import type { FeedReply, FeedRequest } from './protocol.js';

/** A prefetch is asked for once fewer bytes than this are held past the read position. */
const PREFETCH_BELOW = 4 << 20;
/** Bytes a request asks for at least. */
const REQUEST_BYTES = 4 << 20;
/** What a view of no bytes is. */
const EMPTY = Buffer.alloc(0);

export class FeedReader {
  /** The chunks answered and not yet read past (contiguous), with the object offset of each one's first byte. */
  private held: { readonly bytes: Buffer; readonly start: number }[] = [];
  /** The request in flight (at most one), and the position it asked for. */
  private inflight: Promise<FeedReply> | null = null;
  private inflightPos = -1;
  private inflightShard = -1;
  private answer: ((r: FeedReply) => void) | null = null;
  /** Where the object ends, once an answer said so. */
  private eofAt = Infinity;
  private closed = false;

  /** The shard read now (its index, named in each request). */
  private shard = -1;

  constructor(private readonly port: MessagePort) {
    port.on('message', (r: FeedReply) => this.settle(r));
    port.on('close', () => {
      this.closed = true;
      this.settle({ error: 'the main thread stopped reading the object' });
    });
  }

  /** Reads (copies) of the shard with this index (a task's shards are read one after another). */
  reader(shard: number): ReadAt {
    this.begin(shard);
    return this.readAt;
  }

  /** Views of the shard with this index, in shared memory (no copy). */
  viewer(shard: number): ViewAt {
    this.begin(shard);
    return this.viewAt;
  }

  private begin(shard: number): void {
    this.shard = shard;
    this.held = [];
    this.eofAt = Infinity;
  }

  /**
   * Bytes at `pos` into buf[off, off + len): from the chunks at hand (no message), else from
   * those the main thread answers. While the held bytes run low, the next ones are asked for
   * ahead (one request in flight), so that a read seldom waits for the main thread.
   */
  private readonly readAt: ReadAt = (buf, off, len, pos) => {
    this.dropBefore(pos);
    const n = this.copy(buf, off, len, pos);
    if (n === 0) return this.arrive(pos, len).then((held) => (held ? this.copy(buf, off, len, pos) : 0));
    this.prefetch(pos);
    return n;
  };

  /**
   * Bytes at `pos`, up to `len`, as a view of the chunk holding them, fetched as readAt's;
   * valid until the next call (the chunk is not reused before a later position is asked for).
   */
  private readonly viewAt: ViewAt = (pos, len) => {
    this.dropBefore(pos);
    const v = this.view(pos, len);
    if (v.length === 0) return this.arrive(pos, len).then((held) => (held ? this.view(pos, len) : v));
    this.prefetch(pos);
    return v;
  };

  /** Forgets the chunks wholly before `pos`. */
  private dropBefore(pos: number): void {
    while (this.held.length > 0 && this.held[0]!.start + this.held[0]!.bytes.length <= pos) this.held.shift();
  }

  /** The bytes of the shard with this index from its start to the object's end, in order, as chunks (a gzip object): each read into a buffer of its own, handed on as is. */
  async *chunks(shard: number, start = 0): AsyncGenerator<Buffer> {
    const read = this.reader(shard);
    for (let pos = start; ; ) {
      const buf = Buffer.allocUnsafe(1 << 20);
      const got = read(buf, 0, buf.length, pos);
      const n = typeof got === 'number' ? got : await got;
      if (n === 0) return;
      pos += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  }

  /** The end of the held bytes (where the next request asks from). */
  private heldEnd(pos: number): number {
    const last = this.held[this.held.length - 1];
    return last === undefined ? pos : last.start + last.bytes.length;
  }

  /** Asks for the bytes past those held when they run low, keeping those from `pos` on. */
  private prefetch(pos: number): void {
    if (this.inflight !== null || this.closed) return;
    const end = this.heldEnd(pos);
    if (end >= this.eofAt || end - pos >= PREFETCH_BELOW) return;
    this.request(end, REQUEST_BYTES, pos);
  }

  /** Posts a request: bytes at `at` (up to `len`), every byte before `keep` done with. */
  private request(at: number, len: number, keep: number): void {
    this.inflightPos = at;
    this.inflightShard = this.shard;
    this.inflight = new Promise<FeedReply>((resolve) => {
      this.answer = resolve;
    });
    this.port.postMessage({ shard: this.shard, pos: at, len, keep } satisfies FeedRequest);
  }

  private settle(r: FeedReply): void {
    const answer = this.answer;
    this.answer = null;
    answer?.(r);
  }

  /** Waits for the request in flight; its chunks are held if it asked for the shard read now (else the answer is dropped). */
  private async take(): Promise<void> {
    const at = this.inflightPos;
    const shard = this.inflightShard;
    const reply = await this.inflight!;
    this.inflight = null;
    if (shard !== this.shard) return;
    if ('error' in reply) throw new InputError(reply.error);
    if ('eof' in reply) {
      this.eofAt = Math.min(this.eofAt, at);
      return;
    }
    const end = this.held.length === 0 ? -1 : this.heldEnd(at);
    for (const c of reply.chunks) {
      if (end >= 0 && c.start + c.length <= end) continue;
      this.held.push({ bytes: Buffer.from(c.chunk, 0, c.length), start: c.start });
    }
  }

  /**
   * Waits until the chunks at hand hold `pos` (true; the next ones asked for ahead) or the
   * object ends before it (false): the request in flight is answered first (bytes asked for
   * ahead, or for the shard read before), then `pos` itself is asked for if it is not held.
   */
  private async arrive(pos: number, len: number): Promise<boolean> {
    if (this.inflight !== null) {
      await this.take();
      if (this.view(pos, 1).length > 0) {
        this.prefetch(pos);
        return true;
      }
    }
    if (pos >= this.eofAt) return false;
    if (this.closed) throw new Error('the main thread stopped reading the object');
    this.held = [];
    this.request(pos, Math.max(len, REQUEST_BYTES), pos);
    await this.take();
    if (pos >= this.eofAt) return false;
    if (this.view(pos, 1).length === 0) throw new Error(`internal: the feed answered no bytes at position ${pos}`);
    this.prefetch(pos);
    return true;
  }

  /** Up to `len` bytes at `pos` of the chunk at hand that holds it, as a view (empty if none does). */
  private view(pos: number, len: number): Buffer {
    for (const c of this.held) {
      if (pos < c.start) break;
      const from = pos - c.start;
      if (from < c.bytes.length) return c.bytes.subarray(from, from + Math.min(len, c.bytes.length - from));
    }
    return EMPTY;
  }

  /** Copies what the chunks at hand hold of [pos, pos + len) from pos on: how many bytes (0 if they do not hold pos). */
  private copy(buf: Buffer, off: number, len: number, pos: number): number {
    let n = 0;
    for (let v = this.view(pos, len); v.length > 0 && n < len; v = this.view(pos + n, len - n)) {
      buf.set(v, off + n);
      n += v.length;
    }
    return n;
  }

  close(): void {
    this.closed = true;
    this.port.close();
  }
}
