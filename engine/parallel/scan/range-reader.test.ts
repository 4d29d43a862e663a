/**
 * Shards of a plain file, read by readOwnedLines, must together yield exactly the lines of the
 * whole file (each once, same offsets, same too-long verdicts) for any shard size: the lines
 * of core's LineFramer (the definition) and of the independent model in fixtures/framing.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { chunkViews, fdReader, readOwnedLines, type ByteLineSink, type ByteSource, type ViewAt } from './range-reader.js';
import { LF, lineContentEnd, tooLongHead } from '../../core/formats/lines.js';
import { cleanupTempDirs, tempDir } from '../../../fixtures/harness.js';
import { definitionFrames, edgeLine, referenceFrames, type FrameEvent } from '../../../fixtures/framing.js';

afterAll(cleanupTempDirs);

const dir = tempDir();
let n = 0;
/** The smallest buffer the reader accepts, so its refill and compaction paths run often. */
const buf = Buffer.alloc(65537 + 64 * 1024);

/**
 * How the bytes come: a file's readSync, asynchronous partial reads (as an S3 object's ranged
 * blocks arrive: at most `piece` bytes a call, a promise each time), or views (as an S3
 * object's chunks in shared memory are scanned: views that end at multiples of `piece`, as
 * chunks do, given at once or by a promise), each view's bytes spoilt once the next is asked
 * for, so that a line kept from a view past its life shows.
 */
type Mode = 'sync' | { piece: number } | { view: number; async: boolean } | { stream: number };
const MODES: readonly Mode[] = ['sync', { piece: 7919 }, { piece: 1 << 20 }, { view: 61, async: false }, { view: 7919, async: true }, { view: 1 << 20, async: false }, { stream: 61 }, { stream: 65521 }];

/** The bytes as a stream of `size`-byte chunks (as a gzip file's come, decompressed), each a fresh buffer spoilt once the next is taken. */
async function* streamOf(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) {
    const chunk = Buffer.from(data.subarray(at, at + size));
    yield chunk;
    chunk.fill(0x0a);
  }
}

function readerOf(fd: number, data: Buffer, mode: Mode): ByteSource {
  const sync = fdReader(fd);
  if (mode === 'sync') return sync;
  if ('stream' in mode) {
    let pulls = 0;
    const chunks = Math.ceil(data.length / mode.stream);
    const viewAt = chunkViews(streamOf(data, mode.stream), () => {
      pulls++;
      // Each chunk once, and the end once: never a pull past it.
      expect(pulls).toBeLessThanOrEqual(chunks + 1);
    });
    return { viewAt };
  }
  if ('piece' in mode) return (b, off, len, pos) => new Promise((resolve) => setImmediate(() => resolve(sync(b, off, Math.min(len, mode.piece), pos))));
  let last: Buffer | undefined;
  let at = -1;
  const viewAt: ViewAt = (pos, len) => {
    // Positions only increase, as FeedReader requires.
    expect(pos).toBeGreaterThanOrEqual(at);
    at = pos;
    last?.fill(0x0a);
    const to = Math.min(data.length, pos + len, (Math.floor(pos / mode.view) + 1) * mode.view);
    last = pos >= data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(pos, to));
    const view = last;
    return mode.async ? new Promise((resolve) => setImmediate(() => resolve(view))) : view;
  };
  return { viewAt };
}

/** The sink's two shapes: lines one by one, or blocks of whole lines (the scanners' hot path), split here by the framing rule. */
type Sink = 'lines' | 'blocks';

async function readSharded(data: Buffer, shardSize: number): Promise<FrameEvent[]> {
  let first: FrameEvent[] | undefined;
  // Each way the bytes come is read by one of the sink's shapes, in turn (every view size by a shape the next one has not).
  for (const [i, mode] of MODES.entries()) {
    const shape = i % 2 === 0 ? 'lines' : 'blocks';
    const events = await readShardedBy(data, shardSize, mode, shape);
    if (first === undefined) first = events;
    else expect(events, `reads ${JSON.stringify(mode)}, ${shape}`).toEqual(first);
  }
  return first!;
}

function sinkOf(events: FrameEvent[], shape: Sink): ByteLineSink {
  const line = (b: Buffer, s: number, e: number, offset: number) => events.push({ kind: 'line', offset, text: b.subarray(s, e).toString('latin1') });
  const tooLong = (offset: number, head: Buffer) => events.push({ kind: 'tooLong', offset, head: head.subarray(0, 1024).toString('latin1') });
  if (shape === 'lines') return { line, tooLong };
  const block = (b: Buffer, start: number, end: number, offset: number) => {
    expect(b[end - 1], 'a block ends with LF').toBe(LF);
    for (let ls = start; ls < end; ) {
      const lf = b.indexOf(LF, ls);
      const at = offset + (ls - start);
      const le = lineContentEnd(b, ls, lf, at);
      if (le < 0) tooLong(at, tooLongHead(b, ls, at));
      else line(b, ls, le, at);
      ls = lf + 1;
    }
  };
  return { block, line, tooLong };
}

