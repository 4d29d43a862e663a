/**
 * The JSON lines fast path: an object of the five contract keys, in any order, each once,
 * optionally a `request_id` key, and any other keys (SPEC: ignored) whose values are strings
 * of printable ASCII, UTF-8 and JSON's escapes, numbers, literals (true, false, null), or objects and
 * arrays of such values nested up to MAX_NESTING deep; an id of
 * printable ASCII but space, quote and backslash within the id's length rule makes the line
 * go to `ids` (the dedupe shuffle) instead of being billed, or billed when there is no such
 * sink (`--dedupe off`: the id rule passed), and an empty id is no id; the contract keys'
 * string values of printable ASCII without escapes, numbers as plain digits; each field in
 * its common shape (fast-lines.ts); spaces and tabs between tokens. Judged on bytes with no
 * string or object made. Anything else goes to the exact path (JSON.parse and the field
 * rules): escapes in a key or a contract key's value, non-ASCII in a key or in a timestamp,
 * task or request id, fractions or exponents in a contract key's value, an object or array as
 * a contract key's value, a repeated contract key, a null id, a reject of any reason.
 * A line is read by the loop over its keys (fastAnyOrder), which learns its layout: the keys
 * in their order and the bytes between the values. The lines after it in the same layout,
 * whatever the writer's key order, spacing and other keys, have only their values read
 * (fastLearned).
 */
import { RULES, FIELDS } from '../../core/validation/rules.js';
import { BACKSLASH, ByteNames, COMMA, FastLineScanner, NameTokens, QUOTE, byteClass, digitsAt, nonAsciiUserEnd, sameBytes, type IdentifiedSink } from './fast-lines.js';
import { CLOSE, COLON, OPEN, STRING_BYTE, otherValueEnd, plainStringEnd, skipBlanks } from './json-values.js';
import { MAX_USER_BYTES } from '../../core/validation/reasons.js';
import type { TimeWindow } from '../../core/validation/timestamp.js';
import { hashBytes, type UsageSink } from './user-table.js';
import type { ShardCounts } from './partial.js';
import type { ByteLineSink } from './range-reader.js';
import { WordLiteral, WordReader } from '../../core/formats/words.js';

const KEYS = FIELDS.map((f) => Buffer.from(RULES.jsonl.keys[f], 'utf8'));
const [K_TS, K_USER, K_TASK, K_STATUS, K_DURATION] = [0, 1, 2, 3, 4];
/** The request id's key: a bit after the contract keys'. */
const K_ID = KEYS.length;
/** Every key the fast path knows, the request id's last (its index is K_ID). */
const KEY_NAMES = new ByteNames([...FIELDS.map((f) => RULES.jsonl.keys[f]), RULES.requestId.jsonKey]);
const STRING_VALUED = (1 << K_TS) | (1 << K_USER) | (1 << K_TASK);
const ALL_KEYS = (1 << KEYS.length) - 1;
/** 1 for the bytes of a user id every rule passes, in a JSON string without escapes. */
const USER_BYTE = byteClass((c) => c > 0x20 && c < 0x7f && c !== QUOTE && c !== BACKSLASH);
/** The end of a JSON string's body (the task's NameTokens, of STRING_BYTE bytes). */
const STRING_END = byteClass((c) => c === QUOTE);

/**
 * The JSON integer b[s, e) of ASCII digits (no sign, fraction or exponent) as a number of 1 to
 * `maxDigits` digits; -1 for none, too many, or a leading zero before another digit (`010` is
 * no JSON number). A status and a duration are read so.
 */
function jsonDigitsAt(b: Uint8Array, s: number, e: number, maxDigits: number): number {
  return e - s > 1 && b[s] === 48 ? -1 : digitsAt(b, s, e, maxDigits);
}

/**
 * A layout learned from a line fastAnyOrder billed (fastLearned): its members' keys in their
 * order, and the bytes between their values. Logs keep the layout their writer gives them
 * (keys in its order, its spacing, the same other keys), whatever it is: a line that has the
 * same bytes between its values has the same keys, once each, in the same order, so only its
 * values are left to read.
 */
