/**
 * What the CSV and JSON lines fast paths share: the common shapes of the fields judged on
 * bytes (a UTC timestamp, an ASCII user, a configured task, digits), the billing of a line
 * that passed, and the hand-over of every other line to the exact path (core's
 * LineAccumulator and RecordParser), which names the reject reason or accepts what the fast
 * path did not dare to. A fast path never rejects: it accepts (or counts out of window) a
 * line every rule passes, or gives the line up.
 */
import { isUtf8 } from 'node:buffer';
import { daysFromCivil, daysInMonth, inWindow, type TimeWindow } from '../../core/validation/timestamp.js';
import { MAX_LINE_BYTES, MAX_USER_BYTES } from '../../core/validation/reasons.js';
import { CR, LF, lineContentEnd, tooLongHead } from '../../core/formats/lines.js';
import { RULES } from '../../core/validation/rules.js';
import type { ByteLineSink } from './range-reader.js';
import type { UsageSink } from './user-table.js';
import type { ShardCounts } from './partial.js';
import { DIGIT_ZEROS, WordReader, nonDigits, wordOffsets } from '../../core/formats/words.js';

const T = RULES.timestamp;

/** Byte values the fast paths name. */
export const QUOTE = 34;
export const COMMA = 44;
export const BACKSLASH = 92;

function two(b: Uint8Array, i: number): number {
  const hi = b[i]! - 48;
  const lo = b[i + 1]! - 48;
  return hi >= 0 && hi <= 9 && lo >= 0 && lo <= 9 ? hi * 10 + lo : -1;
}

/** Digits b[s, e) as a number: 1 to `maxDigits` ASCII digits, else -1. */
export function digitsAt(b: Uint8Array, s: number, e: number, maxDigits: number): number {
  if (e <= s || e - s > maxDigits) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** True when b[s, e) holds the bytes of `x`. */
export function sameBytes(x: Uint8Array, b: Uint8Array, s: number, e: number): boolean {
  const len = e - s;
  if (x.length !== len) return false;
  let k = 0;
  while (k < len && x[k] === b[s + k]) k++;
  return k === len;
}

/** True when a non-ASCII user contains Unicode White_Space or a C1 control (bytes known to be valid UTF-8). */
export function hasForbiddenNonAscii(b: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c < 0x80) continue;
    if (c === 0xc2) {
      if (b[i + 1]! <= 0xa0) return true; // U+0080..U+00A0: C1 controls, NEL, NBSP
    } else if (c === 0xe1) {
      if (b[i + 1] === 0x9a && b[i + 2] === 0x80) return true; // U+1680
    } else if (c === 0xe2) {
      const c1 = b[i + 1]!;
      const c2 = b[i + 2]!;
      if (c1 === 0x80 && (c2 <= 0x8a || c2 === 0xa8 || c2 === 0xa9 || c2 === 0xaf)) return true; // U+2000..200A, 2028, 2029, 202F
      if (c1 === 0x81 && c2 === 0x9f) return true; // U+205F
    } else if (c === 0xe3) {
      if (b[i + 1] === 0x80 && b[i + 2] === 0x80) return true; // U+3000
    }
  }
  return false;
}

/**
 * The end of a user id at b[us] with a byte above ASCII at b[i] (b[us, i) are `inner` bytes):
 * `inner` bytes and bytes above ASCII up to the first other byte; -1 unless b[us, end) is
 * valid UTF-8 with no White_Space or C1 control, of at most MAX_USER_BYTES bytes (the rules'
 * bad_encoding and bad_user, for a line whose other fields a fast path reads as ASCII). Users
 * with letters above ASCII so take the fast paths too.
 */
export function nonAsciiUserEnd(b: Uint8Array, us: number, i: number, inner: Uint8Array): number {
  let c = b[i]!;
  while (c >= 0x80 || inner[c] === 1) {
    if (++i - us > MAX_USER_BYTES) return -1;
    c = b[i]!;
  }
  return isUtf8(b.subarray(us, i)) && !hasForbiddenNonAscii(b, us, i) ? i : -1;
}

