import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineFramer, bomLength, isBlank } from './lines.js';
import { edgeLine, referenceFrames, type FrameEvent } from '../../../fixtures/framing.js';

/** Frames `data` pushed in the given chunk sizes through one reused buffer (as a reader would). */
function frame(data: Buffer, cuts: number[]): FrameEvent[] {
  const events: FrameEvent[] = [];
  const framer = new LineFramer({
    line: (offset, bytes) => events.push({ kind: 'line', offset, text: Buffer.from(bytes).toString('latin1') }),
    tooLong: (offset, head) => events.push({ kind: 'tooLong', offset, head: head.subarray(0, 1024).toString('latin1') }),
  });
  const scratch = Buffer.alloc(data.length + 1);
  let pos = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < data.length).sort((a, b) => a - b), data.length]) {
    if (cut <= pos) continue;
    const chunk = scratch.subarray(0, cut - pos);
    data.copy(chunk, 0, pos, cut);
    framer.push(chunk);
    chunk.fill(0x58); // the caller reuses its buffer: the framer must have copied what it keeps
    pos = cut;
  }
  framer.end();
  return events;
}

const LONG = 65536;

describe('LineFramer', () => {
  it('LF and CRLF; one CR before LF dropped, other CRs are content', () => {
    const data = Buffer.from('a\nb\r\nc\r\r\nd\re\n\r\nlast\r');
    expect(frame(data, [])).toEqual([
      { kind: 'line', offset: 0, text: 'a' },
      { kind: 'line', offset: 2, text: 'b' },
      { kind: 'line', offset: 5, text: 'c\r' },
      { kind: 'line', offset: 9, text: 'd\re' },
      { kind: 'line', offset: 13, text: '' },
      { kind: 'line', offset: 15, text: 'last' },
    ]);
  });

  it('a final line without LF is kept; a final LF makes no empty line', () => {
    expect(frame(Buffer.from('x\ny'), [])).toEqual([
      { kind: 'line', offset: 0, text: 'x' },
      { kind: 'line', offset: 2, text: 'y' },
    ]);
    expect(frame(Buffer.from('x\n'), [])).toEqual([{ kind: 'line', offset: 0, text: 'x' }]);
    expect(frame(Buffer.alloc(0), [])).toEqual([]);
  });

  it('limit: 65536 bytes is a line, 65537 is too long; the CR does not count', () => {
    const ok = Buffer.concat([Buffer.alloc(LONG, 'a'), Buffer.from('\r\n')]);
    expect(frame(ok, [])).toEqual([{ kind: 'line', offset: 0, text: 'a'.repeat(LONG) }]);
    const long = Buffer.concat([Buffer.alloc(LONG + 1, 'b'), Buffer.from('\r\nnext')]);
    expect(frame(long, [])).toEqual([
      { kind: 'tooLong', offset: 0, head: 'b'.repeat(1024) },
      { kind: 'line', offset: LONG + 3, text: 'next' },
    ]);
    const longNoLf = Buffer.alloc(LONG + 1, 'c');
    expect(frame(longNoLf, [1, 2, 70000])).toEqual([{ kind: 'tooLong', offset: 0, head: 'c'.repeat(1024) }]);
  });

  it('a BOM does not count against the limit at the file\'s start only: U+FEFF beginning a later line is content', () => {
    const bom = Buffer.from('\ufeff');
    const first = Buffer.concat([bom, Buffer.alloc(LONG, 'a'), Buffer.from('\n')]);
    expect(frame(first, [])).toEqual([{ kind: 'line', offset: 0, text: bom.toString('latin1') + 'a'.repeat(LONG) }]);
    const later = Buffer.concat([Buffer.from('x\n'), bom, Buffer.alloc(LONG, 'a'), Buffer.from('\nnext')]);
    for (const cuts of [[], [3, 4, 5], [65536]]) {
      expect(frame(later, cuts)).toEqual([
        { kind: 'line', offset: 0, text: 'x' },
        { kind: 'tooLong', offset: 2, head: (bom.toString('latin1') + 'a'.repeat(LONG)).slice(0, 1024) },
        { kind: 'line', offset: LONG + 6, text: 'next' },
      ]);
    }
  });

  it('reading continues after a too-long line, wherever the chunks are cut', () => {
    const data = Buffer.concat([Buffer.from('first\n'), Buffer.alloc(200_000, 'z'), Buffer.from('\nafter\r\n')]);
    const expected = referenceFrames(data);
    expect(expected.map((e) => e.kind)).toEqual(['line', 'tooLong', 'line']);
    for (const cuts of [[], [3], [6], [7], [6 + LONG], [6 + LONG + 1], [6 + LONG + 2], [100_000, 200_006], [200_006], [200_007]]) {
      expect(frame(data, cuts), JSON.stringify(cuts)).toEqual(expected);
    }
  });

  it('offsets start at the given start offset', () => {
    const events: number[] = [];
    const f = new LineFramer({ line: (o) => events.push(o), tooLong: (o) => events.push(-o) }, 1000);
    f.push(Buffer.from('ab\ncd\n'));
    f.end();
    expect(events).toEqual([1000, 1003]);
  });

  it('matches the reference framing for any content and any chunk boundaries', () => {
    const piece = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('a', 'bc', '\n', '\r', '\r\n', ' ', '\t', 'é').map((s) => Buffer.from(s)) },
      { weight: 1, arbitrary: fc.tuple(fc.nat(20), fc.nat(25)).map(([k, s]) => edgeLine(k, s)) },
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40, size: 'medium' }), fc.array(fc.nat(400_000), { maxLength: 8 }), (pieces, cuts) => {
        const data = Buffer.concat(pieces);
        const scaled = cuts.map((c) => (data.length === 0 ? 0 : c % (data.length + 1)));
        expect(frame(data, scaled)).toEqual(referenceFrames(data));
      }),
      { numRuns: 300 },
    );
  });

  it('every single cut point of a small mixed input', () => {
    const data = Buffer.from('\ufeffa b\r\n\r\n  \nc\rd\r\r\ne\r');
    const expected = referenceFrames(data);
    for (let i = 0; i <= data.length; i++) for (let j = i; j <= data.length; j += 3) expect(frame(data, [i, j])).toEqual(expected);
  });
});

