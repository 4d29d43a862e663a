/**
 * The JSON lines fast path: an object of exactly the five contract keys, in any order, each
 * once, with no other key (a `request_id` key among them: its records are deduplicated on the
 * exact path); string values of printable ASCII without escapes, numbers as plain digits;
 * each field in its common shape (fast-lines.ts); spaces and tabs between tokens. Judged on
 * bytes with no string or object made. Anything else goes to the exact path (JSON.parse and
 * the field rules): escapes, non-ASCII, other keys, fractions or exponents, nested values,
 * a repeated key, a reject of any reason.
 */
import { RULES, FIELDS } from '../../core/validation/rules.js';
import { BACKSLASH, COMMA, FastLineScanner, QUOTE, digitsAt, indexOfBytes, isPlainUser } from './fast-lines.js';

const KEYS = FIELDS.map((f) => Buffer.from(RULES.jsonl.keys[f], 'utf8'));
const [K_TS, K_USER, K_TASK, K_STATUS, K_DURATION] = [0, 1, 2, 3, 4];
const STRING_VALUED = (1 << K_TS) | (1 << K_USER) | (1 << K_TASK);
const ALL_KEYS = (1 << KEYS.length) - 1;
const SP = 32;
const TAB = 9;
const COLON = 58;
const OPEN = 123;
const CLOSE = 125;

export class JsonlScanner extends FastLineScanner {
  /** Value range of each key in the current line. */
  private readonly vs = new Int32Array(KEYS.length);
  private readonly ve = new Int32Array(KEYS.length);

  protected fast(b: Buffer, s: number, e: number): boolean {
    let i = s;
    while (i < e && (b[i] === SP || b[i] === TAB)) i++;
    if (b[i] !== OPEN || i >= e) return false;
    i++;
    let seen = 0;
    for (;;) {
      while (i < e && (b[i] === SP || b[i] === TAB)) i++;
      if (i >= e || b[i] !== QUOTE) return false;
      const ks = ++i;
      i = plainStringEnd(b, i, e);
      if (i < 0) return false;
      const key = indexOfBytes(KEYS, b, ks, i);
      if (key < 0 || (seen & (1 << key)) !== 0) return false;
      seen |= 1 << key;
      i++;
      while (i < e && (b[i] === SP || b[i] === TAB)) i++;
      if (i >= e || b[i] !== COLON) return false;
      i++;
      while (i < e && (b[i] === SP || b[i] === TAB)) i++;
      if (i >= e) return false;
      if ((STRING_VALUED & (1 << key)) !== 0) {
        if (b[i] !== QUOTE) return false;
        this.vs[key] = ++i;
        i = plainStringEnd(b, i, e);
        if (i < 0) return false;
        this.ve[key] = i++;
      } else {
        // A JSON integer without sign, fraction or exponent (no leading zero before another digit).
        this.vs[key] = i;
        let c = 0;
        while (i < e && (c = b[i]!) >= 48 && c <= 57) i++;
        if (i - this.vs[key]! > 1 && b[this.vs[key]!] === 48) return false;
        this.ve[key] = i;
      }
      while (i < e && (b[i] === SP || b[i] === TAB)) i++;
      if (i >= e) return false;
      const c = b[i++]!;
      if (c === COMMA) continue;
      if (c !== CLOSE) return false;
      break;
    }
    while (i < e && (b[i] === SP || b[i] === TAB)) i++;
    if (i !== e || seen !== ALL_KEYS) return false;
    const seconds = this.utcSeconds(b, this.vs[K_TS]!, this.ve[K_TS]!);
    if (seconds !== seconds) return false; // NaN: not the common shape
    const us = this.vs[K_USER]!;
    const ue = this.ve[K_USER]!;
    if (!isPlainUser(b, us, ue)) return false;
    const task = this.task(b, this.vs[K_TASK]!, this.ve[K_TASK]!);
    if (task < 0) return false;
    const status = digitsAt(b, this.vs[K_STATUS]!, this.ve[K_STATUS]!, 3);
    if (status < RULES.status.min || status > RULES.status.max) return false;
    const duration = digitsAt(b, this.vs[K_DURATION]!, this.ve[K_DURATION]!, 15);
    if (duration < 0 || duration > this.maxDurationMs) return false;
    this.bill(b, us, ue, task, duration, seconds);
    return true;
  }
}

/** The closing quote's index of a JSON string's body starting at b[i] of printable ASCII without escapes; -1 for any other string. */
function plainStringEnd(b: Uint8Array, i: number, e: number): number {
  for (; i < e; i++) {
    const c = b[i]!;
    if (c === QUOTE) return i;
    if (c < 0x20 || c >= 0x7f || c === BACKSLASH) return -1;
  }
  return -1;
}