/**
 * Names' bytes one after another (name t is bytes[at[t], at[t + 1])), and chains of them by
 * slot: first[slot] is the slot's first name in list order (-1: none), next[t] the one after t.
 * `slotOf` names a name's slot, or -1 to leave the name out.
 */
function nameIndex(names: readonly string[], slots: number, slotOf: (x: Uint8Array) => number): { bytes: Uint8Array; at: Int32Array; first: Int32Array; next: Int32Array } {
  const encoded = names.map((n) => Buffer.from(n, 'utf8'));
  const bytes = new Uint8Array(encoded.reduce((n, x) => n + x.length, 0));
  const at = new Int32Array(encoded.length + 1);
  for (let t = 0; t < encoded.length; t++) {
    bytes.set(encoded[t]!, at[t]!);
    at[t + 1] = at[t]! + encoded[t]!.length;
  }
  const first = new Int32Array(slots).fill(-1);
  const next = new Int32Array(encoded.length).fill(-1);
  for (let t = encoded.length - 1; t >= 0; t--) {
    const slot = slotOf(encoded[t]!);
    if (slot < 0) continue;
    next[t] = first[slot]!;
    first[slot] = t;
  }
  return { bytes, at, first, next };
}

/**
 * A fixed list of names (the configured tasks, a JSON line's keys), found from bytes: the
 * candidates are those of the same length, first and last byte (a chain per slot, in list
 * order), each then compared whole. One comparison finds a name where a scan of the list
 * compared each in turn (a quarter of the space format's fast path at five tasks).
 */
export class ByteNames {
  private readonly bytes: Uint8Array;
  /** Name t is bytes[at[t], at[t + 1]). */
  private readonly at: Int32Array;
  /** Per slot, its first candidate, -1 for none; per name, the next candidate of its slot. */
  private readonly first: Int32Array;
  private readonly next: Int32Array;

  constructor(names: readonly string[]) {
    ({ bytes: this.bytes, at: this.at, first: this.first, next: this.next } = nameIndex(names, 1024, (x) =>
      ByteNames.slot(x.length, x.length > 0 ? x[0]! : 0, x.length > 0 ? x[x.length - 1]! : 0),
    ));
  }

  private static slot(len: number, first: number, last: number): number {
    return ((len << 5) ^ (first << 2) ^ last) & 1023;
  }

  /** The index of the first name equal to b[s, e), else -1. */
  find(b: Uint8Array, s: number, e: number): number {
    const len = e - s;
    const bytes = this.bytes;
    let t = this.first[ByteNames.slot(len, len > 0 ? b[s]! : 0, len > 0 ? b[e - 1]! : 0)]!;
    while (t >= 0) {
      const at = this.at[t]!;
      if (this.at[t + 1]! - at === len) {
        let k = 0;
        while (k < len && bytes[at + k] === b[s + k]) k++;
        if (k === len) return t;
      }
      t = this.next[t]!;
    }
    return -1;
  }
}

/** A set of byte values, as a table of 256 flags. */
export function byteClass(has: (c: number) => boolean): Uint8Array {
  return new Uint8Array(256).map((_, c) => (has(c) ? 1 : 0));
}

/**
 * A fixed list of names found as the token at a position, where a token is the longest run
 * of `inner` bytes and must be followed by an `ends` byte (the space format's task before its
 * separator, a CSV field before its comma, closing quote or the line's end). The answer is the one of scanning the token and
 * looking it up (ByteNames.find: the first equal name in list order, else -1), without the
 * scan: only the names starting with the byte at the position are compared, each followed by
 * the byte after it. A name holding a byte that is not `inner` can never be such a token, and
 * is never found; nor is an empty token (no task is named by no bytes: the configuration
 * refuses it). `inner` and `ends` share no byte.
 */
