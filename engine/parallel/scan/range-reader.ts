/**
 * Reads the lines a shard owns from a plain file into one reused buffer: the lines whose
 * first byte lies in [start, end). A line cut by `start` belongs to the previous shard; the
 * last owned line is read past `end` to its newline. One CR before LF (or at end of file)
 * is dropped; a line longer than MAX_LINE_BYTES is reported by its head and skipped without
 * being buffered whole. File bytes never leave the worker. The bytes come from a ByteSource:
 * a local file's readSync into the buffer, or views of an S3 object's chunks, which the main
 * thread streams into shared memory (remote/feed-reader.ts): their lines are scanned where they
 * lie and only a line cut by a chunk's end is copied, to be finished in the buffer (the same
 * line-boundary rules either way).
 */
import { readSync } from 'node:fs';
import { LF, MAX_RAW_LINE_BYTES, lineContentEnd, maxRawLineBytes, tooLongHead } from '../../core/formats/lines.js';

export interface ByteLineSink {
  /**
   * Optional: whole lines at once, buf[start, end) with every line ending in LF (terminators,
   * CRs and the length limit left to the sink), the first at file offset `offset`. Saves a
   * call and a newline search per line on the hot path.
   */
  block?(buf: Buffer, start: number, end: number, offset: number): void;
  /** A line within the limit: buf[start, end), its first byte at file offset `offset`. */
  line(buf: Buffer, start: number, end: number, offset: number): void;
  /** A line over the limit: its first bytes. */
  tooLong(offset: number, head: Buffer): void;
}

/** Reads up to `len` bytes at position `pos` into buf[off, …) and says how many (0 at the end), as readSync. */
export type ReadAt = (buf: Buffer, off: number, len: number, pos: number) => number | Promise<number>;

/**
 * Bytes at `pos` without a copy: a view of up to `len` of them as the source holds them, at
 * least one unless the bytes end at `pos` (then empty); valid until the next call.
 */
export type ViewAt = (pos: number, len: number) => Buffer | Promise<Buffer>;

/** Where a shard's bytes come from: read into the reader's buffer, or seen where they lie. */
export type ByteSource = ReadAt | { readonly viewAt: ViewAt };

/** readSync on a file descriptor, as a ReadAt. */
export function fdReader(fd: number): ReadAt {
  return (buf, off, len, pos) => readSync(fd, buf, off, len, pos);
}

/**
 * The bytes of a stream of chunks (a gzip file's, decompressed) as views, for a reader whose
 * positions only move forward (readOwnedLines): one chunk is held at a time, and a position
 * past it takes the next ones. `pulled` runs after each chunk is taken, and at the end.
 */
export function chunkViews(chunks: AsyncIterator<Buffer>, pulled: () => void): ViewAt {
  let chunk: Buffer = Buffer.alloc(0);
  let at = 0; // stream offset of chunk[0]
  let done = false;
  return async (pos, len) => {
    if (pos < at) throw new Error(`internal: stream bytes at ${pos} read after those at ${at}`);
    while (pos >= at + chunk.length) {
      if (done) return Buffer.alloc(0);
      const r = await chunks.next();
      pulled();
      if (r.done === true) {
        done = true;
        return Buffer.alloc(0);
      }
      at += chunk.length;
      chunk = r.value;
    }
    return chunk.subarray(pos - at, Math.min(chunk.length, pos - at + len));
  };
}

/** How far past the shard's end to read at a time while finishing its last line. */
const TAIL_READ = 64 * 1024;

export async function readOwnedLines(
  source: ByteSource,
  start: number,
  end: number,
  sink: ByteLineSink,
  buf: Buffer,
  onBytes: (n: number) => void,
): Promise<void> {
  if (buf.length < MAX_RAW_LINE_BYTES + TAIL_READ) throw new RangeError('read buffer too small');
  const read = typeof source === 'function' ? source : undefined;
  const viewAt = typeof source === 'function' ? undefined : source.viewAt;
  // Reading from start-1 and skipping through the first LF lands on the first line starting at or after `start`.
  let base = start > 0 ? start - 1 : 0; // file offset of work[0]
  let len = 0;
  let aligning = start > 0;
  let skippingLong = false;
  for (;;) {
    const next = base + len;
    const want = next < end ? Math.min(buf.length - len, end - next) : Math.min(buf.length - len, TAIL_READ);
    // The bytes at hand this round, work[0, len): buf's (a line carried over, then what was read after it), or a source's view.
    let work = buf;
    let n = 0;
    if (want > 0 && read !== undefined) {
      const got = read(buf, len, want, next);
      // A file's reads are synchronous: no await (and no microtask) on the local hot path.
      n = typeof got === 'number' ? got : await got;
    } else if (want > 0) {
      const got = viewAt!(next, want);
      const view = got instanceof Uint8Array ? got : await got;
      if (len === 0) {
        // Nothing carried: the view is scanned where it lies.
        work = view;
        n = view.length;
      } else {
        // A line carried over is finished in buf: only its bytes are copied (through its LF, if the view holds it).
        const lf = view.indexOf(LF);
        n = lf < 0 ? view.length : lf + 1;
        buf.set(view.subarray(0, n), len);
      }
    }
    const eof = n === 0;
    if (next < end) onBytes(Math.min(n, end - next));
    len += n;
    let pos = 0;
    if (aligning || skippingLong) {
      const lf = work.indexOf(LF, 0);
      if (lf < 0 || lf >= len) {
        // No newline before the shard's end: no line starts inside it (or after the long line).
        if (eof || base + len >= end) return;
        base += len;
        len = 0;
        continue;
      }
      pos = lf + 1;
      aligning = false;
      skippingLong = false;
    }
    for (;;) {
      const lineOffset = base + pos;
      if (lineOffset >= end) return;
      if (sink.block !== undefined) {
        // (len 0: nothing at hand; lastIndexOf would take -1 from the end, among stale bytes.)
        let last = len === 0 ? -1 : work.lastIndexOf(LF, len - 1);
        if (last >= pos) {
          // Owned lines start before work[limit]; the last of them ends at the first LF at or after limit - 1.
          const limit = end - base;
          const stop = limit <= last + 1;
          if (stop) last = work.indexOf(LF, Math.max(pos, limit - 1));
          sink.block(work, pos, last + 1, lineOffset);
          pos = last + 1;
          if (stop) return;
          continue;
        }
      }
      let lf = work.indexOf(LF, pos);
      if (lf >= len) lf = -1;
      if (lf < 0) {
        if (!eof) break;
        if (pos < len) emit(sink, work, pos, len, lineOffset);
        return;
      }
      emit(sink, work, pos, lf, lineOffset);
      pos = lf + 1;
    }
    const rest = len - pos;
    if (rest > maxRawLineBytes(base + pos)) {
      sink.tooLong(base + pos, tooLongHead(work, pos, base + pos));
      skippingLong = true;
      base += len;
      len = 0;
      continue;
    }
    // The unfinished line moves to buf's start (out of a view, before the next call ends the view's life).
    if (work === buf) buf.copyWithin(0, pos, len);
    else buf.set(work.subarray(pos, len), 0);
    base += pos;
    len = rest;
  }
}

function emit(sink: ByteLineSink, buf: Buffer, start: number, end: number, offset: number): void {
  const contentEnd = lineContentEnd(buf, start, end, offset);
  if (contentEnd < 0) sink.tooLong(offset, tooLongHead(buf, start, offset));
  else sink.line(buf, start, contentEnd, offset);
}
