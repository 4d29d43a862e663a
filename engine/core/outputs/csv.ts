/** A field of the CSV outputs (the detail and rejects files). */

/** What makes a field quoted in the detail CSV: a quote, comma or line break. */
const NEEDS_QUOTES = /[",\r\n]/;

/** A CSV field: as is, or quoted with inner quotes doubled when it holds a character of `needsQuotes` (which holds the quote). */
export function csvFieldQuoting(needsQuotes: RegExp, text: string): string {
  return needsQuotes.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A field of the detail CSV: quoted with inner quotes doubled when it holds a quote, comma or line break. */
export function csvField(text: string): string {
  return csvFieldQuoting(NEEDS_QUOTES, text);
}