export class NameTokens {
  /** Name t is bytes[at[t], at[t + 1]). */
  private readonly at: Int32Array;
  /** Per first byte, its first findable name (-1: none); per name, the next one with its first byte, in list order. */
  private readonly first: Int32Array;
  private readonly next: Int32Array;
  /**
   * What a token must hold to be name t: for a name of 4 bytes or more, its words at the
   * offsets wordAt[wordsFrom[t], wordsFrom[t + 1]) (every fourth byte, and the last four bytes,
   * which may overlap the word before), as `word`; for a shorter one, its bytes after the
   * first, one per entry. A name is compared with a read per entry, not per byte.
   */
  private readonly wordsFrom: Int32Array;
  private readonly wordAt: Int32Array;
  private readonly word: Int32Array;
  private readonly words = new WordReader();

  constructor(
    names: readonly string[],
    inner: Uint8Array,
    private readonly ends: Uint8Array,
  ) {
    if (inner.some((x, c) => x === 1 && ends[c] === 1)) throw new Error('internal: NameTokens with a byte both inner and an end');
    let bytes: Uint8Array;
    ({ bytes, at: this.at, first: this.first, next: this.next } = nameIndex(names, 256, (x) =>
      x.length > 0 && x.every((c) => inner[c] === 1) ? x[0]! : -1,
    ));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const wordAt: number[] = [];
    const word: number[] = [];
    this.wordsFrom = new Int32Array(names.length + 1);
    for (let t = 0; t < names.length; t++) {
      const from = this.at[t]!;
      const len = this.at[t + 1]! - from;
      const offsets = len >= 4 ? wordOffsets(len) : Array.from({ length: Math.max(0, len - 1) }, (_, k) => k + 1);
      for (const o of offsets) {
        wordAt.push(o);
        word.push(len >= 4 ? view.getInt32(from + o, true) : bytes[from + o]!);
      }
      this.wordsFrom[t + 1] = wordAt.length;
    }
    this.wordAt = Int32Array.from(wordAt);
    this.word = Int32Array.from(word);
  }

  /** Bytes of name t. */
  byteLength(t: number): number {
    return this.at[t + 1]! - this.at[t]!;
  }

  /** The index of the first name that is the token at b[s] followed by an end byte, else -1 (also past b's end). */
  find(b: Uint8Array, s: number): number {
    const at = this.at;
    const wordAt = this.wordAt;
    const word = this.word;
    // A position past b's end reads undefined, which names no byte's entry: no candidate.
    for (let t = this.first[b[s]!]!; t >= 0; t = this.next[t]!) {
      const len = at[t + 1]! - at[t]!;
      // The end byte first: it must be in b, and then so is every word of the token.
      if (s + len >= b.length || this.ends[b[s + len]!] !== 1) continue;
      let k = this.wordsFrom[t]!;
      const last = this.wordsFrom[t + 1]!;
      if (len >= 4) {
        const v = this.words.of(b);
        while (k < last && v.getInt32(s + wordAt[k]!, true) === word[k]) k++;
      } else {
        while (k < last && b[s + wordAt[k]!] === word[k]) k++;
      }
      if (k === last) return t;
    }
    return -1;
  }
}

/**
 * The offset `±HH:MM` at b[i, i + 6) with its hours and minutes in range: what a local time
 * is ahead of UTC, in seconds (subtracted from the local time's epoch seconds), else NaN.
 * The one reading of an offset for every byte scanner; what follows it is the caller's.
 */
export function offsetSeconds(b: Uint8Array, i: number): number {
  const sign = b[i];
  if ((sign !== 43 && sign !== 45) || b[i + 3] !== 58) return NaN;
  const oh = two(b, i + 1);
  const om = two(b, i + 4);
  if (oh < 0 || om < 0 || oh > T.offsetHour[1] || om > T.offsetMinute[1]) return NaN;
  return (sign === 43 ? 1 : -1) * (oh * 3600 + om * 60);
}

