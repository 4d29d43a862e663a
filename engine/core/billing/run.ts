/** What every engine is given and returns. */
import type { BillingConfig } from '../config/config.js';
import type { InputFile } from '../input/discover.js';
import type { Rejects } from '../outputs/rejects.js';
import type { TimeWindow } from '../validation/timestamp.js';
import type { BillingResult } from './usage.js';
import type { DedupeSettings } from '../dedupe/dedupe.js';

export interface RunInput {
  readonly files: readonly InputFile[];
  readonly config: BillingConfig;
  readonly window: TimeWindow;
  /** Rejected lines, in file order then offset order. */
  readonly rejects: Rejects;
  /** Called with bytes read from disk, for progress. */
  readonly onBytes: (n: number) => void;
  readonly signal: AbortSignal;
  /** Duplicate deliveries (SPEC): default auto, with the default memory budget. */
  readonly dedupe?: DedupeSettings;
}

export type { BillingResult };
