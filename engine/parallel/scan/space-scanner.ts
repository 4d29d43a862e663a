/**
 * The hot path: space-separated lines judged on bytes, with no string made per line or per
 * field. Implements exactly the rules of core/formats/records.ts for the space format
 * (property tests compare the two): encoding, 5 fields, RFC 3339 timestamp, user, task,
 * status, duration, time window. Accepted lines land in a usage table keyed by user bytes (UsageSink).
 */
import { isUtf8 } from 'node:buffer';
import { inWindow, type TimeWindow } from '../../core/validation/timestamp.js';
import { RULES } from '../../core/validation/rules.js';
import { MAX_LINE_BYTES, MAX_USER_BYTES, REASON_INDEX } from '../../core/validation/reasons.js';
import { CR, LF, bomLength, isBlank, lineContentEnd, tooLongHead } from '../../core/formats/lines.js';
import type { ByteLineSink } from './range-reader.js';
import type { UsageSink } from './user-table.js';
import type { ShardCounts, RejectCollector } from './partial.js';
import { countUnknownTask } from '../../core/billing/usage.js';
import { ByteNames, DateTimes, NameTokens, byteClass, fractionAt, hasForbiddenNonAscii, nonAsciiUserEnd, offsetSeconds } from './fast-lines.js';
import { hashBytes } from './user-table.js';
import { DIGIT_ZEROS, WordReader, leadingDigits, leadingValue } from '../../core/formats/words.js';

const STATUS_MIN = RULES.status.min;
const STATUS_MAX = RULES.status.max;
const R_ENCODING = REASON_INDEX.bad_encoding;
const R_FIELDS = REASON_INDEX.bad_field_count;
const R_TIMESTAMP = REASON_INDEX.bad_timestamp;
const R_USER = REASON_INDEX.bad_user;
const R_TASK = REASON_INDEX.unknown_task;
const R_STATUS = REASON_INDEX.bad_status;
const R_DURATION = REASON_INDEX.bad_duration;
const R_TOO_LONG = REASON_INDEX.line_too_long;

const SP = 32;
const DOT = 46;
const TAB = 9;
/** A field's bytes on the fast path (printable ASCII but space), and what ends a field there. */
const FIELD_BYTE = byteClass((c) => c >= 0x21 && c <= 0x7e);
const SEPARATOR = byteClass((c) => c === SP || c === TAB);

export class SpaceScanner implements ByteLineSink {
  private readonly taskNames: ByteNames;
  /** The fast path's tasks: a configured name followed by a separator. */
  private readonly taskTokens: NameTokens;
  private readonly windowed: boolean;
  // Scratch for the timestamp of the current line.
  private tsSeconds = 0;
  private fracStart = 0;
  private fracEnd = 0;
  // Valid calendar dates seen by the fast path, cached.
  private readonly dates = new DateTimes();
  private readonly words = new WordReader();

  constructor(
    tasks: readonly string[],
    private readonly maxDurationMs: number,
    private readonly window: TimeWindow,
    private readonly table: UsageSink,
    private readonly counts: ShardCounts,
    private readonly rejects: RejectCollector,
  ) {
    this.taskNames = new ByteNames(tasks);
    this.taskTokens = new NameTokens(tasks, FIELD_BYTE, SEPARATOR);
    this.windowed = window.from !== undefined || window.to !== undefined;
  }

  tooLong(offset: number, head: Buffer): void {
    this.counts.records++;
    this.reject(R_TOO_LONG, offset, head, 0, head.length);
  }

  /** A block of whole lines, each ending in LF: the fast path, and the full rules where it gives up. */
  block(b: Buffer, start: number, end: number, offset: number): void {
    let ls = start;
    while (ls < end) {
      ls = this.fastRun(b, ls, end);
      if (ls >= end) break;
      const lf = b.indexOf(LF, ls);
      const at = offset + (ls - start);
      const le = lineContentEnd(b, ls, lf, at);
      if (le < 0) this.tooLong(at, tooLongHead(b, ls, at));
      else this.judge(b, at === 0 ? ls + bomLength(b.subarray(ls, le)) : ls, le, at);
      ls = lf + 1;
    }
    // The fast path's table adds are batched (UserTable.addLater): done before the buffer is refilled.
    this.table.flushBatch();
  }

