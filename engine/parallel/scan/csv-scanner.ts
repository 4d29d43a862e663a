/**
 * The CSV fast path: a record of the five contract columns in any order (the layout read
 * from the header), with any other columns (SPEC: ignored), each field in its common shape
 * (fast-lines.ts) and every other field of printable ASCII or spaces, judged on bytes with no
 * string made. A field may be quoted (RFC 4180) without a doubled quote inside: writers that
 * quote every field (Python's csv.QUOTE_ALL) or every text field (csv.QUOTE_NONNUMERIC, R's
 * write.csv) are common, and a quoted field's value is the same as unquoted. A record with a
 * request id every rule passes goes to `ids` (the dedupe shuffle) instead of being billed, or
 * is billed when there is no such sink (`--dedupe off`); an empty id is no id. Everything else
 * goes to the exact path: a doubled quote, a quoted contract field holding a comma or a space,
 * another field count, non-ASCII bytes outside the user, a reject of any reason.
 */
import { csvLayout, type CsvLayout } from '../../core/formats/csv.js';
import { recordBytes } from '../../core/formats/lines.js';
import type { TimeWindow } from '../../core/validation/timestamp.js';
import { RULES } from '../../core/validation/rules.js';
import { COMMA, FastLineScanner, NameTokens, QUOTE, byteClass, nonAsciiUserEnd, type IdentifiedSink } from './fast-lines.js';
import { MAX_USER_BYTES } from '../../core/validation/reasons.js';
import type { ByteLineSink } from './range-reader.js';
import { hashBytes, type UsageSink } from './user-table.js';
import type { ShardCounts } from './partial.js';

const FIELD_COUNT = RULES.space.fieldCount;
const STATUS_MIN = RULES.status.min;
const STATUS_MAX = RULES.status.max;
const SUFFIX = Buffer.from(RULES.duration.suffix, 'latin1');
const [TIMESTAMP, USER, TASK, STATUS, DURATION] = [0, 1, 2, 3, 4];
/** The role of the request id's column, and of a column the bill does not read. */
const REQUEST_ID = 5;
const OTHER = -1;
const ZERO = 48;
const Z = 90;
/** 1 for the bytes an unquoted field's common value is made of: printable ASCII but space, comma and quote. */
const PLAIN = byteClass((c) => c > 0x20 && c < 0x7f && c !== COMMA && c !== QUOTE);
/** What may follow a task's name: a comma, a closing quote, the line's end (which of them may is checked after it). */
const ANY_FIELD_END = byteClass((c) => c === COMMA || c === QUOTE || c < 0x20);
/** 1 for the bytes of another column's field the fast path passes over: printable ASCII or space, but comma and quote. */
const OTHER_BYTE = byteClass((c) => c >= 0x20 && c < 0x7f && c !== COMMA && c !== QUOTE);
/** The same inside quotes, where a comma is part of the value. */
const QUOTED_OTHER_BYTE = byteClass((c) => c >= 0x20 && c < 0x7f && c !== QUOTE);

/**
 * The index past the comma that ends a field at b[i] (the byte after its value: for a quoted
 * field, q = 1, its closing quote, then the comma), else -1.
 */
function afterField(b: Uint8Array, i: number, q: number): number {
  const c = b[i];
  if (c === COMMA) return q === 0 ? i + 1 : -1;
  return c === QUOTE && q === 1 && b[i + 1] === COMMA ? i + 2 : -1;
}

export class CsvScanner extends FastLineScanner {
  /** The field in each column (OTHER: a column the bill does not read). */
  private roles = new Int8Array(0);
  /** The first five columns are in the contract's order (timestamp, user, task, status, duration). */
  private inOrder = false;
  private headerRead: boolean;
  /** The tasks as both fast paths find them: a configured name, then a comma, a quote or the line's end (what follows is checked after). */
  private readonly taskTokens: NameTokens;

  constructor(
    private readonly path: string,
    layout: CsvLayout | undefined,
    tasks: readonly string[],
    maxDurationMs: number,
    window: TimeWindow,
    table: UsageSink,
    counts: ShardCounts,
    exact: ByteLineSink,
    /** Records with a request id go here (dedupe by id); without it they are billed. */
    private readonly ids?: IdentifiedSink,
  ) {
    super(maxDurationMs, window, table, counts, exact);
    this.taskTokens = new NameTokens(tasks, PLAIN, ANY_FIELD_END);
    this.armed = false;
    this.headerRead = layout !== undefined;
    if (layout !== undefined) this.arm(layout);
  }

  /** Takes the header's layout: the fast path runs for any layout. */
  private arm(l: CsvLayout): void {
    this.roles = new Int8Array(l.fieldCount).fill(OTHER);
    if (l.requestId >= 0) this.roles[l.requestId] = REQUEST_ID;
    this.roles[l.timestamp] = TIMESTAMP;
    this.roles[l.user] = USER;
    this.roles[l.task] = TASK;
    this.roles[l.status] = STATUS;
    this.roles[l.duration] = DURATION;
    // A request id column is read by the column loop only.
    this.inOrder = l.timestamp === 0 && l.user === 1 && l.task === 2 && l.status === 3 && l.duration === 4 && l.requestId < 0;
    this.armed = true;
  }

