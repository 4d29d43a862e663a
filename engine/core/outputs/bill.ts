/**
 * billing.txt and billing.detail.csv, written as the bill is finalized: lines are
 * appended to text chunks that go to the staged files about every MiB, so neither the
 * bill nor its detail is ever held whole in memory.
 *
 * The detail's lines are formatted here rather than by the CSV library: at a million
 * users it has millions of rows and a row-object library pass dominated the whole run.
 * Only the user and task fields can need quoting; they are quoted the RFC 4180 way.
 */
import { setImmediate as turn } from 'node:timers/promises';
import { formatExact, formatFixed, type Amount } from '../money/decimal.js';
import type { Bill, BillSink } from '../billing/finalize.js';
import type { BillingConfig } from '../config/config.js';
import type { StagedFile } from './staged.js';

export const DETAIL_HEADER = ['user', 'task', 'requests', 'duration_ms', 'rate', 'cost', 'cost_rounded'] as const;

const CHUNK_CHARS = 1 << 20;
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

/** Writes the bill (and, given a file, the detail CSV) as finalize hands it over. */
export class BillWriter implements BillSink {
  private bill = '';
  private detail: string;
  private readonly taskField: string[];
  private readonly rateField: string[];
  private readonly decimals: number;
  /** The user of the detail lines being written, and that user's CSV field. */
  private lastUser = '';
  private lastUserField = '';

  constructor(
    private readonly billFile: StagedFile,
    private readonly detailFile: StagedFile | null,
    config: BillingConfig,
    private readonly signal?: AbortSignal,
  ) {
    this.decimals = config.currencyDecimals;
    this.taskField = config.rates.map((r) => csvField(r.task));
    this.rateField = config.rates.map((r) => r.text);
    this.detail = detailFile === null ? '' : `${DETAIL_HEADER.join(',')}\n`;
  }

  task(user: string, t: number, requests: number, durationMs: Amount, costPicos: Amount, costRounded: Amount): void {
    if (this.detailFile === null) return;
    if (user !== this.lastUser) {
      this.lastUser = user;
      this.lastUserField = csvField(user);
    }
    this.detail += `${this.lastUserField},${this.taskField[t]},${requests},${durationMs},${this.rateField[t]},${formatExact(costPicos)},${formatFixed(costRounded, this.decimals)}\n`;
  }

  user(user: string, durationMs: Amount, _costPicos: Amount, costRounded: Amount): void {
    this.bill += billLine(user, durationMs, costRounded, this.decimals);
    if (this.detail.length >= CHUNK_CHARS) this.writeDetail();
    if (this.bill.length >= CHUNK_CHARS) this.writeBill();
  }

  async flush(): Promise<void> {
    this.writeDetail();
    this.writeBill();
    // Let signals (SIGINT, SIGTERM) be handled between chunks of a long bill.
    await turn();
    this.signal?.throwIfAborted();
  }

  private writeBill(): void {
    if (this.bill.length === 0) return;
    this.billFile.write(this.bill);
    this.bill = '';
  }

  private writeDetail(): void {
    if (this.detailFile === null || this.detail.length === 0) return;
    this.detailFile.write(this.detail);
    this.detail = '';
  }
}
