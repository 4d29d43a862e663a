/**
 * CSV (RFC 4180, one record per line, header row). Records are split strictly: a quoted
 * field opens at the field's start and closes right before a comma or the line's end;
 * `""` inside it is one quote. A quote anywhere else makes the line malformed. Fields are
 * not trimmed.
 */
import { InputError } from '../errors.js';
import { RULES, FIELDS, inRanges } from '../validation/rules.js';


/** Splits one CSV line into fields; null when its quoting is malformed. */
export function splitCsvLine(line: string): string[] | null {
  const fields: string[] = [];
  const n = line.length;
  let i = 0;
  for (;;) {
    if (i < n && line.charCodeAt(i) === 34) {
      let value = '';
      let from = ++i;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null; // unterminated
        if (q + 1 < n && line.charCodeAt(q + 1) === 34) {
          value += line.slice(from, q + 1);
          i = from = q + 2;
          continue;
        }
        value += line.slice(from, q);
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === n) return fields;
      if (line.charCodeAt(i) !== 44) return null; // text after the closing quote
      i++;
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? n : comma;
      const value = line.slice(i, end);
      if (value.includes('"')) return null;
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

/** Where the contract's columns are in a CSV file. */
export interface CsvLayout {
  readonly fieldCount: number;
  readonly timestamp: number;
  readonly user: number;
  readonly task: number;
  readonly status: number;
  readonly duration: number;
  /** The optional `request_id` column (SPEC "Duplicate deliveries"), or -1. */
  readonly requestId: number;
  /** The header row's text: `--dedupe line` compares CSV lines only under an identical header. */
  readonly header: string;
}

const COLUMNS: ReadonlyArray<[keyof Omit<CsvLayout, 'fieldCount' | 'header'>, readonly string[]]> = FIELDS.map((f) => [f, RULES.csv.columns[f]]);

/** A column by its aliases (first alias first): its index, or -1; a name given twice is an InputError. */
function findColumn(names: readonly string[], aliases: readonly string[], file: string): number {
  for (const alias of aliases) {
    const first = names.indexOf(alias);
    if (first < 0) continue;
    if (names.indexOf(alias, first + 1) >= 0) {
      throw new InputError(`${file}: the CSV header names column "${alias}" more than once`);
    }
    return first;
  }
  return -1;
}

/** A header name without RULES.csv.headerTrim's code points at its ends (String#trim keeps U+0085, NEL, which is White_Space). */
function headerName(field: string): string {
  let s = 0;
  let e = field.length;
  while (s < e && inRanges(RULES.csv.headerTrim, field.charCodeAt(s))) s++;
  while (e > s && inRanges(RULES.csv.headerTrim, field.charCodeAt(e - 1))) e--;
  return field.slice(s, e);
}

/** Reads the header row; a missing or ambiguous required column is an InputError naming the file. */
export function csvLayout(header: string, file: string): CsvLayout {
  const fields = splitCsvLine(header);
  if (fields === null) throw new InputError(`${file}: the CSV header row is malformed: ${JSON.stringify(header.slice(0, 200))}`);
  const names = fields.map((f) => headerName(f).toLowerCase());
  const layout: Record<string, number | string> = { fieldCount: fields.length };
  for (const [key, aliases] of COLUMNS) {
    const found = findColumn(names, aliases, file);
    if (found < 0) {
      throw new InputError(`${file}: the CSV header has no "${aliases.join('" or "')}" column (header: ${JSON.stringify(header.slice(0, 200))})`);
    }
    layout[key] = found;
  }
  layout['requestId'] = findColumn(names, RULES.requestId.csvColumns, file);
  layout['header'] = header;
  return layout as unknown as CsvLayout;
}
