/**
 * Text of amounts for the priced detail CSV, which at a million users has millions of rows
 * with four amounts each: ByteLine writes formatExact's, formatFixed's and String's texts as
 * ASCII digits straight into an output buffer, with no string made on the way (building row
 * strings, their garbage and their UTF-8 encoding were most of the detail CSV's cost).
 * Numbers only while they are safe integers: for such a p, floor(p / 10^k) is exact (see
 * money/decimal.ts floorDiv), and the parts are written with int32 arithmetic (below 10^9).
 * Bigints go through their strings.
 */
import { formatExact, formatFixed, type Amount } from '../money/decimal.js';
import { WordReader, type WordLiteral } from '../formats/words.js';

const SCALE = 1e12;
const HALF = 1e6;
const ZERO = 48;
const BILLION = 1e9;
/** 10^d for d = 0..12, as numbers (exact). */
const POW10 = Array.from({ length: 13 }, (_, d) => 10 ** d);
/** The two ASCII digits of 0..99, at 2k and 2k + 1: a line's digits are written two at a time. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => ZERO + (i & 1 ? (i >>> 1) % 10 : Math.floor(i / 20)));

/** Decimal digits of n, 0 <= n < 10^9 (comparisons, not a division per digit). */
function digitCount(n: number): number {
  if (n < 10_000) return n < 100 ? (n < 10 ? 1 : 2) : n < 1000 ? 3 : 4;
  if (n < 10_000_000) return n < 100_000 ? 5 : n < 1_000_000 ? 6 : 7;
  return n < 100_000_000 ? 8 : 9;
}

/**
 * A line being encoded into `buf` at `pos`. The caller makes room first (`room`): no put
 * checks for room of its own, as the writer knows each row's largest size (a word written
 * past the buffer's end throws). Bytes copied (a user's id, a literal) are written four at
 * a time: a row of the detail CSV took about a sixth less time than byte by byte.
 */
export class ByteLine {
  pos = 0;
  private out: Buffer;
  /** buf's bytes as words. */
  private view: DataView;
  /** The sources of spans: a merge's tables, whose users come in turn. */
  private readonly from = new WordReader(true);

  constructor(buf: Buffer) {
    this.out = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get buf(): Buffer {
    return this.out;
  }

  set buf(buf: Buffer) {
    this.out = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /**
   * The digits of n, padded with zeros to `width` (n < 10^width, width <= 9: int32
   * arithmetic; a double's % is a call to fmod, an int32's one instruction), written from the
   * last two at a time.
   */
  private padded(n: number, width: number): void {
    const buf = this.out;
    const start = this.pos;
    let m = n | 0;
    let i = start + width;
    while (i - start >= 2) {
      const q = (m / 100) | 0;
      const r = 2 * (m - 100 * q);
      buf[--i] = PAIRS[r + 1]!;
      buf[--i] = PAIRS[r]!;
      m = q;
    }
    if (i > start) buf[start] = ZERO + m;
    this.pos = start + width;
  }

  /** A safe integer >= 0 in decimal (String(n)). */
  uint(n: number): void {
    if (n >= BILLION) {
      // Exact: floor of a safe integer by an integer (money/decimal.ts floorDiv).
      const hi = Math.floor(n / BILLION);
      this.uint(hi);
      this.padded(n - hi * BILLION, 9);
      return;
    }
    this.padded(n, digitCount(n));
  }

  /** An exact amount in picos: formatExact's text (no trailing zero after the point, no point for a whole amount). */
  picos(p: Amount): void {
    if (typeof p !== 'number') return this.text(formatExact(p));
    const whole = Math.floor(p / SCALE);
    const frac = p - whole * SCALE;
    this.uint(whole);
    if (frac === 0) return;
    this.out[this.pos++] = 46;
    // Two int32 halves of six digits; the last non-zero one is written without its trailing zeros.
    const hi = Math.floor(frac / HALF);
    const lo = frac - hi * HALF;
    if (lo === 0) return this.trimmed(hi, 6);
    this.padded(hi, 6);
    this.trimmed(lo, 6);
  }

  /** The digits of n > 0 padded to `width` (<= 9) as padded() writes them, less their trailing zeros. */
  private trimmed(n: number, width: number): void {
    let m = n | 0;
    let w = width;
    for (let q = (m / 10) | 0; m === 10 * q; q = (m / 10) | 0) {
      m = q;
      w--;
    }
    this.padded(m, w);
  }

  /** An integer amount (a count, milliseconds): String(a). */
  amount(a: Amount): void {
    if (typeof a === 'number') this.uint(a);
    else this.text(a.toString());
  }

  /** An amount in 10^-decimals units with exactly `decimals` fractional digits: formatFixed's text. */
  fixed(units: Amount, decimals: number): void {
    if (typeof units !== 'number' || decimals === 0) return this.text(formatFixed(units, decimals));
    const scale = POW10[decimals]!;
    const whole = Math.floor(units / scale);
    const frac = units - whole * scale;
    this.uint(whole);
    this.out[this.pos++] = 46;
    if (decimals > 6) {
      const hi = Math.floor(frac / HALF);
      this.padded(hi, decimals - 6);
      this.padded(frac - hi * HALF, 6);
    } else this.padded(frac, decimals);
  }

  /** Text, as UTF-8 (ASCII byte by byte; anything else through Buffer#write). */
  text(s: string): void {
    const buf = this.out;
    const start = this.pos;
    let pos = start;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = start + buf.write(s, start, 'utf8');
        return;
      }
      buf[pos++] = c;
    }
    this.pos = pos;
  }

  /**
   * The bytes b[at, at + length) (a user's id as it lies in a usage table): from four bytes
   * on by words, every fourth byte's and the last four bytes' (which may overlap the word
   * before), so nothing is read or written past the span.
   */
  span(b: Uint8Array, at: number, length: number): void {
    const pos = this.pos;
    if (length < 4) {
      const buf = this.out;
      for (let i = 0; i < length; i++) buf[pos + i] = b[at + i]!;
    } else {
      const to = this.view;
      const from = this.from.of(b);
      const last = length - 4;
      for (let o = 0; o < last; o += 4) to.setInt32(pos + o, from.getInt32(at + o, true), true);
      to.setInt32(pos + last, from.getInt32(at + last, true), true);
    }
    this.pos = pos + length;
  }

  /** Fixed bytes (a task's field, a rate, the bill line's words), a word at a time (WordLiteral.put). */
  literal(l: WordLiteral): void {
    l.put(this.view, this.pos);
    this.pos += l.length;
  }

  /** Bytes already encoded (a constant, a field). */
  bytes(b: Uint8Array): void {
    const buf = this.out;
    let pos = this.pos;
    for (let i = 0; i < b.length; i++) buf[pos++] = b[i]!;
    this.pos = pos;
  }

  byte(c: number): void {
    this.out[this.pos++] = c;
  }
}
