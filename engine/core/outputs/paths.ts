/** Output file names: everything is named after the bill (`data/billing.txt` → `data/billing.summary.json`, ...). */
import { basename, dirname, extname, join } from 'node:path';
import { resolvedPath } from '../resolved-path.js';
import { UsageError, systemReason } from '../errors.js';

export interface OutputPaths {
  readonly bill: string;
  readonly detail: string;
  readonly summary: string;
  readonly rejects: string;
}

/** The bill's name less its extension: what its companions, its lock and its journal are named after. */
function stemOf(bill: string): string {
  return basename(bill, extname(bill));
}

/** A working file of the outputs named after `bill` (`.billing.mr-lock`, `.billing.mr-commit`): a dot file beside it named after the stem, so that bills sharing companions share it too. */
export function stemWorkPath(bill: string, suffix: string): string {
  return join(dirname(bill), `.${stemOf(bill)}${suffix}`);
}

/**
 * `--out` in the one spelling the bill, its companions, its lock, journal and staging files
 * share, naming the file the file system would (`./o//billing.txt` is `o/billing.txt`;
 * `link/../b.txt` is `b.txt` in the folder above the link's target, as a shell writes it):
 * resolvedPath. A folder on the way that is no folder, cannot be searched or is a link to
 * nothing or a loop is a bad --out (exit 2): read as text instead, the `..` would put the bill
 * somewhere the file system would not.
 */
export function outputSpelling(given: string): string {
  try {
    return resolvedPath(given);
  } catch (err) {
    const where = (err as NodeJS.ErrnoException).path;
    throw new UsageError(`--out ${given}: its folder cannot be resolved (${systemReason(err)}${where === undefined ? '' : `: ${where}`}), so where the bill would go is not known`);
  }
}

export function outputPaths(bill: string): OutputPaths {
  const dir = dirname(bill);
  const stem = stemOf(bill);
  return {
    bill,
    detail: join(dir, `${stem}.detail.csv`),
    summary: join(dir, `${stem}.summary.json`),
    rejects: join(dir, `${stem}.rejects.csv`),
  };
}

/**
 * The names of mr's own working files beside a set of outputs: staged outputs
 * (`.mr-staging-<pid>-…`, staged.ts), probes (`.mr-probe-<pid>-…`), locks (`.<stem>.mr-lock`,
 * lock.ts) and commit journals (`.<bill>.mr-commit`, journal.ts), with their temporary names.
 * Never logs: a walk of a directory that also holds outputs passes over them (a live run's
 * staged `billing.txt` would otherwise be read as a log).
 */
export function isWorkFileName(name: string): boolean {
  return /^\.(?:mr-staging-\d+-|mr-probe-\d+-|.+\.mr-(?:lock|commit)(?:\.\d+\.(?:tmp|stale)|\.takeover)?$)/.test(name);
}
