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
import { formatExact, formatFixed, type Amount } from '../money/decimal.js';
import type { Bill, BillSink, PricedBillSink, PricedUser } from '../billing/finalize.js';
import type { TaskCharge } from '../pricing/price.js';
import { formatYoctos } from '../pricing/price.js';
import { formatPicos } from '../pricing/format.js';
import type { BillingConfig } from '../config/config.js';
import type { StagedFile } from './staged.js';

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

/** Lines encoded into one reused buffer, written out (synchronously) when it is nearly full. */
class LineBuffer {
  private readonly buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private pos = 0;

  constructor(private readonly file: StagedFile) {}

  add(text: string): void {
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    if (this.pos + 3 * text.length > CHUNK_BYTES) {
      this.flush();
      if (3 * text.length > CHUNK_BYTES) return this.file.write(text);
    }
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  flush(): void {
    if (this.pos === 0) return;
    this.file.write(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }
}
const NEEDS_QUOTES = /[",\r\n]/;

/** A CSV field: as is, or quoted with inner quotes doubled when it holds a quote, comma or line break. */
export function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One billing.txt line: `user1: total_duration=7235ms, total_cost=42.50`. */
export function billLine(user: string, durationMs: Amount, costRounded: Amount, decimals: number): string {
  return `${user}: total_duration=${durationMs}ms, total_cost=${formatFixed(costRounded, decimals)}\n`;
}

/** billing.txt of a collected bill (tests, small bills). */
export function billText(bill: Bill): string {
  return bill.bills.map((u) => billLine(u.user, u.durationMs, u.costRounded, bill.decimals)).join('');
}

/**
 * What both bill writers share: billing.txt and the detail CSV as line buffers, a user's
 * detail lines gathered and encoded together (one buffer write per user, not per line), and
 * a flush that lets signals be handled between chunks of a long bill.
 */
abstract class BillFilesWriter {
  protected readonly bill: LineBuffer;
  protected readonly detail: LineBuffer;
  protected readonly taskField: string[];
  protected readonly decimals: number;
  /** The detail lines of the user being written, and that user's CSV field. */
  protected userLines = '';
  protected userField = '';

  constructor(
    billFile: StagedFile,
    detailFile: StagedFile,
    config: BillingConfig,
    header: readonly string[],
    private readonly signal?: AbortSignal,
  ) {
    this.decimals = config.currencyDecimals;
    this.taskField = config.rates.map((r) => csvField(r.task));
    this.bill = new LineBuffer(billFile);
    this.detail = new LineBuffer(detailFile);
    this.detail.add(`${header.join(',')}\n`);
  }

  /** The user's CSV field, made once at their first detail line. */
  protected userCsv(user: string): string {
    if (this.userLines === '') this.userField = csvField(user);
    return this.userField;
  }

  async flush(): Promise<void> {
    this.detail.flush();
    this.bill.flush();
    // Let signals (SIGINT, SIGTERM) be handled between chunks of a long bill.
    await turn();
    this.signal?.throwIfAborted();
  }
}

/** Writes the bill and the detail CSV as finalize hands them over. */
export class BillWriter extends BillFilesWriter implements BillSink {
  private readonly rateField: string[];

  constructor(billFile: StagedFile, detailFile: StagedFile, config: BillingConfig, signal?: AbortSignal) {
    super(billFile, detailFile, config, DETAIL_HEADER, signal);
    this.rateField = config.rates.map((r) => r.text);
  }

  task(user: string, t: number, requests: number, durationMs: Amount, costPicos: Amount, costRounded: Amount): void {
    this.userLines += `${this.userCsv(user)},${this.taskField[t]},${requests},${durationMs},${this.rateField[t]},${formatExact(costPicos)},${formatFixed(costRounded, this.decimals)}\n`;
  }

  user(user: string, durationMs: Amount, _costPicos: Amount, costRounded: Amount): void {
    this.detail.add(this.userLines);
    this.userLines = '';
    this.bill.add(billLine(user, durationMs, costRounded, this.decimals));
  }
}

/** Writes a bill under a pricing plan and its detail CSV (PRICED_DETAIL_HEADER) as finalize hands them over. */
export class PricedBillWriter extends BillFilesWriter implements PricedBillSink {
  /** The last minimum formatted (users mostly share the plan's). */
  private minimum = -1n;
  private minimumText = '';

  constructor(billFile: StagedFile, detailFile: StagedFile, config: BillingConfig, signal?: AbortSignal) {
    super(billFile, detailFile, config, PRICED_DETAIL_HEADER, signal);
  }

  task(user: string, t: number, requests: number, durationMs: Amount, c: TaskCharge): void {
    const userField = this.userCsv(user);
    // With no fee, cost is usage: one text for both.
    const usage = formatPicos(c.usage);
    const fees = c.fees === 0 ? '0' : formatPicos(c.fees);
    const cost = c.fees === 0 ? usage : formatPicos(c.cost);
    this.userLines += `${userField},${this.taskField[t]},${requests},${durationMs},${c.billableMs},${usage},${fees},${cost},,,,\n`;
  }

  user(user: string, u: PricedUser): void {
    const userField = this.userCsv(user);
    const subtotal = formatPicos(u.subtotal);
    const discounted = u.discountedYoctos === null ? subtotal : formatYoctos(u.discountedYoctos);
    if (u.minimum !== this.minimum) {
      this.minimum = u.minimum;
      this.minimumText = formatExact(u.minimum);
    }
    // The duration and total texts serve both the detail row and the bill line.
    const duration = String(u.durationMs);
    const total = formatFixed(u.rounded, this.decimals);
    this.userLines += `${userField},,${u.requests},${duration},,,,${subtotal},${u.discountText},${discounted},${this.minimumText},${total}\n`;
    this.detail.add(this.userLines);
    this.userLines = '';
    this.bill.add(`${user}: total_duration=${duration}ms, total_cost=${total}\n`);
  }
}