async function readShardedBy(data: Buffer, shardSize: number, mode: Mode, shape: Sink): Promise<FrameEvent[]> {
  const path = join(dir, `f${n++}.log`);
  writeFileSync(path, data);
  const fd = openSync(path, 'r');
  const events: FrameEvent[] = [];
  let bytes = 0;
  // A stream is read whole, as a gzip file is: one shard.
  const size = typeof mode === 'object' && 'stream' in mode ? Math.max(shardSize, data.length) : shardSize;
  try {
    for (let start = 0; start < data.length || start === 0; start += size) {
      const end = Math.min(data.length, start + size);
      buf.fill(0x0a); // stale newlines must not be taken for line ends
      await readOwnedLines(readerOf(fd, data, mode), start, end, sinkOf(events, shape), buf, (k) => (bytes += k));
      if (end >= data.length) break;
    }
  } finally {
    closeSync(fd);
  }
  // Progress: every byte counted; each shard after the first also counts the one byte before it it reads to align.
  expect(bytes).toBeGreaterThanOrEqual(data.length);
  expect(bytes).toBeLessThanOrEqual(data.length + Math.ceil(data.length / shardSize));
  // The fast path is held to the shared definition on every input it is given.
  expect(events).toEqual(definitionFrames(data));
  return events;
}

describe('readOwnedLines', async () => {
  it('every shard size from 1 to 40 bytes, and larger ones, on a small mixed file', async () => {
    const data = Buffer.from('\ufeffa b\r\n\r\n  \nccc\rd\r\r\n\n\ne f g h i\r');
    const expected = referenceFrames(data);
    for (let size = 1; size <= 40; size++) expect(await readSharded(data, size), `shard ${size}`).toEqual(expected);
  });

  it('a file ending with LF, and an empty file', async () => {
    for (const text of ['x\n', '\n', 'x\ny\n', '']) {
      const data = Buffer.from(text);
      for (let size = 1; size <= 4; size++) expect(await readSharded(data, size)).toEqual(referenceFrames(data));
    }
  });

  it('lines around the 64 KiB limit, shards cutting them anywhere', async () => {
    const parts = [Buffer.from('head\n')];
    for (const len of [65535, 65536, 65537, 65538, 200_000]) {
      parts.push(Buffer.alloc(len, 'a'), Buffer.from('\n'), Buffer.alloc(len - 1, 'b'), Buffer.from('\r\n'), Buffer.from('short\n'));
    }
    parts.push(Buffer.alloc(70_000, 'z')); // too long, no final LF
    const data = Buffer.concat(parts);
    const expected = referenceFrames(data);
    expect(expected.filter((e) => e.kind === 'tooLong').length).toBe(6);
    for (const size of [4096, 65536, 65537, 65539, 100_000, 131_073, 1 << 20, data.length]) {
      expect(await readSharded(data, size), `shard ${size}`).toEqual(expected);
    }
  });

  it('a BOM at offset 0 does not count towards the limit, as in LineFramer', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    for (const len of [65535, 65536, 65537]) {
      const data = Buffer.concat([bom, Buffer.alloc(len, 'a'), Buffer.from('\r\n'), bom, Buffer.alloc(len, 'b'), Buffer.from('\n')]);
      const expected = definitionFrames(data);
      expect(expected.map((e) => e.kind)).toEqual([len <= 65536 ? 'line' : 'tooLong', len + 3 <= 65536 ? 'line' : 'tooLong']);
      for (const size of [1, 3, 65539, 70_000, data.length]) expect(await readSharded(data, size), `shard ${size}`).toEqual(expected);
    }
  });

  it('matches the reference framing for random content and shard sizes', async () => {
    const piece = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('a', 'bc', '\n', '\r', '\r\n', ' ', 'é').map((s) => Buffer.from(s)) },
      { weight: 1, arbitrary: fc.tuple(fc.nat(20), fc.nat(25)).map(([k, s]) => edgeLine(k, s)) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 30, size: 'medium' }), fc.integer({ min: 1, max: 150_000 }), async (pieces, size) => {
        const data = Buffer.concat(pieces);
        expect(await readSharded(data, size)).toEqual(referenceFrames(data));
        expect(definitionFrames(data, 1 + (size % 70_000))).toEqual(definitionFrames(data));
      }),
      { numRuns: 60 },
    );
  });
});
