/**
 * --wrapped in the spark engine (SPEC "Wrapped lines"): the core's unwrapping
 * (engine/core/formats/wrapped.ts, unwrapLine) as SQL on the exact path of the billing query
 * (billing-sql.ts), before the line rules. Separators come from the core's WRAPPED_RULES;
 * the key is a bound parameter (no escaping stands between it and the JSON).
 *
 * On a wrapped line `s` (not blank, valid UTF-8, not too long: those are the line rules, as
 * for any line), in the core's order:
 * - fluent-bit: JSON.parse's object (try_parse_json plus the JSON lines format's shape check,
 *   so the same texts parse; duplicate keys keep the last, as the session sets), the key's
 *   value a JSON string (escapes decoded), else `bad_wrapper`.
 * - cloudwatch: a first space after at least one byte, the text before it a valid timestamp
 *   (the timestamp rule itself), else `bad_wrapper`; the message is the rest.
 * - the inner line: one final LF (or CRLF) dropped; another LF is `bad_wrapper`; a lone
 *   surrogate escape in the value (`"\ud800"`, which the cluster's JSON reader turns into `?`)
 *   is `bad_encoding`: found by parsing again with every lone surrogate escape made `\u0000`
 *   (tokenised from the start, so an escaped backslash is never mistaken for an escape) and
 *   comparing the values; only lines holding a surrogate escape pay for it.
 * The result: `s` the inner line (NULL when rejected; a blank inner line stays, and is
 * skipped like a blank line) and `wr` the wrapper's reject reason (index in RULES.reasons).
 */
import { WRAPPED_RULES, type Wrapping } from '../../engine/core/formats/wrapped.js';
import { RULES } from '../../engine/core/validation/rules.js';
import type { RejectReason } from '../../engine/core/validation/reasons.js';

/** The line rules the unwrapping shares with the billing query (billing-sql.ts owns them). */
export interface SharedRules {
  /** SQL: the text `s` is one JSON object as JSON.parse reads it, given `v = try_parse_json(s)`. */
  readonly jsonObjectOk: (s: string, v: string) => string;
  /** SQL: the text `t` is a valid timestamp. */
  readonly timestampOk: (t: string) => string;
  /** SQL: the JSON text `s` with every lone surrogate escape made `\u0000`. */
  readonly withoutLoneSurrogates: (s: string) => string;
}

const reason = (r: RejectReason) => RULES.reasons.indexOf(r);
/** A text as a Java regex matching it literally (each character as `\x{…}`). */
const literalRe = (s: string) => Array.from(s, (c) => `\\x{${c.codePointAt(0)!.toString(16)}}`).join('');

/** Bound parameters of the unwrapping SQL (Java regular expressions). */
export function WRAPPED_PATTERNS(w: Wrapping): Record<string, string> {
  const { innerLineBreak: lf, innerCarriageReturn: cr } = WRAPPED_RULES;
  return {
    wrapped_key: w.key,
    wrap_sep: WRAPPED_RULES.cloudwatchSeparator,
    wrap_lf: lf,
    re_wrap_final_lf: `(?:${literalRe(cr)})?${literalRe(lf)}\\z`,
  };
}

/** A JSON object's value under the key, as a string; NULL when `v` is no object, lacks the key, or the value is no string. */
function stringAt(v: string): string {
  const val = `element_at(try_variant_get(${v}, '$', 'map<string,variant>'), :wrapped_key)`;
  return `IF(schema_of_variant(${val}) = 'STRING', try_variant_get(${val}, '$', 'string'), NULL)`;
}

/**
 * The exact path's lines (`from`: columns fast, too_long, s the line's text) with the wrapper
 * taken off: `s` the inner line and `wr` the wrapper's reject reason. Without wrapping, `wr`
 * is NULL and the lines are as read.
 */
export function unwrapLines(w: Wrapping | undefined, from: string, { jsonObjectOk, timestampOk, withoutLoneSurrogates }: SharedRules): string {
  if (w === undefined) return `SELECT *, CAST(NULL AS INT) AS wr FROM (${from})`;
  // wl: a line the wrapper rules apply to (the line rules before them decide the others).
  const live = `SELECT *, coalesce(NOT fast AND NOT too_long AND is_valid_utf8(s) AND NOT (s RLIKE :re_blank), false) AS wl FROM (${from})`;
  let msg: string;
  let lone: string;
  switch (w.kind) {
    case 'fluent-bit': {
      const parsed = `SELECT *, IF(wl, try_parse_json(s), NULL) AS wv FROM (${live})`;
      msg = `SELECT *, IF(wl AND ${jsonObjectOk('s', 'wv')}, ${stringAt('wv')}, NULL) AS wm FROM (${parsed})`;
      lone = `s RLIKE :re_json_surrogate AND NOT (wm <=> ${stringAt(`try_parse_json(${withoutLoneSurrogates('s')})`)})`;
      break;
    }
    case 'cloudwatch': {
      const split = `SELECT *, IF(wl, instr(s, :wrap_sep), 0) AS sp FROM (${live})`;
      msg = `SELECT *, IF(sp > 1 AND ${timestampOk('substr(s, 1, sp - 1)')}, substr(s, sp + char_length(:wrap_sep)), NULL) AS wm FROM (${split})`;
      lone = 'false'; // the message is the line's own text, valid UTF-8
      break;
    }
    default: {
      const never: never = w.kind;
      throw new Error(`unwrapLines: no SQL for the wrapper ${String(never)}`);
    }
  }
  const inner = `SELECT *, regexp_replace(wm, :re_wrap_final_lf, '') AS wi FROM (${msg})`;
  const judged = `SELECT *, IF(wl, CASE
      WHEN wi IS NULL THEN ${reason('bad_wrapper')}
      WHEN instr(wi, :wrap_lf) > 0 THEN ${reason('bad_wrapper')}
      WHEN ${lone} THEN ${reason('bad_encoding')}
    END, NULL) AS wr FROM (${inner})`;
  return `SELECT * EXCEPT (s, wl, wm, wi${w.kind === 'fluent-bit' ? ', wv' : ', sp'}), IF(wl, IF(wr IS NULL, wi, NULL), s) AS s FROM (${judged})`;
}
