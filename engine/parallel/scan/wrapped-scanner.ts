/**
 * Wrapped lines around API log lines of the space format or JSON lines, on a fast path: each
 * wrapper judged on bytes, its inner line copied into a block of inner lines, each ending in
 * LF, which the inner format's fast path bills (InnerLines: SpaceScanner, JsonlScanner). A
 * wrapper or an inner line the fast path does not plainly pass goes whole to the exact path,
 * which unwraps it (core/formats/wrapped.ts) and, rejecting it, keeps the wrapped line; lines
 * reach the exact path in their order, so rejects keep the file's order.
 *
 * The fast Fluent Bit wrapper (`--wrapped fluent-bit`): an object whose keys are plain
 * strings; the wrapped key once, its value a string of printable ASCII whose only escapes are
 * `\"` and `\\` (a JSON line inside a JSON string is full of them; the copy unescapes them)
 * but for one final `\n` (or `\r\n`), as Fluent Bit's tail input keeps a line's end; any other
 * key's value one the JSON lines fast path passes over (Kubernetes metadata nests); spaces and
 * tabs between tokens. Anything else (other escapes, the key twice, which JSON.parse resolves
 * to the last) is the exact path's.
 *
 * The fast CloudWatch wrapper (`--wrapped cloudwatch`, `<timestamp> <message>`): before the
 * first space an RFC 3339 timestamp the inner fast path reads (InnerLines.isTimestamp), and a
 * message that does not end in CR (the block's LF after it would make that CR a line end the
 * exact path does not see). A blank message is handed back by the fast path, and skipped by
 * the exact one.
 *
 * Either way the line is within the length limit, and not at offset 0 (a BOM's place).
 */
import { CR, LF, lineContentEnd, tooLongHead } from '../../core/formats/lines.js';
import { MAX_LINE_BYTES } from '../../core/validation/reasons.js';
import { BACKSLASH, COMMA, QUOTE, sameBytes } from './fast-lines.js';
import { CLOSE, COLON, OPEN, STRING_BYTE, otherValueEnd, plainStringEnd, skipBlanks } from './json-values.js';
import type { ByteLineSink } from './range-reader.js';
import type { Wrapping } from '../../core/formats/wrapped.js';

const N = 110;
const R = 114;
const SP = 32;
/** A CloudWatch timestamp's bytes at most on the fast path (nanoseconds and an offset take 35). */
const STAMP_BYTES = 40;

/** What bills the inner lines: a format's fast path (SpaceScanner, FastLineScanner). */
export interface InnerLines {
  /**
   * Bills the common lines of b[s, end) (whole lines, each ending in LF) from s on, the table's
   * adds done: where the first line it does not bill starts, or end.
   */
  billCommon(b: Buffer, s: number, end: number): number;
  /** Whether b[s, e) is an RFC 3339 timestamp the fast path reads. */
  isTimestamp(b: Uint8Array, s: number, e: number): boolean;
}

export class WrappedScanner implements ByteLineSink {
  /** fluent-bit: the wrapped key's bytes; cloudwatch: null. */
  private readonly key: Buffer | null;
  /** Inner lines waiting to be billed, each ending in LF, and where each starts. */
  private inner = Buffer.allocUnsafe(1 << 20);
  private innerEnd = 0;
  private starts = new Int32Array(1024);
  /** Each waiting inner line's wrapped line: buffer range (content, no terminator) and offset. */
  private wrapStart = new Int32Array(1024);
  private wrapEnd = new Int32Array(1024);
  private wrapAt = new Float64Array(1024);
  private waiting = 0;

  constructor(
    wrapping: Wrapping,
    private readonly lines: InnerLines,
    private readonly exact: ByteLineSink,
  ) {
    this.key = wrapping.kind === 'fluent-bit' ? Buffer.from(wrapping.key, 'utf8') : null;
  }

  block(b: Buffer, start: number, end: number, offset: number): void {
    for (let ls = start; ls < end; ) {
      const lf = b.indexOf(LF, ls);
      const at = offset + (ls - start);
      if (at === 0 || lf - ls > MAX_LINE_BYTES || !(this.key === null ? this.cloudWatch(b, ls, lf, at) : this.fluentBit(b, this.key, ls, lf, at))) {
        this.bill(b);
        const le = lineContentEnd(b, ls, lf, at);
        if (le < 0) this.exact.tooLong(at, tooLongHead(b, ls, at));
        else this.exact.line(b, ls, le, at);
      }
      ls = lf + 1;
    }
    this.bill(b);
  }

  line(b: Buffer, start: number, end: number, offset: number): void {
    this.exact.line(b, start, end, offset);
  }

  tooLong(offset: number, head: Buffer): void {
    this.exact.tooLong(offset, head);
  }

