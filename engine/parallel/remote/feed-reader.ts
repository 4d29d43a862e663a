/**
 * A map task's reads of an object in S3, in the worker: a ReadAt (scan/range-reader.ts) over
 * the chunks the main thread streams (object-feed.ts), asked for over the task's MessagePort.
 * Reads must come at increasing positions (readOwnedLines' and a gzip object's do): a request
 * tells the main thread that every byte before it is done with, so the chunk it answered
 * before may be reused.
 */
import type { MessagePort } from 'node:worker_threads';
import { InputError } from '../../core/errors.js';
import type { ReadAt } from '../scan/range-reader.js';
import type { FeedReply, FeedRequest } from './protocol.js';

export class FeedReader {
  /** The chunks last answered (contiguous), with the object offset of each one's first byte. */
  private held: { readonly bytes: Uint8Array; readonly start: number }[] = [];
  private waiting: { resolve(r: FeedReply): void; reject(e: Error): void } | null = null;
  private closed = false;

  /** The shard read now (its index, named in each request). */
  private shard = -1;

  constructor(private readonly port: MessagePort) {
    port.on('message', (r: FeedReply) => {
      const w = this.waiting;
      this.waiting = null;
      w?.resolve(r);
    });
    port.on('close', () => {
      this.closed = true;
      const w = this.waiting;
      this.waiting = null;
      w?.reject(new Error('the main thread stopped reading the object'));
    });
  }

  /** Reads of the shard with this index (a task's shards are read one after another). */
  reader(shard: number): ReadAt {
    this.shard = shard;
    this.held = [];
    return this.readAt;
  }

  /** Bytes at `pos` into buf[off, off + len): from the chunks at hand (no message), else from those the main thread answers. */
  private readonly readAt: ReadAt = (buf, off, len, pos) => {
    const n = this.copy(buf, off, len, pos);
    return n > 0 ? n : this.fetch(buf, off, len, pos);
  };

  /** The bytes of the shard with this index from its start to the object's end, in order, as chunks (a gzip object). */
  async *chunks(shard: number, start = 0): AsyncGenerator<Buffer> {
    const read = this.reader(shard);
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = start; ; ) {
      const got = read(buf, 0, buf.length, pos);
      const n = typeof got === 'number' ? got : await got;
      if (n === 0) return;
      pos += n;
      yield Buffer.from(buf.subarray(0, n));
    }
  }

  private async fetch(buf: Buffer, off: number, len: number, pos: number): Promise<number> {
    if (this.closed) throw new Error('the main thread stopped reading the object');
    this.held = [];
    const reply = await new Promise<FeedReply>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.port.postMessage({ shard: this.shard, pos, len } satisfies FeedRequest);
    });
    if ('error' in reply) throw new InputError(reply.error);
    if ('eof' in reply) return 0;
    this.held = reply.chunks.map((c) => ({ bytes: new Uint8Array(c.chunk, 0, c.length), start: c.start }));
    const n = this.copy(buf, off, len, pos);
    if (n === 0) throw new Error(`internal: the feed answered no bytes at position ${pos}`);
    return n;
  }

  /** Copies what the chunks at hand hold of [pos, pos + len) from pos on: how many bytes (0 if they do not hold pos). */
  private copy(buf: Buffer, off: number, len: number, pos: number): number {
    let n = 0;
    for (const c of this.held) {
      const at = pos + n;
      if (n >= len || at >= c.start + c.bytes.length) continue;
      if (at < c.start) break;
      const from = at - c.start;
      const k = Math.min(len - n, c.bytes.length - from);
      buf.set(c.bytes.subarray(from, from + k), off + n);
      n += k;
    }
    return n;
  }

  close(): void {
    this.closed = true;
    this.port.close();
  }
}
