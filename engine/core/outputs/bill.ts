/**
 * billing.txt and billing.detail.csv, written as the bill is finalized: lines are
 * encoded into a reused buffer that goes to the staged file about every MiB, so neither
 * the bill nor its detail is ever held whole in memory.
 *
 * The detail's lines are formatted here rather than by the CSV library: at a million
 * users it has millions of rows and a row-object library pass dominated the whole run.
 * Only the user and task fields can need quoting; they are quoted the RFC 4180 way.
 */
import { setImmediate as turn } from 'node:timers/promises';
import { formatExact, type Amount } from '../money/decimal.js';
import { finalizeBill, finalizePricedBill, type Bill, type BillSink, type PricedBillSink, type PricedUser } from '../billing/finalize.js';
import type { BillTotals } from '../billing/totals.js';
import type { SortedUsage, UsageRows } from '../billing/usage.js';
import type { PricingPlan } from '../pricing/plan.js';
import type { TaskCharge } from '../pricing/price.js';
import { formatYoctos } from '../pricing/price.js';
import { ByteLine } from '../pricing/format.js';
import { WordLiteral } from '../formats/words.js';
import type { BillingConfig } from '../config/config.js';
import type { ByteSink } from './staged.js';
import { csvField } from './csv.js';
import { KeptKey, userText, type BillUser, type UserKey } from '../billing/user-key.js';

export const DETAIL_HEADER = ['user', 'task', 'requests', 'duration_ms', 'rate', 'cost', 'cost_rounded'] as const;

/**
 * The detail CSV of a run with a pricing plan: one row per (user, task) with its charge, then
 * one row per user with an empty task: the sums of requests, duration and cost, the discount,
 * the discounted amount (exact), the minimum that applies and the rounded total. See README
 * "Pricing" for how a total is re-derived from these rows.
 */
export const PRICED_DETAIL_HEADER = [
  'user', 'task', 'requests', 'duration_ms', 'billable_ms', 'usage', 'fees', 'cost', 'discount', 'discounted', 'minimum', 'total',
] as const;

const CHUNK_BYTES = 1 << 20;

/**
 * Lines encoded into one reused buffer, written out (synchronously) when it is nearly full:
 * through `room`'s ByteLine (a string through `add`). A sink with memory of its own
 * (ByteSink.room) is encoded into in place: nothing is copied.
 */
class LineBuffer {
  private readonly out: ByteLine;
  /** Whether the lines are encoded into the sink's own memory (ByteSink.room, filled). */
  private readonly inPlace: boolean;

  constructor(private readonly file: ByteSink) {
    this.inPlace = file.room !== undefined && file.filled !== undefined;
    this.out = new ByteLine(this.inPlace ? file.room!(CHUNK_BYTES) : Buffer.allocUnsafe(CHUNK_BYTES));
  }

  /** Text (the detail's header line), through room() like any row, whatever its size or the sink. */
  add(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    this.room(bytes.length).bytes(bytes);
  }

  /** The line buffer with room for `bytes` more bytes (flushed, or grown for a huge line, first). */
  room(bytes: number): ByteLine {
    if (this.out.pos + bytes > this.out.buf.length) {
      this.flush();
      if (bytes > this.out.buf.length) this.out.buf = this.inPlace ? this.file.room!(bytes) : Buffer.allocUnsafe(bytes);
    }
    return this.out;
  }

  flush(): void {
    if (this.out.pos === 0) return;
    if (this.inPlace) {
      this.file.filled!(this.out.pos);
      this.out.buf = this.file.room!(0);
    } else {
      this.file.write(this.out.buf.subarray(0, this.out.pos));
    }
    this.out.pos = 0;
  }
}

/** Bytes of each number's text at most, for a row's room: a safe integer is 16 digits, an exact amount 29 characters; bigints beyond are rare and far below this. */
const NUMBER_ROOM = 96;
const literal = (s: string) => new WordLiteral(Buffer.from(s, 'utf8'));
const TASK_ROW_END = literal(',,,,\n');
const BILL_DURATION = literal(': total_duration=');
const BILL_COST = literal('ms, total_cost=');
const COMMA = 44;

/** The most bytes a user's billing.txt line takes. */
function billLineRoom(user: BillUser): number {
  return (typeof user === 'string' ? 3 * user.length : user.length) + BILL_DURATION.length + BILL_COST.length + 2 * NUMBER_ROOM;
}

/** One billing.txt line (`user1: total_duration=7235ms, total_cost=42.50`) encoded into `line`, which has billLineRoom(user) bytes of room. */
function putBillLine(line: ByteLine, user: BillUser, durationMs: Amount, costRounded: Amount, decimals: number): void {
  if (typeof user === 'string') line.text(user);
  else line.span(user.bytes, user.at, user.length);
  line.literal(BILL_DURATION);
  line.amount(durationMs);
  line.literal(BILL_COST);
  line.fixed(costRounded, decimals);
  line.byte(10);
}

