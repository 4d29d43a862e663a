/**
 * One line of input → accepted usage, out of window, or a reject with its reason, by the
 * contract's field rules in order. Used by the naive engine, and by the parallel engine
 * for CSV and JSON lines (its space-format hot path scans bytes instead).
 */
import { isUtf8 } from 'node:buffer';
import type { BillingConfig } from '../config/config.js';
import { taskIndex } from '../config/config.js';
import type { RejectReason } from '../validation/reasons.js';
import { RULES } from '../validation/rules.js';

const KEYS = RULES.jsonl.keys;
const REQUEST_ID_KEY = RULES.requestId.jsonKey;
import { isValidRequestId, isValidUser, parseDurationJson, parseDurationText, parseStatus, parseStatusJson } from '../validation/fields.js';
import { parseTimestamp, inWindow, windowIsOpen, type TimeWindow } from '../validation/timestamp.js';
import type { Format } from './format.js';
import { splitCsvLine, type CsvLayout } from './csv.js';
import { mayHoldNonPlainNumbers, numberTexts } from './json-numbers.js';
import type { ValidRecord } from '../dedupe/dedupe.js';

export type { ValidRecord };

export type Verdict =
  | { readonly kind: 'accepted'; readonly user: string; readonly task: number; readonly durationMs: number }
  | { readonly kind: 'out_of_window' }
  /** Only from a parser made with `deferWindow`: every valid record, its window decided by the caller after dedupe. */
  | ({ readonly kind: 'valid' } & ValidRecord)
  | { readonly kind: 'rejected'; readonly reason: RejectReason; readonly task?: string };

/** A request id's value: a valid id, none (null), or BAD_ID (the record is `bad_request_id`). */
const BAD_ID = Symbol('bad request id');
type IdValue = string | null | typeof BAD_ID;

/** A CSV field or JSON value → request id value (SPEC: empty, null or absent is none; another type or a bad string is a reject). */
function requestIdOf(v: unknown): IdValue {
  if (v === undefined || v === null || v === '') return null;
  return typeof v === 'string' && isValidRequestId(v) ? v : BAD_ID;
}

export interface ParserOptions {
  /** Return every valid record as `valid` with its fields and window flag (dedupe decides, then the window). */
  readonly deferWindow?: boolean;
}

const OUT_OF_WINDOW: Verdict = { kind: 'out_of_window' };
const REJECTS = new Map<RejectReason, Verdict>();
function reject(reason: RejectReason): Verdict {
  let v = REJECTS.get(reason);
  if (v === undefined) REJECTS.set(reason, (v = { kind: 'rejected', reason }));
  return v;
}

const FIELD_SEPARATORS = /[ \t]+/;

/**
 * The line without its leading and trailing spaces and tabs. Not `/[ \t]+$/`: a regex engine
 * tries that at every blank of a run inside the line and scans the run to its end each time,
 * so a 64 KiB line of spaces took seconds (quadratic).
 */
function trimSpacesAndTabs(text: string): string {
  let a = 0;
  let b = text.length;
  while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9)) a++;
  while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9)) b--;
  return text.slice(a, b);
}

export class RecordParser {
  private readonly tasks: Map<string, number>;
  private readonly windowOpen: boolean;
  private readonly deferWindow: boolean;

  constructor(
    private readonly config: BillingConfig,
    private readonly window: TimeWindow,
    options: ParserOptions = {},
  ) {
    this.tasks = taskIndex(config);
    this.windowOpen = windowIsOpen(window);
    this.deferWindow = options.deferWindow === true;
  }

  /** Judges a non-blank line (BOM already removed) of the given format. `csv` is required for CSV. */
  parse(bytes: Buffer, format: Format, csv?: CsvLayout): Verdict {
    if (!isUtf8(bytes)) return reject('bad_encoding');
    const text = bytes.toString('utf8');
    switch (format) {
      case 'space':
        return this.space(text);
      case 'csv':
        return this.csv(text, csv!);
      case 'jsonl':
        return this.json(text);
    }
  }

  private space(text: string): Verdict {
    const f = trimSpacesAndTabs(text).split(FIELD_SEPARATORS);
    if (f.length !== 5) return reject('bad_field_count');
    return this.fields(f[0]!, f[1]!, f[2]!, parseStatus(f[3]!), parseDurationText(f[4]!, 'required', this.config.maxDurationMs), null);
  }

  private csv(text: string, layout: CsvLayout): Verdict {
    const f = splitCsvLine(text);
    if (f === null || f.length !== layout.fieldCount) return reject('bad_field_count');
    return this.fields(
      f[layout.timestamp]!,
      f[layout.user]!,
      f[layout.task]!,
      parseStatus(f[layout.status]!),
      parseDurationText(f[layout.duration]!, 'optional', this.config.maxDurationMs),
      layout.requestId < 0 ? null : requestIdOf(f[layout.requestId]),
    );
  }

  private json(text: string): Verdict {
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      return reject('bad_json');
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return reject('bad_json');
    const r = o as Record<string, unknown>;
    const own = (k: string): unknown => (Object.prototype.hasOwnProperty.call(r, k) ? r[k] : undefined);
    const ts = own(KEYS.timestamp);
    const user = own(KEYS.user);
    const task = own(KEYS.task);
    const status = own(KEYS.status);
    const duration = own(KEYS.duration);
    // JSON.parse reads a number as a double; where one may hold a fraction or an exponent, its
    // text decides whether it is an integer (README decision 47).
    const texts = (typeof status === 'number' || typeof duration === 'number') && mayHoldNonPlainNumbers(text) ? (numberTexts(text) as Record<string, unknown>) : undefined;
    return this.fields(
      typeof ts === 'string' ? ts : null,
      typeof user === 'string' ? user : null,
      typeof task === 'string' ? task : null,
      parseStatusJson(status, texts?.[KEYS.status]),
      parseDurationJson(duration, this.config.maxDurationMs, texts?.[KEYS.duration]),
      requestIdOf(own(REQUEST_ID_KEY)),
    );
  }

  /** The field rules in contract order, on already-extracted fields (null: missing or wrong type). */
  private fields(ts: string | null, user: string | null, task: string | null, status: number | null, durationMs: number | null, requestId: IdValue): Verdict {
    const instant = ts === null ? null : parseTimestamp(ts);
    if (instant === null) return reject('bad_timestamp');
    if (user === null || !isValidUser(user)) return reject('bad_user');
    const t = task === null ? undefined : this.tasks.get(task);
    // The task's name travels with the reject: the summary counts unknown tasks by name.
    if (t === undefined) return task === null ? reject('unknown_task') : { kind: 'rejected', reason: 'unknown_task', task };
    if (status === null) return reject('bad_status');
    if (durationMs === null) return reject('bad_duration');
    if (requestId === BAD_ID) return reject('bad_request_id');
    const within = this.windowOpen || inWindow(instant, this.window);
    if (this.deferWindow) return { kind: 'valid', user, task: t, durationMs, timestamp: ts!, status, requestId, inWindow: within };
    if (!within) return OUT_OF_WINDOW;
    return { kind: 'accepted', user, task: t, durationMs };
  }
}