  /**
   * The message of the CloudWatch line b[ls, lf) added to the waiting inner lines, when the fast
   * path reads the line (see the module's comment); false (nothing added) else.
   */
  private cloudWatch(b: Buffer, ls: number, lf: number, at: number): boolean {
    // The first space, looked for within a timestamp's common length only (a line without one is not searched past its end).
    const stop = lf < ls + STAMP_BYTES ? lf : ls + STAMP_BYTES;
    let sp = ls;
    while (sp < stop && b[sp] !== SP) sp++;
    if (sp === stop || !this.lines.isTimestamp(b, ls, sp)) return false;
    const le = b[lf - 1] === CR ? lf - 1 : lf;
    if (b[le - 1] === CR) return false;
    this.add(b, sp + 1, le, false, ls, le, at);
    return true;
  }

  /**
   * The inner line of the Fluent Bit line b[ls, lf) (wrapped key `key`) added to the waiting
   * ones, when the wrapper is one the fast path reads; false (nothing added) else.
   */
  private fluentBit(b: Buffer, key: Buffer, ls: number, lf: number, at: number): boolean {
    let i = skipBlanks(b, ls);
    if (b[i++] !== OPEN) return false;
    i = skipBlanks(b, i);
    let vs = -1;
    let ve = -1;
    let escaped = false;
    for (;;) {
      if (b[i] !== QUOTE) return false;
      const ks = i + 1;
      const ke = plainStringEnd(b, ks);
      if (ke < 0) return false;
      i = skipBlanks(b, ke + 1);
      if (b[i] !== COLON) return false;
      i = skipBlanks(b, i + 1);
      if (ke - ks === key.length && sameBytes(key, b, ks, ke)) {
        if (vs >= 0 || b[i] !== QUOTE) return false;
        vs = i + 1;
        let j = vs;
        for (;;) {
          while (STRING_BYTE[b[j]!] === 1) j++;
          if (b[j] !== BACKSLASH || (b[j + 1] !== QUOTE && b[j + 1] !== BACKSLASH)) break;
          escaped = true;
          j += 2;
        }
        ve = j;
        if (b[j] === BACKSLASH && b[j + 1] === N) j += 2;
        else if (b[j] === BACKSLASH && b[j + 1] === R && b[j + 2] === BACKSLASH && b[j + 3] === N) j += 4;
        if (b[j] !== QUOTE) return false;
        i = j + 1;
      } else {
        i = otherValueEnd(b, i);
        if (i < 0) return false;
      }
      i = skipBlanks(b, i);
      const c = b[i++];
      if (c === CLOSE) break;
      if (c !== COMMA) return false;
      i = skipBlanks(b, i);
    }
    i = skipBlanks(b, i);
    const le = b[i] === CR && i + 1 === lf ? i : i === lf ? lf : -1;
    if (le < 0 || vs < 0) return false;
    this.add(b, vs, ve, escaped, ls, le, at);
    return true;
  }

  /** The inner line b[vs, ve) (with `\"` and `\\` undone when `escaped`) added to the waiting ones, for the wrapped line b[ls, le) at offset `at`. */
  private add(b: Buffer, vs: number, ve: number, escaped: boolean, ls: number, le: number, at: number): void {
    // Any inner line fits: its wrapped line is within MAX_LINE_BYTES (block), far below the block's size.
    const len = ve - vs + 1;
    if (this.innerEnd + len > this.inner.length) this.bill(b);
    if (this.waiting === this.starts.length) this.grow();
    const k = this.waiting++;
    this.starts[k] = this.innerEnd;
    this.wrapStart[k] = ls;
    this.wrapEnd[k] = le;
    this.wrapAt[k] = at;
    if (escaped) {
      const inner = this.inner;
      let o = this.innerEnd;
      for (let j = vs; j < ve; j++) inner[o++] = b[j] === BACKSLASH ? b[++j]! : b[j]!;
      inner[o++] = LF;
      this.innerEnd = o;
    } else {
      b.copy(this.inner, this.innerEnd, vs, ve);
      this.innerEnd += len;
      this.inner[this.innerEnd - 1] = LF;
    }
  }

  /** Bills the waiting inner lines; each the fast path leaves goes, wrapped, to the exact path (`b` holds the wrapped lines). */
  private bill(b: Buffer): void {
    const n = this.waiting;
    if (n === 0) return;
    const end = this.innerEnd;
    let k = 0;
    for (let pos = 0; pos < end; ) {
      const stop = this.lines.billCommon(this.inner, pos, end);
      if (stop >= end) break;
      while (this.starts[k]! < stop) k++;
      this.exact.line(b, this.wrapStart[k]!, this.wrapEnd[k]!, this.wrapAt[k]!);
      k++;
      pos = k < n ? this.starts[k]! : end;
    }
    this.waiting = 0;
    this.innerEnd = 0;
  }

  private grow(): void {
    const more = (a: Int32Array) => {
      const g = new Int32Array(a.length * 2);
      g.set(a);
      return g;
    };
    this.starts = more(this.starts);
    this.wrapStart = more(this.wrapStart);
    this.wrapEnd = more(this.wrapEnd);
    const at = new Float64Array(this.wrapAt.length * 2);
    at.set(this.wrapAt);
    this.wrapAt = at;
  }
}
