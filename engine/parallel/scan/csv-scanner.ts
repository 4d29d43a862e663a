/**
 * The CSV fast path: a record of the five contract columns in any order (the layout read
 * from the header), unquoted, each field in its common shape (fast-lines.ts), judged on
 * bytes with no string made. Everything else goes to the exact path: quotes, a layout with
 * any other column (a `request_id` column among them: its records are deduplicated there),
 * another field count, non-ASCII bytes, a timestamp with an offset, a reject of any reason.
 */
import { csvLayout, type CsvLayout } from '../../core/formats/csv.js';
import { recordBytes } from '../../core/formats/lines.js';
import type { TimeWindow } from '../../core/validation/timestamp.js';
import { RULES } from '../../core/validation/rules.js';
import { COMMA, FastLineScanner, QUOTE, digitsAt, isPlainUser } from './fast-lines.js';
import type { ByteLineSink } from './range-reader.js';
import type { UserTable } from './user-table.js';
import type { ShardCounts } from './partial.js';

const FIELD_COUNT = RULES.space.fieldCount;
const SUFFIX = Buffer.from(RULES.duration.suffix, 'latin1');

export class CsvScanner extends FastLineScanner {
  // Column of each field, or -1 while the header is unknown or the layout is not five columns.
  private ts = -1;
  private user = -1;
  private taskCol = -1;
  private status = -1;
  private duration = -1;
  private readonly starts = new Int32Array(FIELD_COUNT + 1);
  private headerRead: boolean;

  constructor(
    private readonly path: string,
    layout: CsvLayout | undefined,
    tasks: readonly string[],
    maxDurationMs: number,
    window: TimeWindow,
    table: UserTable,
    counts: ShardCounts,
    exact: ByteLineSink,
  ) {
    super(tasks, maxDurationMs, window, table, counts, exact);
    this.headerRead = layout !== undefined;
    if (layout !== undefined) this.arm(layout);
  }

  /** Takes the header's layout: the fast path runs for five columns only. */
  private arm(l: CsvLayout): void {
    if (l.fieldCount !== FIELD_COUNT) return;
    this.ts = l.timestamp;
    this.user = l.user;
    this.taskCol = l.task;
    this.status = l.status;
    this.duration = l.duration;
  }

  override line(b: Buffer, s: number, e: number, offset: number): void {
    if (!this.headerRead) {
      // Before the header: the exact path reads it (and says what is wrong with it); its layout then arms the fast path.
      this.exact.line(b, s, e, offset);
      const content = recordBytes(offset, b.subarray(s, e));
      if (content !== undefined) {
        this.headerRead = true;
        this.arm(csvLayout(content.toString('utf8'), this.path));
      }
      return;
    }
    super.line(b, s, e, offset);
  }

  protected fast(b: Buffer, s: number, e: number): boolean {
    if (this.ts < 0) return false;
    const starts = this.starts;
    let n = 0;
    starts[0] = s;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c === COMMA) {
        if (++n === FIELD_COUNT) return false;
        starts[n] = i + 1;
      } else if (c === QUOTE) {
        return false;
      }
    }
    if (n !== FIELD_COUNT - 1) return false;
    starts[FIELD_COUNT] = e + 1;
    const seconds = this.utcSeconds(b, starts[this.ts]!, starts[this.ts + 1]! - 1);
    if (seconds !== seconds) return false; // NaN: not the common shape
    const us = starts[this.user]!;
    const ue = starts[this.user + 1]! - 1;
    if (!isPlainUser(b, us, ue)) return false;
    const task = this.task(b, starts[this.taskCol]!, starts[this.taskCol + 1]! - 1);
    if (task < 0) return false;
    const status = digitsAt(b, starts[this.status]!, starts[this.status + 1]! - 1, 9);
    if (status < RULES.status.min || status > RULES.status.max) return false;
    const ds = starts[this.duration]!;
    let de = starts[this.duration + 1]! - 1;
    if (de - ds > SUFFIX.length && b[de - 2] === SUFFIX[0] && b[de - 1] === SUFFIX[1]) de -= 2;
    const duration = digitsAt(b, ds, de, 15);
    if (duration < 0 || duration > this.maxDurationMs) return false;
    this.bill(b, us, ue, task, duration, seconds);
    return true;
  }
}