interface LearnedLayout {
  /**
   * literals[k]: the bytes before value k, from the line's start or the end of value k - 1
   * (the key, the colon, blanks, a string's opening quote); literals[n]: from the end of the
   * last value through the closing brace.
   */
  readonly literals: readonly WordLiteral[];
  /** What value k is: a KEYS index, K_ID, or OTHER (another key's value, passed over). */
  readonly kinds: Int8Array;
  /** What this thread knows of the layout (layoutRecord): how long it has lasted, and its compiled reader. */
  readonly record: LayoutRecord;
}
/** Another key's value in a LearnedLayout. */
const OTHER = -1;
/** Members of a line whose layout is learned at most (a line of more goes to fastAnyOrder). */
const MAX_LEARNED_MEMBERS = 32;
/**
 * Lines fastAnyOrder bills before it learns a layout again (a file of several layouts, as one
 * whose lines have a key only sometimes, would otherwise learn one on most lines).
 */
const RELEARN_EVERY = 16;
/**
 * Lines fastLearned's loop bills in a layout, in a worker thread, before the layout is compiled
 * (compiledLayout). Compiling one and optimizing its code took 9-14 ms of V8's time, which
 * the compiled code wins back in about 200,000 lines: a layout that has lasted 262,144 lines
 * (about 25 MiB of JSON lines) is likely to last. A file of ever new layouts that each last
 * just that long spends at most about 50 ns a line more; one whose layouts last less never
 * compiles one.
 */
const COMPILE_AFTER = 1 << 18;

export class JsonlScanner extends FastLineScanner {
  /** Value range of each key in the current line (the request id's last). */
  private readonly vs = new Int32Array(KEYS.length + 1);
  private readonly ve = new Int32Array(KEYS.length + 1);
  /** The tasks: a configured name, then the string's closing quote. */
  private readonly taskTokens: NameTokens;
  /** The line's words, which a compiled layout compares its literals with (compiledLayout, which names it: not private). */
  readonly words = new WordReader();
  /** The hash of the user userEnd() read last, as an int32. */
  private userHash = 0;
  /** The layouts learned last (at most two: lines with and without an occasional key), the one billed last first. */
  private layouts: LearnedLayout[] = [];
  /** Lines fastAnyOrder billed since it last learned a layout. */
  private sinceLearned = RELEARN_EVERY;
  /** Where the values of the line fastAnyOrder reads start and end, member by member (the value's bytes, a string's without its quotes). */
  private readonly valueStart = new Int32Array(MAX_LEARNED_MEMBERS);
  private readonly valueEnd = new Int32Array(MAX_LEARNED_MEMBERS);
  private readonly valueKind = new Int8Array(MAX_LEARNED_MEMBERS);

  constructor(
    tasks: readonly string[],
    maxDurationMs: number,
    window: TimeWindow,
    table: UsageSink,
    counts: ShardCounts,
    exact: ByteLineSink,
    /**
     * Lines with a request id go here (dedupe by id); null: to the exact path (wrapped lines,
     * whose offsets an inner line's scanner does not know); absent: they are billed.
     */
    private readonly ids?: IdentifiedSink | null,
    /**
     * Lines the loop over a learned layout bills in it in this thread before the layout is
     * compiled (tests: a few; Infinity, the loop only: the scanner neither compiles a layout
     * nor reads one compiled).
     */
    private readonly compileAfter = COMPILE_AFTER,
  ) {
    super(maxDurationMs, window, table, counts, exact);
    this.taskTokens = new NameTokens(tasks, STRING_BYTE, STRING_END);
  }

  protected fastLine(b: Buffer, s: number): number {
    // The layouts learned, the one that took the last line first; else the loop over the keys (which learns).
    const layouts = this.layouts;
    for (let k = 0; k < layouts.length; k++) {
      const layout = layouts[k]!;
      const next = this.fastLearned(b, s, layout);
      if (next < 0) continue;
      if (k > 0) {
        layouts[k] = layouts[0]!;
        layouts[0] = layout;
      }
      return next;
    }
    return this.fastAnyOrder(b, s);
  }

