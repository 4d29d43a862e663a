/**
 * A user as a keyed stream hands them to a bill sink (KeyedUsers, finalize.ts): the UTF-8
 * bytes of their id where they lie, decoded only when text is asked for. One object is
 * reused for every user of a stream: read it during the sink's call.
 */
import { compareUtf8Bytes } from './order.js';

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

/** A copy of a user's id bytes, kept past the stream's next step (the previous or the last user seen). */
export class KeptKey {
  private bytes = new Uint8Array(64);
  /** The kept id's bytes (-1: none kept yet). */
  length = -1;

  keep(key: UserKey): void {
    if (key.length > this.bytes.length) this.bytes = new Uint8Array(2 * key.length);
    // A loop, no view made: a few bytes, once per user of the bill.
    const to = this.bytes;
    const from = key.bytes;
    for (let i = 0, at = key.at; i < key.length; i++) to[i] = from[at + i]!;
    this.length = key.length;
  }

  /** The kept id's byte order against `key`'s (the bill's order). */
  compare(key: UserKey): number {
    return compareUtf8Bytes(this.bytes, 0, this.length, key.bytes, key.at, key.length);
  }

  /** The kept id as a string (decoded as UserKey.text decodes it). */
  text(): string {
    return decoder.decode(this.bytes.subarray(0, this.length));
  }
}

/** A user as a bill sink receives them: the id, or (from a keyed stream) its bytes. */
export type BillUser = string | UserKey;

/** The id of a BillUser as a string. */
export function userText(user: BillUser): string {
  return typeof user === 'string' ? user : user.text();
}
