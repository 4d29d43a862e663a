/**
 * Exact text from a result. apache-arrow decodes its string columns with a default
 * `TextDecoder`, which drops a leading U+FEFF (byte order mark): the value `"\uFEFFbob"`
 * comes back as `"bob"`. Where every character counts (ids, keys), select the column as
 * `CAST(col AS BINARY)` and decode its bytes with `utf8Text`, which keeps them all.
 */
const exact = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });

/** The string whose UTF-8 encoding is `bytes`, every character kept; throws on invalid UTF-8. */
export function utf8Text(bytes: Uint8Array): string {
  return exact.decode(bytes);
}