  /**
   * A line in a layout fastAnyOrder learned (LearnedLayout), each value checked as
   * fastAnyOrder checks it; else -1. Read by the layout's compiled function once it has one
   * (compiledLayout), else by the loop below, which compiles it once it has billed
   * compileAfter lines.
   */
  private fastLearned(b: Buffer, s: number, layout: LearnedLayout): number {
    const record = layout.record;
    const compiled = record.reader;
    if (compiled !== null) return compiled(this, b, s);
    // Every loop stops at the line's LF (a control byte: not a digit or string byte), and each literal is compared within b.
    const { literals, kinds } = layout;
    const [vs, ve] = [this.vs, this.ve];
    let i = s;
    let seconds = NaN;
    let userHash = 0;
    let task = -1;
    let withId = false;
    for (let k = 0; k < kinds.length; k++) {
      const literal = literals[k]!;
      if (!literal.at(b, i)) return -1;
      const start = (i += literal.length);
      const kind = kinds[k]!;
      if (kind === OTHER) {
        i = otherValueEnd(b, i);
        if (i < 0) return -1;
        continue;
      }
      if (kind === K_TS) {
        i = b[i + 20] === QUOTE ? i + 20 : plainStringEnd(b, i);
        if (i < 0) return -1;
        seconds = this.timestampSeconds(b, start, i);
        if (seconds !== seconds) return -1;
      } else if (kind === K_USER) {
        i = this.userEnd(b, i);
        if (i < 0) return -1;
        userHash = this.userHash;
      } else if (kind === K_TASK) {
        task = this.taskTokens.find(b, i);
        if (task < 0) return -1;
        i += this.taskTokens.byteLength(task);
      } else if (kind === K_ID) {
        i = this.idEnd(b, i);
        if (i < 0) return -1;
        withId = true;
      } else {
        let c = b[i]!;
        while (c >= 48 && c <= 57) c = b[++i]!;
      }
      vs[kind] = start;
      ve[kind] = i;
    }
    const last = literals[kinds.length]!;
    if (!last.at(b, i)) return -1;
    const next = this.lineEnd(b, s, skipBlanks(b, i + last.length));
    if (next < 0) return -1;
    const billed = this.settle(b, next, seconds, userHash, task, withId);
    if (billed >= 0 && ++record.billed >= this.compileAfter) record.reader = compiledLayout(literals, kinds);
    return billed;
  }

  /** The closing quote's index of a request id's body at b[vs] every rule passes (or an empty one: no id), else -1 (null, escapes, other bytes: the exact path's). */
  private idEnd(b: Uint8Array, vs: number): number {
    let i = vs;
    while (USER_BYTE[b[i]!] === 1) i++;
    return b[i] !== QUOTE || i - vs > RULES.requestId.maxBytes ? -1 : i;
  }

  /**
   * The end of a line whose values are read (this.vs, this.ve; its timestamp's seconds, user's
   * hash and task given): its status and duration judged, then billed or handed to dedupe;
   * `next`, or -1 when a value is one the exact path must judge.
   */
  private settle(b: Uint8Array, next: number, seconds: number, userHash: number, task: number, withId: boolean): number {
    const [vs, ve] = [this.vs, this.ve];
    return this.settleValues(b, next, seconds, userHash, task, withId ? vs[K_ID]! : 0, withId ? ve[K_ID]! : 0, vs[K_USER]!, ve[K_USER]!, vs[K_TS]!, ve[K_TS]!, vs[K_STATUS]!, ve[K_STATUS]!, vs[K_DURATION]!, ve[K_DURATION]!);
  }

