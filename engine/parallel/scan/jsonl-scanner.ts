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
 */
import { RULES, FIELDS } from '../../core/validation/rules.js';
import { BACKSLASH, ByteNames, COMMA, FastLineScanner, NameTokens, QUOTE, byteClass, digitsAt, sameBytes, type IdentifiedSink } from './fast-lines.js';
import { CLOSE, COLON, OPEN, STRING_BYTE, otherValueEnd, plainStringEnd, skipBlanks } from './json-values.js';
import { MAX_USER_BYTES } from '../../core/validation/reasons.js';
import type { TimeWindow } from '../../core/validation/timestamp.js';
import type { UsageSink } from './user-table.js';
import type { ShardCounts } from './partial.js';
import type { ByteLineSink } from './range-reader.js';

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

export class JsonlScanner extends FastLineScanner {
  /** Value range of each key in the current line (the request id's last). */
  private readonly vs = new Int32Array(KEYS.length + 1);
  private readonly ve = new Int32Array(KEYS.length + 1);
  /** The tasks: a configured name, then the string's closing quote. */
  private readonly taskTokens: NameTokens;

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
          // Printable ASCII but space, quote and backslash: a user every rule passes, hashed on the way.
          let h = 0x811c9dc5;
          let c = b[i]!;
          while (USER_BYTE[c] === 1) {
            h = Math.imul(h ^ c, 0x01000193);
            c = b[++i]!;
          }
          if (c !== QUOTE || i === vs || i - vs > MAX_USER_BYTES) return -1;
          this.vs[K_USER] = vs;
          this.ve[K_USER] = i;
          userHash = h >>> 0;
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
        // A JSON integer without sign, fraction or exponent (no leading zero before another digit).
        const ns = i;
        let c = b[i]!;
        while (c >= 48 && c <= 57) c = b[++i]!;
        if (i - ns > 1 && b[ns] === 48) return -1;
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
    const status = digitsAt(b, this.vs[K_STATUS]!, this.ve[K_STATUS]!, 3);
    if (status < RULES.status.min || status > RULES.status.max) return -1;
    const duration = digitsAt(b, this.vs[K_DURATION]!, this.ve[K_DURATION]!, 15);
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