/** A timestamp's fraction digits b[s, e) as an Instant holds them (trailing zeros dropped). */
export function fractionAt(b: Uint8Array, s: number, e: number): string {
  while (e > s && b[e - 1] === 48) e--;
  return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1');
}

/** The date and time of a common timestamp, with a cache of the dates seen. */
export class DateTimes {
  // Valid calendar dates seen: a direct-mapped cache from the date's 10 bytes (read as three
  // little-endian words: `YYYY`, `-MM-`, `DD`) to its day number. A hit needs no digit or
  // calendar check: only the bytes of a valid date are ever stored.
  private readonly w0 = new Int32Array(256);
  private readonly w1 = new Int32Array(256);
  private readonly w2 = new Int32Array(256).fill(-1);
  private readonly days = new Int32Array(256);
  private readonly words = new WordReader();

  /**
   * b[s, s + 19) as `YYYY-MM-DD?HH:MM:SS` (the byte at s + 10 is the caller's to check), a
   * real date and time: its epoch seconds (UTC), else NaN (also when b ends before s + 19).
   * Never reads past s + 19.
   */
  seconds(b: Uint8Array, s: number): number {
    if (s + 19 > b.length) return NaN;
    const v = this.words.of(b);
    const w0 = v.getInt32(s, true);
    const w1 = v.getInt32(s + 4, true);
    const w2 = v.getUint16(s + 8, true);
    const slot = (w0 ^ (w0 >>> 12) ^ w1 ^ (w1 >>> 20) ^ w2 ^ (w2 >>> 7)) & 255;
    let days: number;
    if (this.w2[slot] === w2 && this.w0[slot] === w0 && this.w1[slot] === w1) {
      days = this.days[slot]!;
    } else {
      if (b[s + 4] !== 45 || b[s + 7] !== 45) return NaN;
      const hi = two(b, s);
      const lo = two(b, s + 2);
      const month = two(b, s + 5);
      const day = two(b, s + 8);
      if ((hi | lo | month | day) < 0) return NaN;
      const year = hi * 100 + lo;
      if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
      days = this.days[slot] = daysFromCivil(year, month, day);
      this.w0[slot] = w0;
      this.w1[slot] = w1;
      this.w2[slot] = w2;
    }
    // `HH:MM:SS` as two words, `HH:M` and `M:SS`: the colons compared as they are, the digits
    // checked as leadingDigits checks them (nonDigits; the colons' bytes masked out of that check).
    // Read byte by byte, the space format's scan took 63.0 ns a line where it takes 61.1.
    const a = v.getInt32(s + 11, true);
    const c = v.getInt32(s + 15, true);
    const xa = (a ^ DIGIT_ZEROS) & 0xff00ffff;
    const xc = (c ^ DIGIT_ZEROS) & 0xffff00ff;
    if ((a & 0xff0000) !== 0x3a0000 || (c & 0xff00) !== 0x3a00 || (nonDigits(xa) | nonDigits(xc)) !== 0) return NaN;
    const hour = (xa & 0xff) * 10 + ((xa >>> 8) & 0xff);
    const minute = (xa >>> 24) * 10 + (xc & 0xff);
    const second = ((xc >>> 16) & 0xff) * 10 + (xc >>> 24);
    if (hour > T.hour[1] || minute > T.minute[1] || second > T.second[1]) return NaN;
    return days * 86400 + hour * 3600 + minute * 60 + second;
  }
}

/**
 * Where a fast path sends a valid line that has a request id (with dedupe: the shuffle)
 * instead of billing it: the id b[ks, ke) (ASCII), the user b[us, ue), the task index, the
 * timestamp's text b[ts, te), the status and duration digits, whether the time window holds
 * it, and the line's byte offset.
 */
export interface IdentifiedSink {
  identified(b: Uint8Array, ks: number, ke: number, us: number, ue: number, task: number, ts: number, te: number, ss: number, se: number, ds: number, de: number, inWindow: boolean, offset: number): void;
}

