/** billing.txt and billing.detail.csv from a finalized bill. */
import { formatExact, formatFixed } from '../money/decimal.js';
import type { Bill } from '../billing/finalize.js';
import { CsvWriter } from './csv.js';
import type { StagedFile } from './staged.js';

/** One line per user: `user1: total_duration=7235ms, total_cost=42.50`. */
export function billText(bill: Bill): string {
  let out = '';
  for (const u of bill.users) {
    out += `${u.user}: total_duration=${u.durationMs}ms, total_cost=${formatFixed(u.costRounded, bill.decimals)}\n`;
  }
  return out;
}

export const DETAIL_HEADER = ['user', 'task', 'requests', 'duration_ms', 'rate', 'cost', 'cost_rounded'] as const;

export async function writeDetail(file: StagedFile, bill: Bill): Promise<void> {
  const csv = new CsvWriter(file, DETAIL_HEADER);
  for (const u of bill.users) {
    for (const t of u.tasks) {
      const more = csv.write([
        u.user,
        t.task,
        t.requests,
        t.durationMs.toString(),
        t.rateText,
        formatExact(t.costPicos),
        formatFixed(t.costRounded, bill.decimals),
      ]);
      if (!more) await csv.drain();
    }
  }
  await csv.end();
}