/** billing.txt of a collected bill (tests, small bills), encoded as the bill writers encode it. */
export function billText(bill: Bill): string {
  const line = new ByteLine(Buffer.allocUnsafe(bill.bills.reduce((n, u) => n + billLineRoom(u.user), 0)));
  for (const u of bill.bills) putBillLine(line, u.user, u.durationMs, u.costRounded, bill.decimals);
  return line.buf.toString('utf8', 0, line.pos);
}

/** How a bill writer runs: what it checks between chunks, and whether the detail starts with its header. */
export interface BillWriterOptions {
  /** Called between chunks of a long bill, after the event loop turned (e.g. to throw once the run is aborted). */
  readonly checkpoint?: () => void;
  /** Write the detail CSV's header line (default true; false for every key range of a bill but the first). */
  readonly header?: boolean;
}

/**
 * What both bill writers share: billing.txt and the detail CSV as line buffers, a task row's
 * first columns, the billing.txt line, and a flush that lets signals be handled between
 * chunks of a long bill.
 */
abstract class BillFilesWriter {
  protected readonly bill: LineBuffer;
  protected readonly detail: LineBuffer;
  protected readonly decimals: number;
  /** Each task's CSV field between commas (`,login,`), encoded. */
  private readonly taskFields: WordLiteral[];
  /** The current user's CSV field, made at their first row; null between users. */
  private field: string | null = null;
  /** For a user given as bytes (UserKey): whether their id is their CSV field as it is; null between users. */
  private plainKey: boolean | null = null;
  /** The first user written so far (null: none yet), and the last one's id (as given, or its bytes). */
  first: string | null = null;
  private lastText: string | null = null;
  private readonly lastKey = new KeptKey();

  private readonly checkpoint: (() => void) | undefined;

  constructor(billFile: ByteSink, detailFile: ByteSink, config: BillingConfig, header: readonly string[], opts: BillWriterOptions) {
    this.decimals = config.currencyDecimals;
    this.taskFields = config.rates.map((r) => literal(`,${csvField(r.task)},`));
    this.bill = new LineBuffer(billFile);
    this.detail = new LineBuffer(detailFile);
    this.checkpoint = opts.checkpoint;
    if (opts.header !== false) this.detail.add(`${header.join(',')}\n`);
  }

  async flush(): Promise<void> {
    this.detail.flush();
    this.bill.flush();
    // Let signals (SIGINT, SIGTERM) be handled between chunks of a long bill.
    await turn();
    this.checkpoint?.();
  }

  /** The last user written so far (null: none yet). */
  get last(): string | null {
    return this.lastKey.length >= 0 ? this.lastKey.text() : this.lastText;
  }

  /** The user's CSV field, made once at their first row. */
  protected fieldOf(user: string): string {
    return (this.field ??= csvField(user));
  }

  /** True when the user is given as bytes that are their CSV field as they are (checked once per user). */
  private keyAsField(user: UserKey): boolean {
    return (this.plainKey ??= user.plainCsv());
  }

  /**
   * A task's detail row begun: `user,task,requests,duration_ms,` in the detail buffer, with
   * room for `more` bytes after it (the writer's own columns and the line's end). A user given
   * as bytes is copied as they are unless their field is quoted.
   */
  protected taskRow(user: BillUser, t: number, requests: number, durationMs: Amount, more: number): ByteLine {
    const task = this.taskFields[t]!;
    let out: ByteLine;
    if (typeof user !== 'string' && this.keyAsField(user)) {
      out = this.detail.room(user.length + task.length + 2 * NUMBER_ROOM + more);
      out.span(user.bytes, user.at, user.length);
    } else {
      const field = this.fieldOf(userText(user));
      out = this.detail.room(3 * field.length + task.length + 2 * NUMBER_ROOM + more);
      out.text(field);
    }
    out.literal(task);
    out.uint(requests);
    out.byte(COMMA);
    out.amount(durationMs);
    out.byte(COMMA);
    return out;
  }

  /** The user's billing.txt line (`user1: total_duration=7235ms, total_cost=42.50`); the user's rows end here. */
  protected writeBillLine(user: BillUser, durationMs: Amount, costRounded: Amount): void {
    this.field = null;
    this.plainKey = null;
    if (typeof user === 'string') {
      this.first ??= user;
      this.lastText = user;
    } else {
      this.first ??= user.text();
      this.lastKey.keep(user);
    }
    putBillLine(this.bill.room(billLineRoom(user)), user, durationMs, costRounded, this.decimals);
  }
}

/**
 * Writes the bill and the detail CSV (DETAIL_HEADER) as finalize hands them over, each row
 * encoded straight into the output buffers (ByteLine): no string per row or amount (at a
 * million users, building and encoding row strings was a third of the bill's writing).
 */