describe('isBlank / bomLength', () => {
  it('blank = empty or only Unicode white space, in well-formed UTF-8', () => {
    for (const s of ['', ' ', '\t', ' \t \t ', '\r', '\v', '\f', '\r\r', '\u0085', '\u00a0', '\u1680', '\u2000\u200a', '\u2028\u2029', '\u202f\u205f', ' \u3000 ']) {
      expect(isBlank(Buffer.from(s)), JSON.stringify(s)).toBe(true);
    }
    // Not white space: text, U+FEFF (a BOM only at a file's start), the C0 separators, U+200B, U+180E.
    for (const s of [' x ', '\ufeff', '\u001c', '\u001f', '\u200b', '\u180e', '\u0000', '\u{1f600}']) expect(isBlank(Buffer.from(s)), JSON.stringify(s)).toBe(false);
    // Ill-formed: an overlong space (C0 A0), an overlong ideographic space, a lone lead or continuation byte.
    for (const b of [[0xc0, 0xa0], [0xe0, 0x80, 0xa0], [0xe3, 0x80], [0xc2], [0x80], [0x20, 0xa0], [0xff]]) expect(isBlank(Buffer.from(b)), JSON.stringify(b)).toBe(false);
  });

  it('agrees with the Unicode White_Space property over every code point of the BMP', () => {
    for (let cp = 0; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const white = /\p{White_Space}/u.test(String.fromCodePoint(cp));
      if (isBlank(Buffer.from(String.fromCodePoint(cp))) !== white) throw new Error(`U+${cp.toString(16)}: isBlank ${!white}`);
    }
  });
  it('BOM is EF BB BF only', () => {
    expect(bomLength(Buffer.from('\ufeffx'))).toBe(3);
    expect(bomLength(Buffer.from([0xef, 0xbb]))).toBe(0);
    expect(bomLength(Buffer.from([0xfe, 0xff, 0x00]))).toBe(0);
    expect(bomLength(Buffer.from('x\ufeff'))).toBe(0);
  });
});