  /** settle() with the values' ranges given: the request id's b[ks, ke) (empty: none), the user's, timestamp's, status's and duration's. */
  private settleValues(b: Uint8Array, next: number, seconds: number, userHash: number, task: number, ks: number, ke: number, us: number, ue: number, ts: number, te: number, ss: number, se: number, ds: number, de: number): number {
    const status = jsonDigitsAt(b, ss, se, 3);
    if (status < RULES.status.min || status > RULES.status.max) return -1;
    const duration = jsonDigitsAt(b, ds, de, 15);
    if (duration < 0 || duration > this.maxDurationMs) return -1;
    if (this.ids !== undefined && ke > ks) {
      if (this.ids === null) return -1;
      this.identify(this.ids, b, ks, ke, us, ue, task, ts, te, ss, se, ds, de, seconds);
    } else {
      this.bill(b, us, ue, userHash, task, duration, seconds);
    }
    return next;
  }

  /**
   * The layout of the line at b[s] that fastAnyOrder billed (`members` values, the closing
   * brace at b[close]), learned: first of the layouts, the oldest of two dropped.
   */
  private learn(b: Uint8Array, s: number, members: number, close: number): void {
    this.sinceLearned = 0;
    const literals: WordLiteral[] = [];
    let from = s;
    for (let k = 0; k < members; k++) {
      literals.push(new WordLiteral(b.subarray(from, this.valueStart[k]!)));
      from = this.valueEnd[k]!;
    }
    literals.push(new WordLiteral(b.subarray(from, close + 1)));
    const kinds = this.valueKind.slice(0, members);
    const record = this.compileAfter === Infinity ? { billed: 0, reader: null } : layoutRecord(kinds, literals);
    this.layouts = [{ literals, kinds, record }, ...this.layouts.slice(0, 1)];
  }

  /**
   * The user string's body starting at b[vs]: printable ASCII but space, quote and backslash,
   * and letters above ASCII in UTF-8, a user every rule passes, up to its closing quote, whose
   * index this is (its hash, FNV-1a, in userHash); else -1.
   */
  private userEnd(b: Buffer, vs: number): number {
    let h = 0x811c9dc5;
    let i = vs;
    let c = b[i]!;
    while (USER_BYTE[c] === 1) {
      h = Math.imul(h ^ c, 0x01000193);
      c = b[++i]!;
    }
    // A byte above ASCII: a user with letters above ASCII, as UTF-8 (nonAsciiUserEnd).
    if (c >= 0x80) {
      i = nonAsciiUserEnd(b, vs, i, USER_BYTE);
      if (i < 0) return -1;
      h = hashBytes(b, vs, i) | 0;
      c = b[i]!;
    }
    if (c !== QUOTE || i === vs || i - vs > MAX_USER_BYTES) return -1;
    // As an int32 (the sinks read its bits): h >>> 0 is no small integer above 2^31, and a field holding one costs a box.
    this.userHash = h;
    return i;
  }

