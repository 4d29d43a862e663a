/**
 * Four bytes at a time: little-endian 32-bit words read from a buffer, for comparing bytes
 * (a name, a key) with a read per four bytes instead of one per byte. A word read costs about
 * what one byte read does: summing 128 MiB of a log took 49 ns a line by bytes and 16 by
 * words. Byte k of a word is bits 8k..8k+7 (the byte at the lower address is the low one).
 */

/**
 * A DataView of the last buffer asked for, made again only when the buffer changes; `two`:
 * of the last two, for a reader whose buffers alternate (a bill's users come from the tables
 * of a merge in turn: ByteLine). A reader of one view keeps no other buffer alive.
 */
export class WordReader {
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private viewOf: Uint8Array | null = null;
  private before: DataView<ArrayBufferLike> = this.view;
  private beforeOf: Uint8Array | null = null;

  constructor(private readonly two = false) {}

  /** The view of b's bytes (getInt32(i, true) is the word at b[i]; it throws past b's end). */
  of(b: Uint8Array): DataView<ArrayBufferLike> {
    if (b !== this.viewOf) {
      const view = b === this.beforeOf ? this.before : new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (this.two) {
        this.before = this.view;
        this.beforeOf = this.viewOf;
      }
      this.view = view;
      this.viewOf = b;
    }
    return this.view;
  }

  /** Lets go of the buffers read (the views keep them alive). */
  forget(): void {
    this.view = this.before = new DataView(new ArrayBuffer(0));
    this.viewOf = this.beforeOf = null;
  }
}

/**
 * Where the words covering `length` bytes (4 or more) start: every fourth byte, and the last
 * four bytes, which may overlap the word before. Bytes compared at these offsets, a word each,
 * are all compared.
 */
export function wordOffsets(length: number): number[] {
  return Array.from({ length: Math.ceil(length / 4) }, (_, k) => Math.min(4 * k, length - 4));
}

/**
 * A fixed byte string found at a position by comparing words, or written there by words: its
 * bytes at every fourth offset, and its last four bytes (which may overlap the word before);
 * one shorter than four bytes is compared or written byte by byte.
 */
export class WordLiteral {
  readonly length: number;
  readonly bytes: Uint8Array;
  /** From 4 bytes on, the words compared: words[k] is the little-endian word at offsets[k]. */
  private readonly offsets: Int32Array;
  private readonly words: Int32Array;
  private readonly reader = new WordReader();

  constructor(bytes: Uint8Array) {
    this.bytes = Uint8Array.from(bytes);
    this.length = bytes.length;
    const view = new DataView(this.bytes.buffer);
    const offsets = this.length < 4 ? [] : wordOffsets(this.length);
    this.offsets = Int32Array.from(offsets);
    this.words = Int32Array.from(offsets, (o) => view.getInt32(o, true));
  }

  /** True when b holds the bytes at b[i] (false when b ends before they do). */
  at(b: Uint8Array, i: number): boolean {
    const len = this.length;
    if (i < 0 || i + len > b.length) return false;
    if (len < 4) {
      let k = 0;
      while (k < len && b[i + k] === this.bytes[k]) k++;
      return k === len;
    }
    const v = this.reader.of(b);
    const offsets = this.offsets;
    const words = this.words;
    for (let k = 0; k < offsets.length; k++) if (v.getInt32(i + offsets[k]!, true) !== words[k]) return false;
    return true;
  }

  /** Writes the bytes at `to`'s byte i (a view with room for them), a word at each offset (ByteLine.literal). */
  put(to: DataView, i: number): void {
    const len = this.length;
    if (len < 4) {
      for (let k = 0; k < len; k++) to.setUint8(i + k, this.bytes[k]!);
      return;
    }
    const offsets = this.offsets;
    const words = this.words;
    for (let k = 0; k < offsets.length; k++) to.setInt32(i + offsets[k]!, words[k]!, true);
  }

  /**
   * at() as JavaScript source, for code made from source (jsonl-scanner.ts, compiledLayout):
   * an expression true when the bytes are not at b[i] (`b`, `i` and `v`, b's DataView, name
   * them), with the words and bytes as constants. Holds only numbers and those names.
   */
  missingSource(b: string, i: string, v: string): string {
    const tests = this.length < 4 ? Array.from(this.bytes, (x, k) => `${b}[${i} + ${k}] !== ${x}`) : Array.from(this.offsets, (o, k) => `${v}.getInt32(${i} + ${o}, true) !== ${this.words[k]!}`);
    return [`${i} + ${this.length} > ${b}.length`, ...tests].join(' || ');
  }
}

/**
 * XORed into a word of four bytes, so that each byte that is an ASCII digit holds its value
 * (0-9) and no other byte does: the word leadingDigits and leadingValue read.
 */
export const DIGIT_ZEROS = 0x30303030;

/**
 * How many bytes of `x` (a word XOR DIGIT_ZEROS), from the first, are digits: 0 to 4, with no
 * branch. Bit 7 of a byte is set in `x + 0x76767676` when the byte is above 9 (and below 0x80),
 * and in `x` when it is 0x80 or above: the flags of the bytes that are not digits. The lowest
 * one is exact (a carry only runs up from a flagged byte); its trailing zeros over 8 count the
 * digits before it (32 trailing zeros, 4 digits, when no byte is flagged). A duration's
 * digits, 3 or 4 of them at random, ended a byte loop at a mispredicted branch: read so, the
 * space format's scan took 62.8 ns a line where it took 66.8 (bench/parallel-history.md).
 */
export function leadingDigits(x: number): number {
  const m = nonDigits(x);
  return (32 - Math.clz32(~m & (m - 1))) >> 3;
}

/**
 * Bit 7 of each byte of `x` (a word XOR DIGIT_ZEROS) that is not a digit, the lowest one exact
 * (see leadingDigits); 0 when all four are digits.
 */
export function nonDigits(x: number): number {
  return ((x + 0x76767676) | x) & 0x80808080;
}

/** The number the first `n` bytes of `x` spell (n from leadingDigits, 0 to 4; 0 for none). */
export function leadingValue(x: number, n: number): number {
  if (n === 0) return 0;
  // The n digits shifted to the top bytes, the last in the highest: thousands, hundreds, tens, units.
  const y = x << (32 - 8 * n);
  return (y & 0xff) * 1000 + ((y >>> 8) & 0xff) * 100 + ((y >>> 16) & 0xff) * 10 + (y >>> 24);
}