  protected override slow(b: Buffer, s: number, e: number, offset: number): void {
    this.exact.line(b, s, e, offset);
    if (this.headerRead) return;
    // Before the header: the exact path reads it (and says what is wrong with it); its layout then arms the fast path.
    const content = recordBytes(offset, b.subarray(s, e));
    if (content === undefined) return;
    this.headerRead = true;
    this.arm(csvLayout(content.toString('utf8'), this.path));
  }

  /**
   * The commonest record (the contract's column order, other columns after them, each field
   * quoted or not) from b[s] on, judged in straight-line code in one loop over the lines, the
   * scanner's fields read once, not once a line (as the space format's fastRun; the column
   * loop of fastAnyOrder is a third slower): the same checks, field by field, a quoted field's
   * value read between its quotes. It stops at a record it does not take (a doubled quote,
   * anything unusual), which fastLine then judges; in another layout it takes none.
   */
  protected override fastRun(b: Buffer, s: number, end: number): number {
    if (!this.inOrder) return s;
    const counts = this.counts;
    const dates = this.dates;
    const tokens = this.taskTokens;
    const table = this.table;
    const windowed = this.windowed;
    const maxDurationMs = this.maxDurationMs;
    const columns = this.roles.length;
    while (s < end) {
      // Each field may be quoted: q is 1 when it is, and its value lies between the quotes
      // (afterField checks what ends it); whether it opens with one is a branch, not arithmetic
      // on the byte, so that the next loads need not wait for it. Every loop below stops at the
      // line's LF at the latest (a control byte: no digit, no byte of a value).
      let q = 0;
      let ts = s;
      if (b[s] === QUOTE) {
        q = 1;
        ts++;
      }
      // The common 20-byte timestamp (ending in Z) is read by DateTimes directly (in a time
      // window, by timestampSeconds, which also notes the fraction's range for inWindow); any
      // other (a fraction, an offset, a lowercase z) is scanned to its end.
      if ((b[ts + 10]! | 0x20) !== 116) return s;
      let te = ts + 20;
      let seconds: number;
      if (b[ts + 19] === Z) {
        seconds = windowed ? this.timestampSeconds(b, ts, te) : dates.seconds(b, ts);
      } else {
        te = ts + 19;
        while (PLAIN[b[te]!] === 1) te++;
        seconds = this.timestampSeconds(b, ts, te);
      }
      let i = afterField(b, te, q);
      if (seconds !== seconds || i < 0) return s;
      q = 0;
      if (b[i] === QUOTE) {
        q = 1;
        i++;
      }
      const us = i;
      let h = 0x811c9dc5;
      let c = 0;
      while (PLAIN[(c = b[i]!)] === 1) {
        h = Math.imul(h ^ c, 0x01000193);
        i++;
      }
      // A byte above ASCII: a user with letters above ASCII, as UTF-8 (nonAsciiUserEnd).
      if (c >= 0x80) {
        i = nonAsciiUserEnd(b, us, i, PLAIN);
        if (i < 0) return s;
        h = hashBytes(b, us, i);
      }
      if (i === us || i - us > MAX_USER_BYTES) return s;
      const ue = i;
      i = afterField(b, i, q);
      if (i < 0) return s;
      // The task: a configured name, then what ends a field (NameTokens: no scan of the field first).
      q = 0;
      if (b[i] === QUOTE) {
        q = 1;
        i++;
      }
      const task = tokens.find(b, i);
      if (task < 0) return s;
      i = afterField(b, i + tokens.byteLength(task), q);
      if (i < 0) return s;
      q = 0;
      if (b[i] === QUOTE) {
        q = 1;
        i++;
      }
      const ss = i;
      let status = 0;
      while (((c = b[i]! | 0) - 48) >>> 0 <= 9) {
        status = status * 10 + c - 48;
        i++;
      }
      if (i === ss || i - ss > 3 || status < STATUS_MIN || status > STATUS_MAX) return s;
      i = afterField(b, i, q);
      if (i < 0) return s;
      q = 0;
      if (b[i] === QUOTE) {
        q = 1;
        i++;
      }
      const ds = i;
      let duration = 0;
      while (((c = b[i]! | 0) - 48) >>> 0 <= 9) {
        duration = duration * 10 + c - 48;
        i++;
      }
      if (i === ds || i - ds > 15 || duration > maxDurationMs) return s;
      if (c === SUFFIX[0] && b[i + 1] === SUFFIX[1]) i += 2;
      if (q === 1) {
        if (b[i] !== QUOTE) return s;
        i++;
      }
      for (let col = FIELD_COUNT; col < columns; col++) {
        if (b[i] !== COMMA) return s;
        if (b[++i] === QUOTE) {
          i++;
          while (QUOTED_OTHER_BYTE[b[i]!] === 1) i++;
          if (b[i] !== QUOTE) return s;
          i++;
        } else {
          while (OTHER_BYTE[b[i]!] === 1) i++;
        }
      }
      const lineEnd = this.lineEnd(b, s, i);
      if (lineEnd < 0) return s;
      // Billed as bill() bills a line, written out here: a call to bill() per line took 2-4% longer in the scanner alone.
      counts.records++;
      if (windowed && !this.inWindow(b, seconds)) {
        counts.outOfWindow++;
      } else {
        counts.accepted++;
        table.addLater(b, us, ue, h >>> 0, task, duration);
      }
      s = lineEnd;
    }
    return s;
  }

