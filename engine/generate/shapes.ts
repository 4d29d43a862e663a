/**
 * The shapes `mr generate --shape` writes the same records in: what real writers and
 * shippers make of a log line, and what the parallel engine's byte-level fast paths read
 * (quoted CSV, JSON lines with nested objects, Fluent Bit's and CloudWatch's wrappers). A shaped file bills
 * exactly like the plain file of the same seed: a shape changes a line's bytes, never its
 * record nor its reject reason, and its own random values come from a PRNG of their own, so
 * the records drawn are the plain file's.
 *
 * Each shape rewrites one plain line (as the generator built it, without its LF) into the
 * output, so the header, the good lines and the bad lines go through the same rule.
 */
import type { Format } from '../core/formats/format.js';
import type { ByteBuilder } from './byte-builder.js';

export const SHAPES = ['plain', 'quote-all', 'quote-text', 'nested', 'fluent-bit', 'cloudwatch'] as const;
export type Shape = (typeof SHAPES)[number];

/** The formats each shape is written in. */
const SHAPE_FORMATS: Readonly<Record<Shape, readonly Format[]>> = {
  plain: ['space', 'csv', 'jsonl'],
  'quote-all': ['csv'],
  'quote-text': ['csv'],
  nested: ['jsonl'],
  'fluent-bit': ['space', 'csv', 'jsonl'],
  cloudwatch: ['space', 'csv', 'jsonl'],
};

const FORMAT_NAMES: Readonly<Record<Format, string>> = { space: 'the space format', csv: 'CSV', jsonl: 'JSON lines' };

/** Why `shape` cannot be written in `format` (a usage error), or null when it can. */
export function shapeMismatch(shape: Shape, format: Format): string | null {
  const fits = SHAPE_FORMATS[shape];
  if (fits.includes(format)) return null;
  return `--shape ${shape} is for ${fits.map((f) => FORMAT_NAMES[f]).join(' or ')} only, and this output is ${FORMAT_NAMES[format]} (by the --out extension or --format)`;
}

/** Writes plain lines in a shape. */
export interface LineShaper {
  /**
   * Writes the line src[start, end) (a plain line without its LF) in the shape, then an LF,
   * to `out`; returns where the byte src[mark] now stands in `out` (so that the generator can
   * still change a written record in place: a conflicting re-delivery), or -1 without a mark.
   */
  line(src: Uint8Array, start: number, end: number, out: ByteBuilder, mark?: number): number;
}

const [LF, QUOTE, COMMA, BACKSLASH, MINUS, OPEN] = [10, 34, 44, 92, 45, 123];

/** `shape`'s writer (none for plain, whose lines are written as they are); `rnd` draws the values the shape adds. */
export function lineShaper(shape: Exclude<Shape, 'plain'>, rnd: () => number, startDay: string): LineShaper {
  switch (shape) {
    case 'quote-all':
      return new CsvQuoting(true);
    case 'quote-text':
      return new CsvQuoting(false);
    case 'nested':
      return new NestedClient(rnd);
    case 'fluent-bit':
      return new FluentBitWrapper(new ShippingClock(rnd, startDay));
    case 'cloudwatch':
      return new CloudWatchPrefix(new ShippingClock(rnd, startDay));
  }
}

/** True for a field an integer writes: `-?[0-9]+`. */
function integerField(b: Uint8Array, start: number, end: number): boolean {
  let i = b[start] === MINUS ? start + 1 : start;
  if (i >= end) return false;
  for (; i < end; i++) if (b[i]! < 48 || b[i]! > 57) return false;
  return true;
}

/**
 * RFC 4180 quoting as Python's csv module writes it: QUOTE_ALL (every field, the header's
 * too, an empty one as `""`), or QUOTE_NONNUMERIC, which is also how R's write.csv quotes:
 * text fields quoted (the header, request_id, timestamp, user, task, and a status or
 * duration that is not an integer, such as a bad line's `OK` or `12s`), integers bare
 * (status, duration_ms). The plain lines hold no comma inside a field, so commas split the
 * fields; a quote inside one would be doubled. The field count, and so a bad_field_count
 * line's reason, stays as it was.
 */
class CsvQuoting implements LineShaper {
  constructor(private readonly all: boolean) {}

