/**
 * The generator's output buffer: ASCII/latin1 pieces, bytes and integers appended into one
 * reusable buffer, which the generator writes out in large chunks.
 */
export class ByteBuilder {
  buf: Buffer;
  len = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  text(s: string): void {
    if (this.len + s.length > this.buf.length) this.grow(s.length);
    this.len += this.buf.write(s, this.len, 'latin1');
  }

  /**
   * Copies src[start, end); short pieces in a plain loop, cheaper than a native call. Like
   * byte(), it does not grow the buffer: the caller keeps room (reserve, or the headroom of a
   * buffer flushed before it fills).
   */
  bytes(src: Uint8Array, start: number, end: number): void {
    const buf = this.buf;
    let at = this.len;
    for (let i = start; i < end; i++) buf[at++] = src[i]!;
    this.len = at;
  }

  byte(b: number): void {
    this.buf[this.len++] = b;
  }

  /** Room for at least `extra` more bytes. */
  reserve(extra: number): void {
    if (this.len + extra > this.buf.length) this.grow(extra);
  }

  /** Appends this builder's own bytes [start, end) again (a re-delivered batch). */
  repeat(start: number, end: number): void {
    this.reserve(end - start);
    this.buf.copyWithin(this.len, start, end);
    this.len += end - start;
  }

  int(n: number): void {
    if (n >= 10) this.int(Math.floor(n / 10));
    this.buf[this.len++] = 48 + (n % 10);
  }

  private grow(extra: number): void {
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
}
