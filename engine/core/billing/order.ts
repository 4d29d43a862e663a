/** Ordering of strings by their UTF-8 bytes (the bill's order), without encoding them. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // UTF-16 puts surrogates (code points >= U+10000) below U+E000..U+FFFF; UTF-8 puts them above.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Ordering of UTF-8 ids as bytes, a[ai, ai + al) against b[bi, bi + bl) (the bill's order, as compareUtf8 gives it for their strings). */
export function compareUtf8Bytes(a: Uint8Array, ai: number, al: number, b: Uint8Array, bi: number, bl: number): number {
  const n = al < bl ? al : bl;
  for (let i = 0; i < n; i++) {
    const d = a[ai + i]! - b[bi + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

/** True when the string holds a UTF-16 surrogate (a code point above U+FFFF, or a lone one). */
export function hasSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}
