/**
 * The JSON lines fast path: an object of the five contract keys, in any order, each once,
 * optionally a `request_id` key, and any other keys (SPEC: ignored) whose values are strings
 * of printable ASCII without escapes, numbers, literals (true, false, null), or objects and
 * arrays of such values nested up to MAX_NESTING deep; an id of
 * printable ASCII but space, quote and backslash within the id's length rule makes the line
 * go to `ids` (the dedupe shuffle) instead of being billed, or billed when there is no such
 * sink (`--dedupe off`: the id rule passed), and an empty id is no id; the contract keys'
 * string values of printable ASCII without escapes, numbers as plain digits; each field in
 * its common shape (fast-lines.ts); spaces and tabs between tokens. Judged on bytes with no
 * string or object made. Anything else goes to the exact path (JSON.parse and the field
 * rules): escapes, non-ASCII, fractions or exponents in a contract key's value, an object or
 * array as a contract key's value, a repeated contract key, a null id, a reject of any reason.
 * The commonest lines (the five keys in order, nothing else, as JSON.stringify or Python's
 * json.dumps writes them) are judged in straight-line code first (fastInOrder), the others by
 * the loop over their keys (fastAnyOrder).
 */
import { RULES, FIELDS } from '../../core/validation/rules.js';
import { BACKSLASH, ByteNames, COMMA, FastLineScanner, NameTokens, QUOTE, byteClass, digitsAt, sameBytes, type IdentifiedSink } from './fast-lines.js';
import { CLOSE, COLON, OPEN, STRING_BYTE, otherValueEnd, plainStringEnd, skipBlanks } from './json-values.js';
import { MAX_USER_BYTES } from '../../core/validation/reasons.js';
import type { TimeWindow } from '../../core/validation/timestamp.js';
import type { UsageSink } from './user-table.js';
import type { ShardCounts } from './partial.js';
import type { ByteLineSink } from './range-reader.js';
import { WordLiteral } from './words.js';

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
 * no JSON number). Both fast paths read a status and a duration so.
 */
function jsonDigitsAt(b: Uint8Array, s: number, e: number, maxDigits: number): number {
  return e - s > 1 && b[s] === 48 ? -1 : digitsAt(b, s, e, maxDigits);
}

/**
 * The commonest lines, judged in straight-line code (fastInOrder): the five contract keys in
 * the contract's order and nothing else, as JSON.stringify writes them (`{"timestamp":"…",
 * "user":…`), or with a space after each colon and comma as Python's json.dumps does. A layout
 * is the bytes between the values: the object's start up to the timestamp's opening quote,
 * then from each string value's closing quote (or after the status digits) up to the next
 * value, then the object's end.
 */
interface InOrderLayout {
  readonly ts: WordLiteral;
  readonly user: WordLiteral;
  readonly task: WordLiteral;
  readonly status: WordLiteral;
  readonly duration: WordLiteral;
}

function inOrderLayout(colon: string, comma: string): InOrderLayout {
  const k = RULES.jsonl.keys;
  const literal = (text: string) => new WordLiteral(Buffer.from(text, 'utf8'));
  const member = (key: string) => `"${key}"${colon}`;
  return {
    ts: literal(`{${member(k.timestamp)}"`),
    user: literal(`"${comma}${member(k.user)}"`),
    task: literal(`"${comma}${member(k.task)}"`),
    status: literal(`"${comma}${member(k.status)}`),
    duration: literal(`${comma}${member(k.duration)}`),
  };
}

const IN_ORDER_LAYOUTS = [inOrderLayout(':', ','), inOrderLayout(': ', ', ')] as const;