  /** One line (terminator and a trailing CR excluded); the fast path when the line is terminated in the buffer. */
  line(b: Buffer, start: number, end: number, offset: number): void {
    if (offset === 0) start += bomLength(b.subarray(start, end));
    // The fast path reads up to the terminator: only when one follows, and no content CR could pass for one.
    const terminated = b[end] === LF || (b[end] === CR && b[end + 1] === LF);
    if (terminated && b[end - 1] !== CR && this.fastRun(b, start, start + 1) > start) {
      this.table.flushBatch();
      return;
    }
    this.judge(b, start, end, offset);
  }

  /**
   * The common lines of b[s, end) (whole lines, each ending in LF) billed from s on, as block()
   * bills them, the table's adds done: where the first line the fast path does not bill starts,
   * or end. Lines unwrapped from a wrapper (wrapped-scanner.ts) are billed so; the caller hands
   * a line this leaves to the exact path.
   */
  billCommon(b: Buffer, s: number, end: number): number {
    const next = this.fastRun(b, s, end);
    this.table.flushBatch();
    return next;
  }

  /** The full rules, in contract order, naming the reason of a reject. */
  private judge(b: Buffer, start: number, end: number, offset: number): void {
    // Split into fields: the first five boundaries are kept, the rest only counted.
    let i = start;
    let nf = 0;
    let high = 0;
    let f0s = 0, f0e = 0, f1s = 0, f1e = 0, f2s = 0, f2e = 0, f3s = 0, f3e = 0, f4s = 0, f4e = 0;
    let userHash = 0x811c9dc5;
    let userBad = false;
    while (i < end) {
      let c = b[i]!;
      while (c === SP || c === TAB) {
        if (++i === end) break;
        c = b[i]!;
      }
      if (i === end) break;
      const fs = i;
      if (nf === 1) {
        // The user field: hash and check control characters in the same pass.
        while (i < end && (c = b[i]!) !== SP && c !== TAB) {
          high |= c;
          if (c < 0x20 || c === 0x7f) userBad = true;
          userHash = Math.imul(userHash ^ c, 0x01000193);
          i++;
        }
      } else {
        while (i < end && (c = b[i]!) !== SP && c !== TAB) {
          high |= c;
          i++;
        }
      }
      switch (nf) {
        case 0: f0s = fs; f0e = i; break;
        case 1: f1s = fs; f1e = i; break;
        case 2: f2s = fs; f2e = i; break;
        case 3: f3s = fs; f3e = i; break;
        case 4: f4s = fs; f4e = i; break;
      }
      nf++;
    }
    if (nf === 0) return; // blank
    this.counts.records++;
    if (high >= 0x80 && !isUtf8(b.subarray(start, end))) return this.reject(R_ENCODING, offset, b, start, end);
    if (nf !== 5) return this.reject(R_FIELDS, offset, b, start, end);
    if (!this.timestamp(b, f0s, f0e)) return this.reject(R_TIMESTAMP, offset, b, start, end);
    const userLen = f1e - f1s;
    if (userBad || userLen > MAX_USER_BYTES || (high >= 0x80 && hasForbiddenNonAscii(b, f1s, f1e))) {
      return this.reject(R_USER, offset, b, start, end);
    }
    const task = this.task(b, f2s, f2e);
    if (task < 0) {
      countUnknownTask(this.counts.unknownTasks, Buffer.from(b.buffer, b.byteOffset + f2s, f2e - f2s).toString('utf8'));
      return this.reject(R_TASK, offset, b, start, end);
    }
    // Status: ASCII digits, 100..599.
    let status = f3e > f3s ? 0 : -1;
    for (let k = f3s; k < f3e && status >= 0; k++) {
      const d = b[k]! - 48;
      status = d < 0 || d > 9 ? -1 : status > 999 ? 1000 : status * 10 + d;
    }
    if (status < STATUS_MIN || status > STATUS_MAX) return this.reject(R_STATUS, offset, b, start, end);
    // Duration: digits then "ms", at most maxDurationMs.
    let duration = -1;
    if (f4e - f4s >= 3 && b[f4e - 2] === 109 && b[f4e - 1] === 115) {
      duration = 0;
      for (let k = f4s; k < f4e - 2; k++) {
        const d = b[k]! - 48;
        if (d < 0 || d > 9) {
          duration = -1;
          break;
        }
        if (duration <= this.maxDurationMs) duration = duration * 10 + d;
      }
    }
    if (duration < 0 || duration > this.maxDurationMs) return this.reject(R_DURATION, offset, b, start, end);
    if (this.windowed && !this.inWindow(b)) {
      this.counts.outOfWindow++;
      return;
    }
    this.counts.accepted++;
    this.table.addNow(b, f1s, f1e, userHash, task, 1, duration);
  }

