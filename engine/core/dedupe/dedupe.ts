/**
 * Duplicate deliveries (SPEC "Duplicate deliveries"), the rule every engine applies: among
 * records that pass every field rule, the first in input order (path order, then offset)
 * with a given identity is the record; later ones are duplicates, counted, not billed; a
 * duplicate whose user, task, timestamp, status or duration differs is also a conflicting
 * duplicate. The time window applies to the records that remain.
 *
 * Identity: `--dedupe auto` (default) the request id's text; `--dedupe line` the line's bytes
 * (after the final CR, a BOM at file start dropped) within its format, and for CSV under an
 * identical header; `--dedupe off` none. Keys are compared whole (a hash only partitions).
 *
 * This module holds the rule on one stream of records in input order (FirstWins), the
 * record's fingerprint for conflicts, the keys, and the tally of duplicates with a few
 * conflict examples; seen.ts (naive) and the parallel engine's shuffle feed it.
 */
import type { CsvLayout } from '../formats/csv.js';
import type { Format } from '../formats/format.js';

/**
 * A record that passed every field rule, before the time window is applied: what dedupe
 * compares (SPEC "Duplicate deliveries": the first record with an id wins; the window then
 * applies to the records that remain).
 */
export interface ValidRecord {
  readonly user: string;
  readonly task: number;
  readonly durationMs: number;
  /** The timestamp's text as written. */
  readonly timestamp: string;
  readonly status: number;
  /** The request id, or null when the record has none. */
  readonly requestId: string | null;
  readonly inWindow: boolean;
}

export const DEDUPE_MODES = ['auto', 'line', 'off'] as const;
export type DedupeMode = (typeof DEDUPE_MODES)[number];

/** Bytes of memory the naive engine's seen-id set may use before it spills by hash partition (README "Duplicate deliveries"). */
export const DEFAULT_DEDUPE_MEMORY_BYTES = 256 * 1024 * 1024;

export interface DedupeSettings {
  readonly mode: DedupeMode;
  /** The seen-id set's memory budget in bytes (estimated): beyond it, records spill to a temporary directory. */
  readonly memoryBytes: number;
  /** Where spill files go (default: the system temporary directory). */
  readonly tmpDir?: string;
}

export const DEFAULT_DEDUPE: DedupeSettings = { mode: 'auto', memoryBytes: DEFAULT_DEDUPE_MEMORY_BYTES };

/** Conflict examples kept (the first ones in input order). */
export const CONFLICT_EXAMPLES = 5;

/** The fields a conflict compares, in the order they are named. */
const FP_FIELDS = ['user', 'task', 'timestamp', 'status', 'duration'] as const;
const SEP = '\u0000';

/**
 * A valid record's fields as one string: user, task index, timestamp text, status, duration,
 * NUL-separated (none of them can hold a NUL: user and timestamp rules forbid control
 * characters, task names come from the configuration, the others are numbers).
 */
export function fingerprint(r: Pick<ValidRecord, 'user' | 'task' | 'timestamp' | 'status' | 'durationMs'>): string {
  return `${r.user}${SEP}${r.task}${SEP}${r.timestamp}${SEP}${r.status}${SEP}${r.durationMs}`;
}

const TASK_DIGITS: Uint8Array[] = [];

/**
 * fingerprint() as UTF-8 bytes written into `out` at `at` (room reserved; returns the end),
 * for a record whose user, timestamp text, status and duration are the bytes b[us, ue),
 * b[ts, te), b[ss, se), b[ds, de): the status and duration as digits without a leading zero
 * (their numbers' text), the user and timestamp as their strings' UTF-8.
 */
export function writeFingerprint(out: Uint8Array, at: number, b: Uint8Array, us: number, ue: number, task: number, ts: number, te: number, ss: number, se: number, ds: number, de: number): number {
  const t = (TASK_DIGITS[task] ??= Buffer.from(String(task), 'latin1'));
  at = copyBytes(b, us, ue, out, at);
  out[at++] = 0;
  at = copyBytes(t, 0, t.length, out, at);
  out[at++] = 0;
  at = copyBytes(b, ts, te, out, at);
  out[at++] = 0;
  at = copyBytes(b, ss, se, out, at);
  out[at++] = 0;
  return copyBytes(b, ds, de, out, at);
}

/** src[s, e) copied to dst at `at` (short runs: a loop, no view made); returns the end. */
export function copyBytes(src: Uint8Array, s: number, e: number, dst: Uint8Array, at: number): number {
  for (let i = s; i < e; i++) dst[at++] = src[i]!;
  return at;
}

/** Upper bound of writeFingerprint's bytes for those ranges. */
export function fingerprintBytes(ue: number, us: number, te: number, ts: number, se: number, ss: number, de: number, ds: number): number {
  return ue - us + (te - ts) + (se - ss) + (de - ds) + 4 + 10;
}

/** What billing needs back from a fingerprint. */
export function billedFields(fp: string): { user: string; task: number; durationMs: number } {
  const a = fp.indexOf(SEP);
  const b = fp.indexOf(SEP, a + 1);
  const e = fp.lastIndexOf(SEP);
  return { user: fp.slice(0, a), task: Number(fp.slice(a + 1, b)), durationMs: Number(fp.slice(e + 1)) };
}

/** billedFields of the fingerprint bytes b[s, e) (the user starts at s): into `out`, no string made. */
export function billedFieldsAt(b: Uint8Array, s: number, e: number, out: { userEnd: number; task: number; durationMs: number }): void {
  let i = s;
  while (b[i] !== 0) i++;
  out.userEnd = i++;
  let task = 0;
  while (b[i] !== 0) task = task * 10 + b[i++]! - 48;
  out.task = task;
  let j = e;
  while (b[j - 1] !== 0) j--;
  let d = 0;
  for (; j < e; j++) d = d * 10 + b[j]! - 48;
  out.durationMs = d;
}