export class BillWriter extends BillFilesWriter implements BillSink {
  /** Each task's rate and the comma after it (`0.005,`), encoded. */
  private readonly rateFields: WordLiteral[];

  constructor(billFile: ByteSink, detailFile: ByteSink, config: BillingConfig, opts: BillWriterOptions = {}) {
    super(billFile, detailFile, config, DETAIL_HEADER, opts);
    this.rateFields = config.rates.map((r) => literal(`${r.text},`));
  }

  task(user: BillUser, t: number, requests: number, durationMs: Amount, costPicos: Amount, costRounded: Amount): void {
    const rate = this.rateFields[t]!;
    const out = this.taskRow(user, t, requests, durationMs, rate.length + 2 * NUMBER_ROOM);
    out.literal(rate);
    out.picos(costPicos);
    out.byte(COMMA);
    out.fixed(costRounded, this.decimals);
    out.byte(10);
  }

  user(user: BillUser, durationMs: Amount, _costPicos: Amount, costRounded: Amount): void {
    this.writeBillLine(user, durationMs, costRounded);
  }
}

/**
 * Writes a bill under a pricing plan and its detail CSV (PRICED_DETAIL_HEADER) as finalize
 * hands them over. Rows are encoded straight into the output buffers (ByteLine): no string
 * per row or amount, on a path run for every (user, task) of millions of users.
 */
export class PricedBillWriter extends BillFilesWriter implements PricedBillSink {
  /** The last minimum formatted (users mostly share the plan's). */
  private minimum = -1n;
  private minimumText = '';

  constructor(billFile: ByteSink, detailFile: ByteSink, config: BillingConfig, opts: BillWriterOptions = {}) {
    super(billFile, detailFile, config, PRICED_DETAIL_HEADER, opts);
  }

  task(user: string, t: number, requests: number, durationMs: Amount, c: TaskCharge): void {
    const out = this.taskRow(user, t, requests, durationMs, 4 * NUMBER_ROOM + TASK_ROW_END.length);
    out.amount(c.billableMs);
    out.byte(COMMA);
    out.picos(c.usage);
    out.byte(COMMA);
    out.picos(c.fees);
    out.byte(COMMA);
    // With no fee, cost is usage.
    out.picos(c.fees === 0 ? c.usage : c.cost);
    out.literal(TASK_ROW_END);
  }

  user(user: string, u: PricedUser): void {
    const field = this.fieldOf(user);
    if (u.minimum !== this.minimum) {
      this.minimum = u.minimum;
      this.minimumText = formatExact(u.minimum);
    }
    const discounted = u.discountedYoctos === null ? null : formatYoctos(u.discountedYoctos);
    const texts = field.length + u.discountText.length + this.minimumText.length + (discounted?.length ?? 0);
    const out = this.detail.room(3 * texts + 6 * NUMBER_ROOM);
    out.text(field);
    out.byte(COMMA);
    out.byte(COMMA);
    out.uint(u.requests);
    out.byte(COMMA);
    out.amount(u.durationMs);
    out.byte(COMMA);
    out.byte(COMMA);
    out.byte(COMMA);
    out.byte(COMMA);
    out.picos(u.subtotal);
    out.byte(COMMA);
    out.text(u.discountText);
    out.byte(COMMA);
    if (discounted === null) out.picos(u.subtotal);
    else out.text(discounted);
    out.byte(COMMA);
    out.text(this.minimumText);
    out.byte(COMMA);
    out.fixed(u.rounded, this.decimals);
    out.byte(10);
    this.writeBillLine(user, u.durationMs, u.rounded);
  }
}

/** What writeBillFiles wrote: the bill's totals, and its first and last users (null: none). */
export interface WrittenBill {
  readonly totals: BillTotals;
  readonly first: string | null;
  readonly last: string | null;
}

/**
 * The bill of `usage` (billing.txt and the detail CSV), made and written the one way there is:
 * at flat rates (finalizeBill, BillWriter), or under `plan` (finalizePricedBill,
 * PricedBillWriter; config.rates names the plan's tasks).
 */
export async function writeBillFiles(
  usage: UsageRows | SortedUsage,
  config: BillingConfig,
  plan: PricingPlan | undefined,
  billFile: ByteSink,
  detailFile: ByteSink,
  opts: BillWriterOptions = {},
): Promise<WrittenBill> {
  if (plan === undefined) {
    const writer = new BillWriter(billFile, detailFile, config, opts);
    return { totals: await finalizeBill(usage, config, writer), first: writer.first, last: writer.last };
  }
  const writer = new PricedBillWriter(billFile, detailFile, config, opts);
  return { totals: await finalizePricedBill(usage, config, plan, writer), first: writer.first, last: writer.last };
}
