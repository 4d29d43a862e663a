/**
 * A user as a keyed stream hands them to a bill sink (KeyedUsers, finalize.ts): the UTF-8
 * bytes of their id where they lie, decoded only when text is asked for. One object is
 * reused for every user of a stream: read it during the sink's call.
 */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Byte values that make a detail CSV field quoted (csv.ts's NEEDS_QUOTES: quote, comma, CR, LF); none occurs inside a multibyte UTF-8 sequence. */
const QUOTED = new Uint8Array(256);
for (const c of [0x22, 0x2c, 0x0d, 0x0a]) QUOTED[c] = 1;

export class UserKey {
  bytes: Uint8Array = new Uint8Array(0);
  at = 0;
  length = 0;
  private decoded: string | null = null;

  /** Points at the next user's id bytes[at, at + length). */
  set(bytes: Uint8Array, at: number, length: number): void {
    this.bytes = bytes;
    this.at = at;
    this.length = length;
    this.decoded = null;
  }

  /** The id as a string (decoded once per user; a leading U+FEFF is part of it). */
  text(): string {
    return (this.decoded ??= decoder.decode(this.bytes.subarray(this.at, this.at + this.length)));
  }

  /** True when the id is a detail CSV field as it is: no byte of it makes the field quoted. */
  plainCsv(): boolean {
    const b = this.bytes;
    for (let i = this.at, end = this.at + this.length; i < end; i++) if (QUOTED[b[i]!] === 1) return false;
    return true;
  }
}

/** A user as a bill sink receives them: the id, or (from a keyed stream) its bytes. */
export type BillUser = string | UserKey;

/** The id of a BillUser as a string. */
export function userText(user: BillUser): string {
  return typeof user === 'string' ? user : user.text();
}