/** The names of the fields in which two fingerprints differ. */
export function differingFields(a: string, b: string): string[] {
  const x = a.split(SEP);
  const y = b.split(SEP);
  return FP_FIELDS.filter((_, i) => x[i] !== y[i]);
}

/** The `--dedupe line` key of a valid line: its format (a CSV line with its header) and its bytes. */
export function lineKey(format: Format, csv: CsvLayout | undefined, bytes: Buffer): string {
  const tag = format === 'csv' ? `csv${SEP}${csv!.header}${SEP}` : `${format}${SEP}`;
  return tag + bytes.toString('utf8');
}

/** The id shown in a conflict warning (a line key shows its line). */
export function displayKey(key: string): string {
  const i = key.lastIndexOf(SEP);
  return i < 0 ? key : key.slice(i + 1);
}

/** Where a record is: its file's place in path order (or a shard's, in the same order) and offset. */
export interface Position {
  readonly order: number;
  /** Byte offset of the line's start; -1 when unknown (spark). */
  readonly offset: number;
}

export interface ConflictExample {
  readonly requestId: string;
  readonly at: Position;
  readonly first: Position;
  readonly differs: readonly string[];
}

/** Duplicates, conflicts and the first few conflicts in input order. */
export interface DuplicateTally {
  duplicates: number;
  conflictingDuplicates: number;
  conflictExamples: ConflictExample[];
}

export function emptyTally(): DuplicateTally {
  return { duplicates: 0, conflictingDuplicates: 0, conflictExamples: [] };
}

const before = (a: Position, b: Position) => a.order < b.order || (a.order === b.order && a.offset < b.offset);

/** Keeps the CONFLICT_EXAMPLES earliest examples (input order) of `list` plus `more`. */
export function keepEarliest(list: ConflictExample[], more: readonly ConflictExample[]): ConflictExample[] {
  const all = [...list, ...more];
  all.sort((a, b) => (before(a.at, b.at) ? -1 : before(b.at, a.at) ? 1 : 0));
  return all.slice(0, CONFLICT_EXAMPLES);
}

/** Adds `from` into `into`. */
export function addTally(into: DuplicateTally, from: DuplicateTally): void {
  into.duplicates += from.duplicates;
  into.conflictingDuplicates += from.conflictingDuplicates;
  if (from.conflictExamples.length > 0) into.conflictExamples = keepEarliest(into.conflictExamples, from.conflictExamples);
}

/**
 * Counts a duplicate; `conflict` is given when its fingerprint differs from the first
 * record's, and makes the example (called only when the example may be kept).
 */
export function countDuplicate(t: DuplicateTally, conflict?: () => ConflictExample): void {
  t.duplicates++;
  if (conflict === undefined) return;
  t.conflictingDuplicates++;
  const ex = conflict();
  if (t.conflictExamples.length < CONFLICT_EXAMPLES || before(ex.at, t.conflictExamples[t.conflictExamples.length - 1]!.at)) {
    t.conflictExamples = keepEarliest(t.conflictExamples, [ex]);
  }
}

interface Seen {
  readonly fp: string;
  readonly order: number;
  readonly offset: number;
}

/** Estimated bytes a seen entry holds in memory (two strings, the entry object, the map slot). */
export function entryBytes(key: string, fp: string): number {
  return 2 * (key.length + fp.length) + 120;
}

/**
 * The rule on one stream of records in input order: the first of a key is kept, later ones
 * are duplicates (and conflicts when their fingerprint differs). Holds every key it has seen.
 */
export class FirstWins {
  private readonly seen = new Map<string, Seen>();
  /** Estimated memory held. */
  bytes = 0;

  constructor(readonly tally: DuplicateTally = emptyTally()) {}

  /** True when the record is the first with its key (it is kept); false for a duplicate (counted here). */
  offer(key: string, fp: string, order: number, offset: number): boolean {
    const s = this.seen.get(key);
    if (s === undefined) {
      this.seen.set(key, { fp, order, offset });
      this.bytes += entryBytes(key, fp);
      return true;
    }
    countDuplicate(this.tally, s.fp === fp ? undefined : () => ({ requestId: displayKey(key), at: { order, offset }, first: { order: s.order, offset: s.offset }, differs: differingFields(s.fp, fp) }));
    return false;
  }

  /** Marks a key seen (an entry carried over from an earlier pass) without counting it. */
  remember(key: string, fp: string, order: number, offset: number): void {
    if (!this.seen.has(key)) this.bytes += entryBytes(key, fp);
    this.seen.set(key, { fp, order, offset });
  }

  entries(): IterableIterator<[string, Seen]> {
    return this.seen.entries();
  }

  clear(): void {
    this.seen.clear();
    this.bytes = 0;
  }
}

/** The warning for conflicting duplicates, with a few examples; `fileOf` names a position's file. */
export function conflictWarning(t: DuplicateTally, fileOf: (order: number) => string): string {
  const where = (p: Position) => `${fileOf(p.order)}${p.offset >= 0 ? ` @${p.offset}` : ''}`;
  const ex = t.conflictExamples.map((e) => `${JSON.stringify(e.requestId)} at ${where(e.at)} differs in ${e.differs.join(', ')} from its first delivery at ${where(e.first)}`);
  const more = t.conflictingDuplicates > ex.length ? `; and ${t.conflictingDuplicates - ex.length} more` : '';
  return `${t.conflictingDuplicates} duplicate deliveries differ from the first record with their request id (the shipper or the source is broken; the first is billed): ${ex.join('; ')}${more}`;
}
