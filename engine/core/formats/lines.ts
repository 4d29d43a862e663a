/**
 * Line framing shared by every reader: LF-terminated lines with byte offsets, one CR
 * before LF (or at end of input) dropped, lines longer than MAX_LINE_BYTES (not counting
 * a BOM at offset 0) reported
 * without buffering them whole, a final line without its newline kept.
 *
 * The rule for one line is `lineContentEnd`; LineFramer frames a stream of chunks with it
 * and is the definition. The parallel engine's byte-level readers (parallel/scan) frame
 * in their own buffers for speed, with the same `lineContentEnd` and `maxRawLineBytes`;
 * property tests hold them to LineFramer.
 */
import { MAX_LINE_BYTES, MAX_REJECT_RAW_BYTES } from '../validation/reasons.js';
import { RULES, inRanges } from '../validation/rules.js';

export interface LineSink {
  /** A line within the length limit; `bytes` is only valid during the call. */
  line(offset: number, bytes: Buffer): void;
  /** A line over the length limit; `head` holds its first bytes (at least MAX_REJECT_RAW_BYTES when that many exist). */
  tooLong(offset: number, head: Buffer): void;
}

export const LF = 10;
export const CR = 13;
/** Longest raw line (CR included) that can still be within the limit once a trailing CR is dropped. */
export const MAX_RAW_LINE_BYTES = MAX_LINE_BYTES + 1;
const BOM_BYTES = 3;

/**
 * How many raw bytes (terminator excluded) a line starting at file offset `lineOffset` may
 * gather before it is known to be too long: a trailing CR and, at offset 0, a BOM do not count.
 */
export function maxRawLineBytes(lineOffset: number): number {
  return MAX_RAW_LINE_BYTES + (lineOffset === 0 ? BOM_BYTES : 0);
}

/**
 * The framing rule for one line: `buf[start, end)` is the line without its LF, its first
 * byte at file offset `offset`. Returns where its content ends (one trailing CR dropped), or
 * -1 when it is longer than MAX_LINE_BYTES (a BOM at offset 0 not counted).
 */
export function lineContentEnd(buf: Uint8Array, start: number, end: number, offset: number): number {
  if (end > start && buf[end - 1] === CR) end--;
  const bom = offset === 0 ? bomLength(buf.subarray(start, end)) : 0;
  return end - start - bom > MAX_LINE_BYTES ? -1 : end;
}

/**
 * The head of a too-long line starting at buf[start], its first byte at file offset `offset`:
 * its first MAX_REJECT_RAW_BYTES bytes after a BOM at offset 0 (dropped, as from every line
 * there), copied (the caller reuses its buffer).
 */
export function tooLongHead(buf: Uint8Array, start: number, offset: number): Buffer {
  const from = offset === 0 ? start + bomLength(buf.subarray(start, start + BOM_BYTES)) : start;
  return Buffer.from(buf.subarray(from, from + MAX_REJECT_RAW_BYTES));
}

export class LineFramer {
  private offset: number;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private lineStart: number;
  private skipping = false;

  constructor(
    private readonly sink: LineSink,
    startOffset = 0,
  ) {
    this.offset = startOffset;
    this.lineStart = startOffset;
  }

  /** Offset just past the bytes pushed so far. */
  get position(): number {
    return this.offset;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf < 0 ? n : lf;
      if (this.skipping) {
        // Inside a line already known to be too long: drop bytes until its LF.
      } else if (this.pendingLen === 0 && lf >= 0) {
        this.emit(chunk.subarray(pos, end));
      } else {
        this.pending.push(chunk.subarray(pos, end));
        this.pendingLen += end - pos;
        if (this.pendingLen > maxRawLineBytes(this.lineStart)) {
          const head = Buffer.concat(this.pending, Math.min(this.pendingLen, MAX_REJECT_RAW_BYTES + BOM_BYTES));
          this.sink.tooLong(this.lineStart, tooLongHead(head, 0, this.lineStart));
          this.pending = [];
          this.pendingLen = 0;
          this.skipping = true;
        } else if (lf < 0) {
          // Keep our own copy: callers reuse their buffers.
          const last = this.pending.length - 1;
          this.pending[last] = Buffer.from(this.pending[last]!);
        }
      }
      if (lf < 0) {
        this.offset += n - pos;
        return;
      }
      if (!this.skipping && this.pendingLen > 0) this.flushPending();
      this.skipping = false;
      this.offset += lf + 1 - pos;
      this.lineStart = this.offset;
      pos = lf + 1;
    }
  }

  /** Ends the input: a final line without a newline is emitted. */
  end(): void {
    if (!this.skipping && this.pendingLen > 0) this.flushPending();
    this.pending = [];
    this.pendingLen = 0;
    this.skipping = false;
  }

  private flushPending(): void {
    const line = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
    this.pending = [];
    this.pendingLen = 0;
    this.emit(line);
  }

  private emit(raw: Buffer): void {
    const end = lineContentEnd(raw, 0, raw.length, this.lineStart);
    if (end < 0) this.sink.tooLong(this.lineStart, tooLongHead(raw, 0, this.lineStart));
    else this.sink.line(this.lineStart, raw.subarray(0, end));
  }
}

/**
 * What a record parser is given of a line: a BOM at offset 0 dropped; undefined for a blank
 * line (skipped by every format, not a record).
 */
export function recordBytes(offset: number, bytes: Buffer): Buffer | undefined {
  const content = offset === 0 ? bytes.subarray(bomLength(bytes)) : bytes;
  return isBlank(content) ? undefined : content;
}

/** The ASCII bytes that are white space (RULES.line.blankCodePoints below U+0080): 1, else 0. */
const ASCII_BLANK = Uint8Array.from({ length: 0x80 }, (_, b) => (inRanges(RULES.line.blankCodePoints, b) ? 1 : 0));

/**
 * True when the line holds only white space (RULES.line.blankCodePoints, in UTF-8; a blank
 * line: skipped, not a record). Bytes that are not well-formed UTF-8 are not white space.
 */
export function isBlank(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    let cp: number;
    if (b < 0x80) {
      // Every line is asked: one table look-up per ASCII byte (a record's first byte says no).
      if (ASCII_BLANK[b] === 0) return false;
      i++;
      continue;
    } else if ((b & 0xe0) === 0xc0) {
      const c = bytes[i + 1] ?? 0;
      if ((c & 0xc0) !== 0x80) return false;
      cp = ((b & 0x1f) << 6) | (c & 0x3f);
      if (cp < 0x80) return false; // overlong
      i += 2;
    } else if ((b & 0xf0) === 0xe0) {
      const c = bytes[i + 1] ?? 0;
      const d = bytes[i + 2] ?? 0;
      if ((c & 0xc0) !== 0x80 || (d & 0xc0) !== 0x80) return false;
      cp = ((b & 0x0f) << 12) | ((c & 0x3f) << 6) | (d & 0x3f);
      if (cp < 0x800) return false; // overlong
      i += 3;
    } else {
      return false; // no white space beyond U+FFFF, and no stray byte is any
    }
    if (!inRanges(RULES.line.blankCodePoints, cp)) return false;
  }
  return true;
}

/** Length of a UTF-8 BOM at the start of `bytes` (3 or 0). */
export function bomLength(bytes: Uint8Array): number {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
}