  line(src: Uint8Array, start: number, end: number, out: ByteBuilder, mark = -1): number {
    // At worst every byte a doubled quote, and two quotes a field.
    out.reserve(4 * (end - start) + 4);
    let at = -1;
    for (let s = start; ; ) {
      let e = s;
      while (e < end && src[e] !== COMMA) e++;
      const quoted = this.all || !integerField(src, s, e);
      if (quoted) out.byte(QUOTE);
      for (let i = s; i < e; i++) {
        if (i === mark) at = out.len;
        if (src[i] === QUOTE) out.byte(QUOTE);
        out.byte(src[i]!);
      }
      if (quoted) out.byte(QUOTE);
      if (e >= end) break;
      if (e === mark) at = out.len;
      out.byte(COMMA);
      s = e + 1;
    }
    out.byte(LF);
    return at;
  }
}

const AGENTS = ['sdk-js', 'sdk-python', 'sdk-go', 'sdk-java', 'curl', 'mobile-ios', 'mobile-android'];
const TAGS = ['beta', 'eu', 'us', 'internal', 'batch', 'retry'];
const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[(rnd() * xs.length) | 0]!;
/** Where the nested object goes: before the task, the middle of the record's keys. */
const NESTED_BEFORE = Buffer.from(',"task":', 'latin1');

/**
 * JSON lines whose records carry an object the contract ignores, as API gateways log the
 * caller: `"client":{"ip":…,"agent":{"name":…,"version":…},"tags":[…],"retries":N,"tls":B}`
 * between the user and the task (strings, numbers, literals, a nested object and an array,
 * possibly empty; values drawn for each record). A line without a `"task"` key (a bad_json
 * line cut short, a line_too_long line in the space format) is written as it is: an object
 * there would change nothing of its reason, and no place for it is the record's middle.
 */
class NestedClient implements LineShaper {
  constructor(private readonly rnd: () => number) {}

  line(src: Uint8Array, start: number, end: number, out: ByteBuilder, mark = -1): number {
    const found = src[start] === OPEN ? Buffer.from(src.buffer, src.byteOffset + start, end - start).indexOf(NESTED_BEFORE) : -1;
    const cut = found < 0 ? end : start + found;
    const client = found < 0 ? '' : this.client();
    const base = out.len;
    out.reserve(end - start + client.length + 1);
    out.bytes(src, start, cut);
    out.text(client);
    out.bytes(src, cut, end);
    out.byte(LF);
    return mark < 0 ? -1 : base + (mark - start) + (mark < cut ? 0 : client.length);
  }

  private client(): string {
    const r = this.rnd;
    const ip = `10.${(r() * 256) | 0}.${(r() * 256) | 0}.${1 + ((r() * 254) | 0)}`;
    const version = `${1 + ((r() * 3) | 0)}.${(r() * 10) | 0}.${(r() * 20) | 0}`;
    const tags = TAGS.filter(() => r() < 0.25).map((t) => `"${t}"`);
    return `,"client":{"ip":"${ip}","agent":{"name":"${pick(r, AGENTS)}","version":"${version}"},"tags":[${tags.join(',')}],"retries":${r() < 0.9 ? 0 : 1 + ((r() * 3) | 0)},"tls":${r() < 0.95}}`;
  }
}

/** JSON's short escapes of control characters (as JSON.stringify and Fluent Bit write them); the others are \u00XX. */
const SHORT_ESCAPES: Readonly<Record<number, string>> = { 8: 'b', 9: 't', 10: 'n', 12: 'f', 13: 'r' };
const HEX = '0123456789abcdef';
const two = (n: number) => (n < 10 ? `0${n}` : String(n));
/** The container's metadata, as Fluent Bit's kubernetes filter adds it (the same for every line of a file; the filter's full set, with ids and image, would be twice the line). */
const KUBERNETES = '"kubernetes":{"pod_name":"api-7d9f5c6b8-x2k4q","namespace_name":"prod","container_name":"api","labels":{"app":"api"}}';
const WRAP_HEAD = Buffer.from('{"log":"', 'latin1');
const WRAP_TAIL = Buffer.from(`Z",${KUBERNETES}}\n`, 'latin1');

