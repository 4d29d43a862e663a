/** Output file names: everything is named after the bill (`data/billing.txt` → `data/billing.summary.json`, ...). */
import { basename, dirname, extname, join } from 'node:path';

export interface OutputPaths {
  readonly bill: string;
  readonly detail: string;
  readonly summary: string;
  readonly rejects: string;
}

export function outputPaths(bill: string): OutputPaths {
  const dir = dirname(bill);
  const ext = extname(bill);
  const stem = basename(bill, ext);
  return {
    bill,
    detail: join(dir, `${stem}.detail.csv`),
    summary: join(dir, `${stem}.summary.json`),
    rejects: join(dir, `${stem}.rejects.csv`),
  };
}