  /**
   * The common lines in one pass each, from the line at b[s] on while they pass, up to `end`:
   * `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM) user task status NNNms`, ASCII only. Returns the start of the first
   * line that is unusual in any way, which the full rules then judge and name the reason of,
   * or, once the lines billed (accepted or counted out of window) reach `end`, the index past
   * the last one's LF. One call runs over many lines: the scanner's fields are read once, not
   * once a line (4% of the scan).
   * The date and time are read by DateTimes, as in timestamp() and the CSV and JSON lines
   * fast paths.
   */
  private fastRun(b: Buffer, s: number, end: number): number {
    const counts = this.counts;
    const dates = this.dates;
    const tokens = this.taskTokens;
    const table = this.table;
    const maxDurationMs = this.maxDurationMs;
    const words = this.words.of(b);
    for (; s < end; ) {
      // Every loop below stops at the line's LF (a control byte, not a digit, not a separator),
      // so none needs a bounds check; any position checked past a short line's LF fails a test.
      // Printable ASCII but space (0x21..0x7e) is tested as one unsigned comparison: 8% faster
      // than two here (a byte past the end, undefined, reads as 0 and stops the loop too).
      // The timestamp: the date and time, a fraction of 1 to 9 digits or none, then Z or an
      // offset ±HH:MM (logs written by JavaScript's toISOString carry milliseconds, Python's
      // isoformat microseconds and +00:00: about three times this path's cost on the full rules).
      if ((b[s + 10]! | 0x20) !== 116) return s;
      let seconds = dates.seconds(b, s);
      if (seconds !== seconds) return s; // NaN: not a real date and time
      let i = s + 19;
      let c = b[i]!;
      let fracStart = i;
      if (c === DOT) {
        fracStart = ++i;
        while ((c = b[i]!) >= 48 && c <= 57) i++;
        if (i === fracStart || i - fracStart > 9) return s;
      }
      const fracEnd = i;
      if ((c | 0x20) === 122) {
        c = b[++i]!;
      } else {
        const offset = offsetSeconds(b, i);
        if (offset !== offset) return s;
        seconds -= offset;
        c = b[(i += 6)]!;
      }
      // A separator is tested TAB first: a common line (a space) then runs both comparisons,
      // so the optimized code has seen both before an unusual line needs the second. SP first,
      // each kind of unusual line met later cost a deoptimization and a recompile of this
      // function (five compiles of about 15 ms in a worker's first shard; now one).
      if (c !== TAB && c !== SP) return s;
      while ((c = b[i]!) === SP || c === TAB) i++;
      const us = i;
      let h = 0x811c9dc5;
      while (((c = b[i]! | 0) - 0x21) >>> 0 < 0x5e) {
        h = Math.imul(h ^ c, 0x01000193);
        i++;
      }
      // A byte above ASCII: the rest of a user with non-ASCII letters (nonAsciiUserEnd), checked as the rules check one.
      if (c >= 0x80) {
        i = nonAsciiUserEnd(b, us, i, FIELD_BYTE);
        if (i < 0) return s;
        h = hashBytes(b, us, i);
        c = b[i]!;
      }
      if ((c !== TAB && c !== SP) || i === us || i - us > MAX_USER_BYTES) return s;
      const ue = i;
      while ((c = b[i]!) === SP || c === TAB) i++;
      // The task: a configured name, then a separator (NameTokens: no scan of the token first).
      const task = tokens.find(b, i);
      if (task < 0) return s;
      i += tokens.byteLength(task);
      while ((c = b[i]!) === SP || c === TAB) i++;
      const ss = i;
      let status = 0;
      while ((c = b[i]!) >= 48 && c <= 57) {
        status = status * 10 + c - 48;
        i++;
      }
      if (i - ss > 9 || (c !== TAB && c !== SP) || status < STATUS_MIN || status > STATUS_MAX) return s;
      while ((c = b[i]!) === SP || c === TAB) i++;
      // The duration's first four bytes read as one word (leadingDigits), the rest of a longer one by bytes.
      const ds = i;
      let duration = 0;
      if (ds + 4 <= b.length) {
        const x = words.getInt32(ds, true) ^ DIGIT_ZEROS;
        const n = leadingDigits(x);
        duration = leadingValue(x, n);
        i += n;
      }
      while ((c = b[i]!) >= 48 && c <= 57) {
        duration = duration * 10 + c - 48;
        i++;
      }
      if (i === ds || i - ds > 15 || b[i] !== 109 || b[i + 1] !== 115) return s;
      i += 2;
      while ((c = b[i]!) === SP || c === TAB) i++;
      const next = c === LF ? i + 1 : c === CR && b[i + 1] === LF ? i + 2 : -1;
      // Long lines (runs of separators) go to the full rules, which apply the length limit.
      if (next < 0 || next - s > MAX_LINE_BYTES || duration > maxDurationMs) return s;
      counts.records++;
      if (this.windowed) {
        this.tsSeconds = seconds;
        this.fracStart = fracStart;
        this.fracEnd = fracEnd;
        if (!this.inWindow(b)) {
          counts.outOfWindow++;
          s = next;
          continue;
        }
      }
      counts.accepted++;
      table.addLater(b, us, ue, h, task, duration);
      s = next;
    }
    return s;
  }