/**
 * A fast path for a line format: `fastRun` bills the lines from b[s] on while its run loop
 * takes them (a format's commonest record, with no call per line), and `fastLine` judges the
 * line starting at b[s] up to its LF and returns the index past that LF when it billed the
 * line (through `bill`), else -1; every other line goes to the exact path (`slow`), and so
 * does a file's first line (it may hold a BOM) and every line while the fast path is not `armed`.
 */
export abstract class FastLineScanner implements ByteLineSink {
  /** False while the fast path cannot judge lines (a CSV file's header not read yet, or an unusual layout). */
  protected armed = true;
  protected readonly windowed: boolean;
  protected readonly dates = new DateTimes();
  /** The fraction digits' range of the last timestamp read by `timestampSeconds`. */
  private fracStart = 0;
  private fracEnd = 0;
  /** Byte offset of the line being judged by `fastLine`. */
  protected lineAt = 0;

  constructor(
    protected readonly maxDurationMs: number,
    private readonly window: TimeWindow,
    protected readonly table: UsageSink,
    protected readonly counts: ShardCounts,
    protected readonly exact: ByteLineSink,
  ) {
    this.windowed = window.from !== undefined || window.to !== undefined;
  }

  /** Whole lines, each ending in LF: the fast path line after line, with no search for the LF first. */
  block(b: Buffer, start: number, end: number, offset: number): void {
    let ls = start;
    while (ls < end) {
      if (this.armed && (offset !== 0 || ls !== start)) {
        ls = this.fastRun(b, ls, end);
        if (ls >= end) break;
        this.lineAt = offset + (ls - start);
        const next = this.fastLine(b, ls);
        if (next >= 0) {
          ls = next;
          continue;
        }
      }
      const lf = b.indexOf(LF, ls);
      const at = offset + (ls - start);
      const le = lineContentEnd(b, ls, lf, at);
      if (le < 0) this.exact.tooLong(at, tooLongHead(b, ls, at));
      else this.slow(b, ls, le, at);
      ls = lf + 1;
    }
    // The fast path's table adds are batched (UserTable.addLater): done before the buffer is refilled.
    this.table.flushBatch();
  }

  /**
   * The common lines of b[s, end) (whole lines, each ending in LF) billed from s on, the
   * table's adds done: where the first line the fast path does not bill starts, or end. Lines
   * unwrapped from a wrapper (wrapped-scanner.ts) are billed so; the caller hands a line this
   * leaves to the exact path. Not for lines with a request id that dedupe must see (their
   * offsets are the wrapper's): the JSON lines scanner is then made to leave them.
   */
  billCommon(b: Buffer, s: number, end: number): number {
    let ls = s;
    while (ls < end && this.armed) {
      ls = this.fastRun(b, ls, end);
      if (ls >= end) break;
      const next = this.fastLine(b, ls);
      if (next < 0) break;
      ls = next;
    }
    this.table.flushBatch();
    return ls;
  }

  /** Whether b[s, e) is a timestamp this fast path reads (timestampSeconds): a CloudWatch wrapper's (wrapped-scanner.ts). */
  isTimestamp(b: Uint8Array, s: number, e: number): boolean {
    return !Number.isNaN(this.timestampSeconds(b, s, e));
  }

  /** One line b[s, e) (terminator and one CR before it excluded). */
  line(b: Buffer, s: number, e: number, offset: number): void {
    // The fast path reads up to the terminator: only when one follows, and no content CR could pass for one.
    const terminated = b[e] === LF || (b[e] === CR && b[e + 1] === LF);
    this.lineAt = offset;
    if (this.armed && offset !== 0 && terminated && b[e - 1] !== CR && (this.fastRun(b, s, s + 1) > s || this.fastLine(b, s) >= 0)) {
      this.table.flushBatch();
      return;
    }
    this.slow(b, s, e, offset);
  }