  /** A line of the five contract keys in any order, other keys among them (see the file's comment). */
  private fastAnyOrder(b: Buffer, s: number): number {
    // Every loop stops at the line's LF (a control byte: not a separator, digit or string byte).
    let i = skipBlanks(b, s);
    if (b[i++] !== OPEN) return -1;
    let seen = 0;
    let seconds = NaN;
    let userHash = -1;
    let task = -1;
    let members = 0;
    for (let n = 0; ; n++) {
      i = skipBlanks(b, i);
      if (b[i] !== QUOTE) return -1;
      const ks = ++i;
      // The keys are most often in the contract's order (after a request id): that one is tried first, in place.
      const k = n - ((seen >>> K_ID) & 1);
      let key: number;
      if (k < KEYS.length && sameBytes(KEYS[k]!, b, ks, ks + KEYS[k]!.length) && b[ks + KEYS[k]!.length] === QUOTE) {
        key = k;
        i = ks + KEYS[k]!.length;
      } else {
        i = plainStringEnd(b, i);
        if (i < 0) return -1;
        key = KEY_NAMES.find(b, ks, i);
      }
      if (key >= 0) {
        if ((seen & (1 << key)) !== 0) return -1;
        seen |= 1 << key;
      }
      i = skipBlanks(b, i + 1);
      if (b[i] !== COLON) return -1;
      i = skipBlanks(b, i + 1);
      // The value's bytes, a string's without its quotes (for learn()).
      let valueStart = i;
      if (key < 0) {
        // Another key: its value passed over (when it is one the fast path reads as JSON does).
        i = otherValueEnd(b, i);
        if (i < 0) return -1;
      } else if (key === K_ID) {
        // An id every rule passes (or an empty one: no id); anything else (null, escapes, other bytes) is the exact path's.
        if (b[i] !== QUOTE) return -1;
        const vs = (valueStart = i + 1);
        i = this.idEnd(b, vs);
        if (i < 0) return -1;
        this.vs[K_ID] = vs;
        this.ve[K_ID] = i;
        i++;
      } else if ((STRING_VALUED & (1 << key)) !== 0) {
        if (b[i] !== QUOTE) return -1;
        const vs = (valueStart = ++i);
        if (key === K_USER) {
          i = this.userEnd(b, vs);
          if (i < 0) return -1;
          this.vs[K_USER] = vs;
          this.ve[K_USER] = i;
          userHash = this.userHash;
        } else if (key === K_TS && b[vs + 20] === QUOTE) {
          // The common 20-byte timestamp: every byte is checked by position.
          i = vs + 20;
          seconds = this.timestampSeconds(b, vs, i);
          if (seconds !== seconds) return -1;
          this.vs[K_TS] = vs;
          this.ve[K_TS] = i;
        } else if (key === K_TS) {
          i = plainStringEnd(b, i);
          if (i < 0) return -1;
          seconds = this.timestampSeconds(b, vs, i);
          this.vs[K_TS] = vs;
          this.ve[K_TS] = i;
        } else {
          // The task: a configured name, then the closing quote (NameTokens: no scan of the string first).
          task = this.taskTokens.find(b, vs);
          if (task < 0) return -1;
          i = vs + this.taskTokens.byteLength(task);
        }
        i++;
      } else {
        // A JSON integer's digits (read by jsonDigitsAt below).
        const ns = i;
        let c = b[i]!;
        while (c >= 48 && c <= 57) c = b[++i]!;
        this.vs[key] = ns;
        this.ve[key] = i;
      }
      if (n < MAX_LEARNED_MEMBERS) {
        this.valueStart[n] = valueStart;
        // A string's end is its closing quote (the next literal starts with it); another value's, past it.
        this.valueEnd[n] = key >= 0 && (key === K_ID || (STRING_VALUED & (1 << key)) !== 0) ? i - 1 : i;
        this.valueKind[n] = key >= 0 ? key : OTHER;
      }
      members = n + 1;
      i = skipBlanks(b, i);
      const c = b[i++];
      if (c === COMMA) continue;
      if (c !== CLOSE) return -1;
      break;
    }
    const close = i - 1;
    i = skipBlanks(b, i);
    const next = this.lineEnd(b, s, i);
    if (next < 0 || (seen & ALL_KEYS) !== ALL_KEYS || seconds !== seconds || task < 0) return -1;
    const billed = this.settle(b, next, seconds, userHash, task, (seen & (1 << K_ID)) !== 0);
    if (billed >= 0 && ++this.sinceLearned >= RELEARN_EVERY && members <= MAX_LEARNED_MEMBERS) this.learn(b, s, members, close);
    return billed;
  }
}

/** A learned layout compiled: what fastLearned's loop does for its layout, as straight-line code. */
type LayoutReader = (scanner: JsonlScanner, b: Buffer, s: number) => number;

/** What a worker thread knows of a layout: the scanners that learn it share it. */
interface LayoutRecord {
  /** Lines fastLearned's loop billed in the layout. */
  billed: number;
  /** The layout compiled, once the loop has billed compileAfter lines in it; null before. */
  reader: LayoutReader | null;
}

/** This thread's layouts, by their kinds and literals (layoutRecord), the one learned longest ago first. */
const layoutRecords = new Map<string, LayoutRecord>();
/** Layouts a thread keeps at most: a file of ever new layouts forgets the one learned longest ago. */
const MAX_LAYOUT_RECORDS = 256;