  /** A record fastRun did not take: the column loop. */
  protected fastLine(b: Buffer, s: number): number {
    return this.fastAnyOrder(b, s);
  }

  /** A record of any layout, its fields quoted or not: one pass over the fields in column order. */
  private fastAnyOrder(b: Buffer, s: number): number {
    // One pass over the fields in column order; every loop stops at a comma, a quote or a control byte (the LF).
    // A quoted field's value is read as an unquoted one's, between its quotes (fs, i); a
    // doubled quote, or a comma or space in a contract field, ends the loop before the closing
    // quote, and the record goes to the exact path.
    let i = s;
    let seconds = NaN;
    let us = 0;
    let ue = 0;
    let userHash = -1;
    let task = -1;
    let status = -1;
    let duration = -1;
    // The text ranges a record with an id hands to dedupe: id, timestamp, status and duration digits.
    let ks = 0;
    let ke = 0;
    let ts = 0;
    let te = 0;
    let ss = 0;
    let se = 0;
    let ds = 0;
    let de = 0;
    // A status or duration with a leading zero: its digits are not its number's text.
    let leadingZero = false;
    let c = 0;
    const roles = this.roles;
    for (let col = 0; col < roles.length; col++) {
      if (col > 0) {
        if (b[i] !== COMMA) return -1;
        i++;
      }
      const quoted = b[i] === QUOTE;
      if (quoted) i++;
      const fs = i;
      const role = roles[col];
      if (role === OTHER) {
        if (quoted) while (QUOTED_OTHER_BYTE[b[i]!] === 1) i++;
        else while (OTHER_BYTE[b[i]!] === 1) i++;
      } else if (role === REQUEST_ID) {
        // An id every rule passes (printable ASCII but space, comma and quote), or none (empty).
        while (PLAIN[b[i]!] === 1) i++;
        if (i - fs > RULES.requestId.maxBytes) return -1;
        ks = fs;
        ke = i;
      } else if (role === USER) {
        let h = 0x811c9dc5;
        while (PLAIN[(c = b[i]!)] === 1) {
          h = Math.imul(h ^ c, 0x01000193);
          i++;
        }
        if (c >= 0x80) {
          i = nonAsciiUserEnd(b, fs, i, PLAIN);
          if (i < 0) return -1;
          h = hashBytes(b, fs, i);
        }
        if (i === fs || i - fs > MAX_USER_BYTES) return -1;
        us = fs;
        ue = i;
        userHash = h >>> 0;
      } else if (role === STATUS || role === DURATION) {
        let v = 0;
        while ((c = b[i]!) >= 48 && c <= 57) {
          v = v * 10 + c - 48;
          i++;
        }
        if (i === fs || i - fs > 15) return -1;
        if (i - fs > 1 && b[fs] === ZERO) leadingZero = true;
        if (role === STATUS) {
          status = v;
          ss = fs;
          se = i;
        } else {
          ds = fs;
          de = i;
          if (c === SUFFIX[0] && b[i + 1] === SUFFIX[1]) i += 2;
          duration = v;
        }
      } else if (role === TIMESTAMP) {
        // The common timestamp is 20 bytes: its separators are checked by position, not searched for.
        if (b[fs + 19] === Z && (b[fs + 20] === (quoted ? QUOTE : COMMA) || b[fs + 20]! < 0x20)) i = fs + 20;
        else while (PLAIN[b[i]!] === 1) i++;
        seconds = this.timestampSeconds(b, fs, i);
        ts = fs;
        te = i;
      } else {
        // TASK: a configured name, then what ends a field (NameTokens: no scan of the field first).
        task = this.taskTokens.find(b, i);
        if (task < 0) return -1;
        i += this.taskTokens.byteLength(task);
      }
      if (quoted) {
        if (b[i] !== QUOTE) return -1;
        i++;
      }
    }
    const next = this.lineEnd(b, s, i);
    if (next < 0 || seconds !== seconds || task < 0 || status < RULES.status.min || status > RULES.status.max || duration > this.maxDurationMs) return -1;
    if (ke > ks && this.ids !== undefined) {
      if (leadingZero) return -1;
      this.identify(this.ids, b, ks, ke, us, ue, task, ts, te, ss, se, ds, de, seconds);
      return next;
    }
    this.bill(b, us, ue, userHash, task, duration, seconds);
    return next;
  }
}
