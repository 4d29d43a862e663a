/**
 * A setting's value is taken as written: neither dotenv (the env file) nor mr expands a
 * variable in it. A refused value that holds one (`${BASE}`, `$BASE`) most likely meant it
 * expanded, so the error says it was not.
 */

/** What a refused setting's error adds when its value holds a variable; '' when it holds none. */
export function unexpandedNote(raw: string): string {
  return /\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_])/.test(raw) ? ' (mr expands no variable in a value: write the value itself)' : '';
}
