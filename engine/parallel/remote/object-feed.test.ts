import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { InputError } from '../../core/errors.js';
import type { Shard } from '../sharding.js';
import { FEED_CHUNK_BYTES, ObjectFeeds, READ_AHEAD_BYTES, type ObjectReader, type OpenObject } from './object-feed.js';
import { FeedReader } from './feed-reader.js';
import type { FeedRequest } from './protocol.js';
import type { ReadAt, ViewAt } from '../scan/range-reader.js';

/** An object's bytes served from memory, each read after a tick, as a stream would: what the feed opens, and where it read. */
function memorySource(data: Buffer, opts: { failAt?: number } = {}) {
  const opened: { origin: number; limit: number }[] = [];
  let closed = 0;
  const open: OpenObject = async (_object, _path, origin, limit) => {
    opened.push({ origin, limit });
    let at = origin;
    const reader: ObjectReader = {
      async readAt(buf, off, len, pos) {
        await new Promise((r) => setImmediate(r));
        if (pos !== at) throw new Error(`the feed read at ${pos}, not where its stream was (${at})`);
        if (opts.failAt !== undefined && pos + len > opts.failAt) throw new InputError('cannot read s3://b/k: the store answered HTTP 500 (after 6 attempts)');
        const n = Math.max(0, Math.min(len, data.length - pos));
        data.copy(buf, off, pos, pos + n);
        at += n;
        return n;
      },
      close() {
        closed++;
      },
    };
    return reader;
  };
  return { open, opened, closed: () => closed };
}

function shardsOf(size: number, shardBytes: number, path = 's3://b/k'): Shard[] {
  const s3 = { bucket: 'b', key: 'k', size, region: 'us-east-1' };
  const out: Shard[] = [];
  for (let start = 0; start < size; start += shardBytes) out.push({ index: out.length, path, format: 'space', gzip: false, start, end: Math.min(size, start + shardBytes), s3 });
  return out;
}

/**
 * Reads a shard as a map task does: from the byte before it to its end and a tail past it, in
 * reads of varying sizes at increasing positions: copies (a gzip object's reads) for an even
 * seed, views of the shared chunks (a plain object's) for an odd one.
 */
async function readShard(feeds: ObjectFeeds, shard: Shard, size: number, seed: number): Promise<Buffer> {
  const { port1, port2 } = new MessageChannel();
  feeds.connect(port1);
  const reader = new FeedReader(port2);
  const read: ReadAt = seed % 2 === 0 ? reader.reader(shard.index) : viewsCopied(reader.viewer(shard.index));
  const from = Math.max(0, shard.start - 1);
  const to = Math.min(size, shard.end + 1000);
  const out = Buffer.alloc(to - from);
  try {
    for (let pos = from, k = seed; pos < to; k++) {
      const len = Math.min(to - pos, 1 + ((k * 7919) % (3 * FEED_CHUNK_BYTES)));
      const got = read(out, pos - from, len, pos);
      const n = typeof got === 'number' ? got : await got;
      expect(n).toBeGreaterThan(0);
      pos += n;
    }
    return out.subarray(0, to - from);
  } finally {
    feeds.finished(port1, [shard]);
    reader.close();
  }
}

/**
 * Views as reads: each view copied into the buffer (at most one chunk a call). A view must
 * keep its bytes until the next call, while the other tasks ask and the stream reads on: each
 * call first checks that the last view still holds what it held.
 */
function viewsCopied(viewAt: ViewAt): ReadAt {
  let last: { view: Buffer; bytes: Buffer } | undefined;
  return async (buf, off, len, pos) => {
    // A tick first, for the stream to read on and the other tasks to ask, as the scan of a chunk lets them.
    await new Promise((r) => setImmediate(r));
    if (last !== undefined) expect(last.view.equals(last.bytes), 'a view changed before the next call').toBe(true);
    const v = await viewAt(pos, len);
    expect(v.length).toBeLessThanOrEqual(Math.min(len, FEED_CHUNK_BYTES));
    v.copy(buf, off);
    last = { view: v, bytes: Buffer.from(v) };
    return v.length;
  };
}