/** The thread's record of the layout of these kinds and literals, made when new. */
function layoutRecord(kinds: Int8Array, literals: readonly WordLiteral[]): LayoutRecord {
  const key = `${kinds.join(',')}|${literals.map((l) => l.length).join(',')}|${literals.map((l) => Buffer.from(l.bytes).toString('latin1')).join('')}`;
  let record = layoutRecords.get(key);
  if (record !== undefined) {
    // Met again: last in the order of eviction.
    layoutRecords.delete(key);
  } else {
    if (layoutRecords.size >= MAX_LAYOUT_RECORDS) layoutRecords.delete(layoutRecords.keys().next().value!);
    record = { billed: 0, reader: null };
  }
  layoutRecords.set(key, record);
  return record;
}

/**
 * A learned layout's reader as a function made from source, as a schema validator compiles a
 * schema: its literals compared word by word with the words as constants, its values read in
 * their order into locals, each by the scanner's own reader of that value (those fastLearned's
 * loop calls), then settled as fastLearned's lines are. The source holds only numbers taken
 * from the literals' bytes and the code below, never a line's text; it names the scanner's
 * members it calls (private to TypeScript, not to JavaScript): the tests compile the layouts
 * they learn. The bench's JSON lines (4 MiB in memory, 1,000 users): 123-134 ns a line against
 * 190-192 by the loop.
 */
function compiledLayout(literals: readonly WordLiteral[], kinds: Int8Array): LayoutReader {
  const code = ['const v = scanner.words.of(b);', 'let i = s, c = 0, seconds = NaN, userHash = 0, task = -1;', 'let ks = 0, ke = 0, us = 0, ue = 0, ts = 0, te = 0, ss = 0, se = 0, ds = 0, de = 0;'];
  const compare = (l: WordLiteral): void => {
    code.push(`if (${l.missingSource('b', 'i', 'v')}) return -1;`, `i += ${l.length};`);
  };
  for (let k = 0; k < kinds.length; k++) {
    compare(literals[k]!);
    const kind = kinds[k]!;
    if (kind === OTHER) code.push('i = otherValueEnd(b, i);', 'if (i < 0) return -1;');
    else if (kind === K_TS) code.push('ts = i;', `i = b[i + 20] === ${QUOTE} ? i + 20 : plainStringEnd(b, i);`, 'if (i < 0) return -1;', 'te = i;', 'seconds = scanner.timestampSeconds(b, ts, te);', 'if (seconds !== seconds) return -1;');
    else if (kind === K_USER) code.push('us = i;', 'i = scanner.userEnd(b, i);', 'if (i < 0) return -1;', 'ue = i;', 'userHash = scanner.userHash;');
    else if (kind === K_TASK) code.push('task = scanner.taskTokens.find(b, i);', 'if (task < 0) return -1;', 'i += scanner.taskTokens.byteLength(task);');
    else if (kind === K_ID) code.push('ks = i;', 'i = scanner.idEnd(b, i);', 'if (i < 0) return -1;', 'ke = i;');
    else {
      const [from, to] = kind === K_STATUS ? ['ss', 'se'] : ['ds', 'de'];
      code.push(`${from} = i;`, 'c = b[i];', 'while (c >= 48 && c <= 57) c = b[++i];', `${to} = i;`);
    }
  }
  compare(literals[kinds.length]!);
  code.push('const next = scanner.lineEnd(b, s, skipBlanks(b, i));', 'if (next < 0) return -1;', 'return scanner.settleValues(b, next, seconds, userHash, task, ks, ke, us, ue, ts, te, ss, se, ds, de);');
  const make = new Function('otherValueEnd', 'plainStringEnd', 'skipBlanks', `return function readLayout(scanner, b, s) {\n  ${code.join('\n  ')}\n};`);
  return make(otherValueEnd, plainStringEnd, skipBlanks) as LayoutReader;
}