  private task(b: Uint8Array, s: number, e: number): number {
    return this.taskNames.find(b, s, e);
  }

  /** Whether b[s, e) is an RFC 3339 date-time (the rules' timestamp): a CloudWatch wrapper's (wrapped-scanner.ts). */
  isTimestamp(b: Uint8Array, s: number, e: number): boolean {
    return this.timestamp(b, s, e);
  }

  /** RFC 3339 date-time on bytes; sets tsSeconds and the fraction's range. */
  private timestamp(b: Uint8Array, s: number, e: number): boolean {
    const len = e - s;
    if (len < 20) return false;
    const t = b[s + 10];
    if (t !== 84 && t !== 116) return false;
    const local = this.dates.seconds(b, s);
    if (local !== local) return false; // NaN: not a real date and time
    let p = s + 19;
    this.fracStart = this.fracEnd = p;
    if (b[p] === 46) {
      p++;
      this.fracStart = p;
      while (p < e && b[p]! >= 48 && b[p]! <= 57) p++;
      if (p === this.fracStart) return false;
      this.fracEnd = p;
    }
    let offset = 0;
    const z = b[p];
    if (z === 90 || z === 122) {
      if (p + 1 !== e) return false;
    } else {
      if (p + 6 !== e) return false;
      offset = offsetSeconds(b, p);
      if (offset !== offset) return false;
    }
    this.tsSeconds = local - offset;
    return true;
  }

  private inWindow(b: Uint8Array): boolean {
    return inWindow({ seconds: this.tsSeconds, fraction: fractionAt(b, this.fracStart, this.fracEnd) }, this.window);
  }

  private reject(reason: number, offset: number, b: Uint8Array, start: number, end: number): void {
    // A line of white space other than spaces and tabs (a form feed, a lone CR, U+3000) is blank, not a record: no valid
    // record is only white space, so the check costs the rejected lines alone.
    if (reason !== R_TOO_LONG && isBlank(b.subarray(start, end))) {
      this.counts.records--;
      return;
    }
    this.counts.rejected[reason]!++;
    this.rejects.add(offset, reason, b, start, end);
  }
}