export class JsonlScanner extends FastLineScanner {
  /** Value range of each key in the current line (the request id's last). */
  private readonly vs = new Int32Array(KEYS.length + 1);
  private readonly ve = new Int32Array(KEYS.length + 1);
  /** The tasks: a configured name, then the string's closing quote. */
  private readonly taskTokens: NameTokens;
  /** The hash of the user userEnd() read last, as an int32. */
  private userHash = 0;

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
  ) {
    super(tasks, maxDurationMs, window, table, counts, exact);
    this.taskTokens = new NameTokens(tasks, STRING_BYTE, STRING_END);
  }

  protected fastLine(b: Buffer, s: number): number {
    // JSON.stringify's layout first; the other only for a line that starts as it does (keys in
    // another order would cost a comparison with each layout: 5% more time on such lines).
    const [compact, spaced] = IN_ORDER_LAYOUTS;
    const layout = compact.ts.at(b, s) ? compact : b[s + compact.ts.length - 2] === COLON && spaced.ts.at(b, s) ? spaced : null;
    if (layout !== null) {
      const next = this.fastInOrder(b, s, layout);
      if (next >= 0) return next;
    }
    return this.fastAnyOrder(b, s);
  }

  /**
   * A line in one of the IN_ORDER_LAYOUTS (its start already matched), with the checks of
   * fastAnyOrder on each value; else -1, and fastAnyOrder judges the line.
   */
  private fastInOrder(b: Buffer, s: number, layout: InOrderLayout): number {
    // Every loop stops at the line's LF (a control byte: not a digit or string byte).
    const ts = s + layout.ts.length;
    let i = ts + 20;
    if (b[i] !== QUOTE) {
      i = plainStringEnd(b, ts);
      if (i < 0) return -1;
    }
    const seconds = this.timestampSeconds(b, ts, i);
    if (seconds !== seconds || !layout.user.at(b, i)) return -1;
    const us = i + layout.user.length;
    const ue = this.userEnd(b, us);
    if (ue < 0 || !layout.task.at(b, ue)) return -1;
    const tv = ue + layout.task.length;
    const task = this.taskTokens.find(b, tv);
    if (task < 0) return -1;
    i = tv + this.taskTokens.byteLength(task);
    if (!layout.status.at(b, i)) return -1;
    const ss = (i += layout.status.length);
    let c = b[i]!;
    while (c >= 48 && c <= 57) c = b[++i]!;
    const status = jsonDigitsAt(b, ss, i, 3);
    if (status < RULES.status.min || status > RULES.status.max || !layout.duration.at(b, i)) return -1;
    const ds = (i += layout.duration.length);
    c = b[i]!;
    while (c >= 48 && c <= 57) c = b[++i]!;
    const duration = jsonDigitsAt(b, ds, i, 15);
    if (duration < 0 || duration > this.maxDurationMs || c !== CLOSE) return -1;
    const next = this.lineEnd(b, s, skipBlanks(b, i + 1));
    if (next < 0) return -1;
    this.bill(b, us, ue, this.userHash, task, duration, seconds);
    return next;
  }

  /**
   * The user string's body starting at b[vs]: printable ASCII but space, quote and backslash,
   * a user every rule passes, up to its closing quote, whose index this is (its hash, FNV-1a,
   * in userHash); else -1.
   */
  private userEnd(b: Buffer, vs: number): number {
    let h = 0x811c9dc5;
    let i = vs;
    let c = b[i]!;
    while (USER_BYTE[c] === 1) {
      h = Math.imul(h ^ c, 0x01000193);
      c = b[++i]!;
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
      if (key < 0) {
        // Another key: its value passed over (when it is one the fast path reads as JSON does).
        i = otherValueEnd(b, i);
        if (i < 0) return -1;
      } else if (key === K_ID) {
        // An id every rule passes (or an empty one: no id); anything else (null, escapes, other bytes) is the exact path's.
        if (b[i] !== QUOTE) return -1;
        const vs = ++i;
        while (USER_BYTE[b[i]!] === 1) i++;
        if (b[i] !== QUOTE || i - vs > RULES.requestId.maxBytes) return -1;
        this.vs[K_ID] = vs;
        this.ve[K_ID] = i;
        i++;
      } else if ((STRING_VALUED & (1 << key)) !== 0) {
        if (b[i] !== QUOTE) return -1;
        const vs = ++i;
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
      i = skipBlanks(b, i);
      const c = b[i++];
      if (c === COMMA) continue;
      if (c !== CLOSE) return -1;
      break;
    }
    i = skipBlanks(b, i);
    const next = this.lineEnd(b, s, i);
    if (next < 0 || (seen & ALL_KEYS) !== ALL_KEYS || seconds !== seconds || task < 0) return -1;
    const status = jsonDigitsAt(b, this.vs[K_STATUS]!, this.ve[K_STATUS]!, 3);
    if (status < RULES.status.min || status > RULES.status.max) return -1;
    const duration = jsonDigitsAt(b, this.vs[K_DURATION]!, this.ve[K_DURATION]!, 15);
    if (duration < 0 || duration > this.maxDurationMs) return -1;
    const [vs, ve] = [this.vs, this.ve];
    if (this.ids !== undefined && (seen & (1 << K_ID)) !== 0 && ve[K_ID]! > vs[K_ID]!) {
      if (this.ids === null) return -1;
      this.identify(this.ids, b, vs[K_ID]!, ve[K_ID]!, vs[K_USER]!, ve[K_USER]!, task, vs[K_TS]!, ve[K_TS]!, vs[K_STATUS]!, ve[K_STATUS]!, vs[K_DURATION]!, ve[K_DURATION]!, seconds);
    } else {
      this.bill(b, vs[K_USER]!, ve[K_USER]!, userHash, task, duration, seconds);
    }
    return next;
  }
}