/** Runs the tasks `workers` at a time in the given order, as the runtime hands them out. */
async function runTasks(feeds: ObjectFeeds, shards: Shard[], order: number[], workers: number, data: Buffer): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < order.length) {
        const s = shards[order[next++]!]!;
        const got = await readShard(feeds, s, data.length, s.index);
        const from = Math.max(0, s.start - 1);
        expect(got.equals(data.subarray(from, from + got.length)), `shard ${s.index}`).toBe(true);
      }
    }),
  );
}

describe('ObjectFeeds: an object streamed once on the main thread, read by the tasks through their ports', () => {
  it('gives every shard its bytes from one stream, holding only about the shards being read at once', async () => {
    const data = randomBytes(40 * FEED_CHUNK_BYTES + 12345);
    const shards = shardsOf(data.length, FEED_CHUNK_BYTES + 777);
    const src = memorySource(data);
    const feeds = new ObjectFeeds(shards, 1, undefined, src.open);
    const order = feeds.dispatchOrder(shards.map((s) => [s]));
    expect(order).toEqual(shards.map((_, i) => i));
    await runTasks(feeds, shards, order, 3, data);
    expect(src.opened).toEqual([{ origin: 0, limit: data.length }]);
    expect(src.closed()).toBe(1);
    // Three shards of about a chunk each, their tails, and the read-ahead: far below the object's 41 chunks.
    expect(feeds.chunksMade).toBeLessThanOrEqual(3 * 2 + 2 + READ_AHEAD_BYTES / FEED_CHUNK_BYTES + 2);
    feeds.close();
  });

  it('with streams per object, reads each run of shards (a segment) by its own ranged stream and hands the segments out in turn', async () => {
    const data = randomBytes(12 * FEED_CHUNK_BYTES + 99);
    const shards = shardsOf(data.length, FEED_CHUNK_BYTES);
    const src = memorySource(data);
    const feeds = new ObjectFeeds(shards, 3, undefined, src.open);
    const order = feeds.dispatchOrder(shards.map((s) => [s]));
    expect(order).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, 12]);
    await runTasks(feeds, shards, order, 2, data);
    expect(src.opened.map((o) => o.origin).sort((a, b) => a - b)).toEqual([0, 4 * FEED_CHUNK_BYTES - 1, 8 * FEED_CHUNK_BYTES - 1]);
    expect(src.opened.map((o) => o.limit).sort((a, b) => a - b)).toEqual([4 * FEED_CHUNK_BYTES, 8 * FEED_CHUNK_BYTES, data.length]);
    expect(src.closed()).toBe(3);
    feeds.close();
  });

  it('keeps the order of tasks on local files and of other objects, interleaving only within an object', () => {
    const a = shardsOf(4 * FEED_CHUNK_BYTES, FEED_CHUNK_BYTES, 's3://b/a');
    const local: Shard = { index: 4, path: '/logs/x.log', format: 'space', gzip: false, start: 0, end: 10 };
    const b = shardsOf(2 * FEED_CHUNK_BYTES, FEED_CHUNK_BYTES, 's3://b/c').map((s, i) => ({ ...s, index: 5 + i }));
    const all = [...a, local, ...b];
    const feeds = new ObjectFeeds(all, 2, undefined, memorySource(Buffer.alloc(0)).open);
    expect(feeds.dispatchOrder(all.map((s) => [s]))).toEqual([0, 2, 1, 3, 4, 5, 6]);
    expect(feeds.has(local)).toBe(false);
    feeds.close();
  });

  it("one task reading two shards in a row drops what it asked ahead for the first", async () => {
    // The main thread's side played by hand: each request is answered with a chunk of one letter.
    const { port1, port2 } = new MessageChannel();
    const requests: FeedRequest[] = [];
    let next: ((r: FeedRequest) => void) | null = null;
    port1.on('message', (r: FeedRequest) => {
      requests.push(r);
      next?.(r);
    });
    const chunkOf = (letter: string, start: number) => {
      const sab = new SharedArrayBuffer(FEED_CHUNK_BYTES);
      new Uint8Array(sab).fill(letter.charCodeAt(0));
      return { chunks: [{ chunk: sab, start, length: FEED_CHUNK_BYTES }] };
    };
    const asked = () => new Promise<FeedRequest>((resolve) => (next = resolve));
    const reader = new FeedReader(port2);
    const buf = Buffer.alloc(100);
    const first = reader.reader(0);
    const firstAsk = asked();
    const one = first(buf, 0, 100, 10);
    expect((await firstAsk).pos).toBe(10);
    const ahead = asked();
    port1.postMessage(chunkOf('A', 0));
    expect(await one).toBe(100);
    expect(buf.toString('latin1', 0, 3)).toBe('AAA');
    // Fewer than 4 MiB held past the read: the next bytes of shard 0 are asked for ahead.
    expect(await ahead).toMatchObject({ shard: 0, pos: FEED_CHUNK_BYTES, keep: 10 });
    const second = reader.reader(1);
    const at = FEED_CHUNK_BYTES + 5;
    const read = second(buf, 0, 100, at);
    // Shard 0's answer comes after the task moved on: it must not be read as shard 1's bytes.
    const again = asked();
    port1.postMessage(chunkOf('A', FEED_CHUNK_BYTES));
    expect(await again).toMatchObject({ shard: 1, pos: at, keep: at });
    port1.postMessage(chunkOf('B', FEED_CHUNK_BYTES));
    expect(await read).toBe(100);
    expect(buf.toString('latin1', 0, 100)).toBe('B'.repeat(100));
    reader.close();
    port1.close();
  });

  it('a failed stream fails every task waiting on it and every later one, with the reader message (it names no credential)', async () => {
    const data = randomBytes(8 * FEED_CHUNK_BYTES);
    const shards = shardsOf(data.length, 2 * FEED_CHUNK_BYTES);
    const feeds = new ObjectFeeds(shards, 1, undefined, memorySource(data, { failAt: 5 * FEED_CHUNK_BYTES }).open);
    const results = await Promise.allSettled(shards.map((s) => readShard(feeds, s, data.length, 1)));
    // Shards 2 and 3 need bytes past the failure; the others may have been read before it or not.
    expect(results.slice(2).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      const err = (r as PromiseRejectedResult).reason as Error;
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toBe('cannot read s3://b/k: the store answered HTTP 500 (after 6 attempts)');
    }
    feeds.close();
  });

  it('a run that stops answers the waiting tasks and closes the stream', async () => {
    const data = randomBytes(4 * FEED_CHUNK_BYTES);
    const shards = shardsOf(data.length, 4 * FEED_CHUNK_BYTES);
    const src = memorySource(data);
    const stop = new AbortController();
    const feeds = new ObjectFeeds(shards, 1, stop.signal, src.open);
    const { port1, port2 } = new MessageChannel();
    feeds.connect(port1);
    const reader = new FeedReader(port2);
    const pending = reader.reader(0)(Buffer.alloc(100), 0, 100, 3 * FEED_CHUNK_BYTES);
    stop.abort(new Error('interrupted'));
    feeds.close();
    await expect(pending).rejects.toThrow(/the run stopped|stopped reading/);
    reader.close();
  });

  it('a gzip object (one shard, end -1) is read whole, in order, as chunks', async () => {
    const data = randomBytes(3 * FEED_CHUNK_BYTES + 5);
    const s3 = { bucket: 'b', key: 'k.gz', size: data.length, region: 'us-east-1' };
    const shard: Shard = { index: 0, path: 's3://b/k.gz', format: 'space', gzip: true, start: 0, end: -1, s3 };
    const src = memorySource(data);
    const feeds = new ObjectFeeds([shard], 1, undefined, src.open);
    const { port1, port2 } = new MessageChannel();
    feeds.connect(port1);
    const reader = new FeedReader(port2);
    const parts: Buffer[] = [];
    for await (const c of reader.chunks(0)) parts.push(c);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(src.opened).toEqual([{ origin: 0, limit: data.length }]);
    feeds.finished(port1, [shard]);
    reader.close();
    feeds.close();
  });
});
