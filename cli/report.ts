/**
 * What the user reads at the end of a command: an error as one line (on a terminal) or one
 * JSON log line, and after a successful bill, on a terminal, a short table of the run.
 */
import { createRequire } from 'node:module';
import type CliTable from 'cli-table3';
import { formatFixed } from '../engine/core/money/decimal.js';
import { REJECT_REASONS } from '../engine/core/validation/reasons.js';
import { totalRejected } from '../engine/core/billing/usage.js';
import { createLogger, maskSecrets, type LogFormat } from '../engine/observability/logger.js';
import type { AggregateOutcome } from './aggregate.js';
import { countText } from '../engine/core/count-text.js';
import { errorKind } from '../engine/core/errors.js';

/** Reports a failure once: `mr: message` (and any details) for people, one JSON line for machines. */
export function reportError(format: LogFormat, exitCode: number, err: unknown): void {
  const message = maskSecrets(err instanceof Error ? err.message : String(err));
  const raw = (err as { details?: unknown } | null)?.details;
  const details = Array.isArray(raw) ? raw.map((d) => maskSecrets(String(d))) : [];
  if (format === 'json') {
    createLogger('error', 2, 'json').error({ exit_code: exitCode, error: errorKind(err, exitCode), ...(details.length > 0 ? { details } : {}) }, message);
    return;
  }
  process.stderr.write(`mr: ${oneLine(message)}\n${details.map((d) => `${oneLine(d)}\n`).join('')}`);
}

/** Text on one terminal line: control characters (a newline in a file's name) written as escapes, \n or \x1b. */
function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

const count = countText;

/** The end-of-run table for people. */
export function summaryTable(o: AggregateOutcome, engine: string): string {
  const c = o.result.counts;
  // Loaded only for this table (a terminal): a run for machines never pays for it.
  const Table = createRequire(import.meta.url)('cli-table3') as typeof CliTable;
  const table = new Table({ style: { head: [], border: [], compact: true } });
  const rows: Array<[string, string]> = [
    ['engine', engine],
    ['users billed', count(o.bill.users)],
    ['records', count(c.records)],
    ['accepted', count(c.accepted)],
    ['out of window', count(c.outOfWindow)],
    ['duplicates', count(c.duplicates)],
    ...(c.conflictingDuplicates > 0 ? [['  conflicting', count(c.conflictingDuplicates)] as [string, string]] : []),
    ['rejected', count(totalRejected(c))],
    ...REJECT_REASONS.filter((r) => c.rejected[r] > 0).map((r): [string, string] => [`  ${r}`, count(c.rejected[r])]),
    ['total billed', formatFixed(o.bill.totalBilled, o.bill.decimals)],
    ['seconds', o.seconds.toFixed(2)],
    ['MiB/s', o.seconds > 0 ? (o.bytes / 1048576 / o.seconds).toFixed(1) : '-'],
  ];
  for (const [k, v] of rows) table.push({ [k]: v });
  return `${table.toString()}\n`;
}