/**
 * Every line as Fluent Bit's file and S3 outputs write a container's line (`json_lines`,
 * docker/CRI input and the kubernetes filter):
 * `{"log":"<line>\n","stream":"stdout","time":"2025-05-01T00:00:00.000123456Z","kubernetes":{…}}`,
 * the line JSON-escaped (quotes and backslashes escaped, control characters as JSON.stringify
 * writes them), with the `\n` it was read with; `time` is when it was shipped (from the start
 * day on, a millisecond apart on average), not the record's timestamp. Every line is wrapped,
 * the CSV header too (SPEC "Wrapped lines": the first inner line is the header) and bad lines
 * alike. A bad_encoding line's raw 0xFF byte stays raw inside the string, as a shipper that
 * passes bytes through writes it: the wrapped line is then not UTF-8, which the wrapped reader
 * checks first, so it stays bad_encoding (an escape such as \u00ff would make it valid text
 * and a billable record).
 */
class FluentBitWrapper implements LineShaper {
  constructor(private readonly clock: ShippingClock) {}

  line(src: Uint8Array, start: number, end: number, out: ByteBuilder, mark = -1): number {
    out.reserve(6 * (end - start) + WRAP_HEAD.length + WRAP_TAIL.length + 64);
    out.bytes(WRAP_HEAD, 0, WRAP_HEAD.length);
    let at = -1;
    for (let i = start; i < end; i++) {
      if (i === mark) at = out.len;
      const c = src[i]!;
      if (c === QUOTE || c === BACKSLASH) {
        out.byte(BACKSLASH);
        out.byte(c);
      } else if (c < 0x20) {
        const short = SHORT_ESCAPES[c];
        out.text(short === undefined ? `\\u00${HEX[c >> 4]}${HEX[c & 15]}` : `\\${short}`);
      } else {
        out.byte(c);
      }
    }
    out.text(`\\n","stream":"stdout","time":"${this.clock.next(9)}`);
    out.bytes(WRAP_TAIL, 0, WRAP_TAIL.length);
    return at;
  }
}

/**
 * Every line as CloudWatch Logs exports a log stream to S3: `<timestamp> <line>`, the
 * timestamp when the event was ingested (RFC 3339, milliseconds, `Z`), the line as it was.
 * Every line is prefixed, the CSV header and bad lines alike; a bad_encoding line keeps its raw
 * byte, so the wrapped line is not UTF-8 and stays bad_encoding.
 */
class CloudWatchPrefix implements LineShaper {
  constructor(private readonly clock: ShippingClock) {}

  line(src: Uint8Array, start: number, end: number, out: ByteBuilder, mark = -1): number {
    const stamp = `${this.clock.next(3)}Z `;
    const base = out.len + stamp.length;
    out.reserve(end - start + stamp.length + 1);
    out.text(stamp);
    out.bytes(src, start, end);
    out.byte(LF);
    return mark < 0 ? -1 : base + (mark - start);
  }
}

/** When a shipper handled each line: from the start day on, a millisecond apart on average. */
class ShippingClock {
  private seconds = 0;
  private nanos = 0;
  private day = -1;
  private dayText = '';
  private readonly start: number;

  constructor(
    private readonly rnd: () => number,
    startDay: string,
  ) {
    this.start = Date.parse(`${startDay}T00:00:00Z`);
  }

  /** The next time, without its `Z`: `YYYY-MM-DDTHH:MM:SS.` and `digits` fraction digits. */
  next(digits: number): string {
    this.nanos += 1 + ((this.rnd() * 2_000_000) | 0);
    if (this.nanos >= 1e9) {
      this.seconds += Math.floor(this.nanos / 1e9);
      this.nanos %= 1e9;
    }
    const day = Math.floor(this.seconds / 86400);
    if (day !== this.day) {
      this.day = day;
      this.dayText = new Date(this.start + day * 86_400_000).toISOString().slice(0, 11);
    }
    const s = this.seconds % 86400;
    return `${this.dayText}${two((s / 3600) | 0)}:${two(((s / 60) | 0) % 60)}:${two(s % 60)}.${String(this.nanos).padStart(9, '0').slice(0, digits)}`;
  }
}
