/**
 * JSON numbers as written (README decision 47): JSON.parse reads a number as a double, so
 * `4.9999999999999999999` comes out as 5. Where a number's written value matters (a status, a
 * duration, a plan's count must be an integer), its text is had from a second parse of the
 * same JSON text with every number token made a string.
 */
import { RULES } from '../validation/rules.js';

const NON_PLAIN_MEMBER = new RegExp(RULES.jsonl.nonPlainMember);
const JSON_TOKEN = new RegExp(RULES.jsonl.token, 'g');

/** Whether the JSON text may hold an object member whose value is a number with a fraction or an exponent (when not, every member's number is a plain integer, exact as a double up to 2^53). */
export function mayHoldNonPlainNumbers(text: string): boolean {
  return NON_PLAIN_MEMBER.test(text);
}

/**
 * A JSON text (one JSON.parse already read) parsed again with every number as its text: the
 * same value, each number token made a string (so duplicate keys and `__proto__` resolve as
 * in the first parse).
 */
export function numberTexts(text: string): unknown {
  const quoted = text.replace(JSON_TOKEN, (t) => {
    const c = t.charCodeAt(0);
    return c === 0x2d || (c >= 0x30 && c <= 0x39) ? `"${t}"` : t;
  });
  return JSON.parse(quoted) as unknown;
}