  tooLong(offset: number, head: Buffer): void {
    this.exact.tooLong(offset, head);
  }

  /** A line the fast path did not bill. */
  protected slow(b: Buffer, s: number, e: number, offset: number): void {
    this.exact.line(b, s, e, offset);
  }

  /**
   * Bills the lines from b[s] on (each followed by a LF in b) while the format's run loop takes
   * them, up to `end`: returns where the first line it leaves starts (which `fastLine` then
   * judges), or, once the lines billed reach `end`, the index past the last one's LF. A line it
   * does not take ends the call (a return, not a call from the loop: code the loop never ran
   * would cost it a deoptimization each time a new kind of line first reached it). None by
   * default: every line goes to `fastLine`.
   */
  protected fastRun(_b: Buffer, s: number, _end: number): number {
    return s;
  }

  /**
   * Bills the line starting at b[s] (a LF follows it in b) and returns the index past its
   * LF, or returns -1 and leaves the line to the exact path.
   */
  protected abstract fastLine(b: Buffer, s: number): number;

  /** The index past the terminator at b[i] (LF or CR LF) of a line starting at b[s] and within the length limit, else -1. */
  protected lineEnd(b: Uint8Array, s: number, i: number): number {
    const next = b[i] === LF ? i + 1 : b[i] === CR && b[i + 1] === LF ? i + 2 : -1;
    return i - s > MAX_LINE_BYTES ? -1 : next;
  }

  /**
   * The common timestamp b[s, e): `YYYY-MM-DDTHH:MM:SS[.digits]` then `Z` or an offset
   * `±HH:MM` (T and Z in either case), a real date and time with an offset in range; its epoch
   * seconds, else NaN.
   */
  protected timestampSeconds(b: Uint8Array, s: number, e: number): number {
    if (e - s < 20 || (b[s + 10]! | 0x20) !== 116) return NaN;
    // Where the zone starts: Z, or the offset's six bytes.
    let zone = e - 1;
    let offset = 0;
    if ((b[zone]! | 0x20) !== 122) {
      zone = e - 6;
      if (zone < s + 19) return NaN;
      offset = offsetSeconds(b, zone);
      if (offset !== offset) return NaN;
    }
    let p = s + 19;
    this.fracStart = this.fracEnd = p;
    if (zone > p) {
      if (b[p] !== 46 || zone - p < 2) return NaN;
      this.fracStart = ++p;
      while (p < zone) {
        const d = b[p]! - 48;
        if (d < 0 || d > 9) return NaN;
        p++;
      }
      this.fracEnd = p;
    }
    return this.dates.seconds(b, s) - offset;
  }

  /** Whether the time window holds a timestamp of `seconds` (its fraction last read by `timestampSeconds`). */
  protected inWindow(b: Uint8Array, seconds: number): boolean {
    return !this.windowed || inWindow({ seconds, fraction: fractionAt(b, this.fracStart, this.fracEnd) }, this.window);
  }

  /** Counts a line every rule passed that has a request id, and hands it to `ids` (dedupe decides it later). */
  protected identify(ids: IdentifiedSink, b: Uint8Array, ks: number, ke: number, us: number, ue: number, task: number, ts: number, te: number, ss: number, se: number, ds: number, de: number, seconds: number): void {
    this.counts.records++;
    ids.identified(b, ks, ke, us, ue, task, ts, te, ss, se, ds, de, this.inWindow(b, seconds), this.lineAt);
  }

  /** Counts a line every rule passed (its timestamp last read by `timestampSeconds`): billed, or out of the window. */
  protected bill(b: Uint8Array, userStart: number, userEnd: number, userHash: number, task: number, durationMs: number, seconds: number): void {
    this.counts.records++;
    if (!this.inWindow(b, seconds)) {
      this.counts.outOfWindow++;
      return;
    }
    this.counts.accepted++;
    this.table.addLater(b, userStart, userEnd, userHash, task, durationMs);
  }
}
