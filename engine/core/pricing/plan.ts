/**
 * Pricing plans (SPEC "Pricing plans"): a YAML or JSON file read once, checked against a
 * JSON Schema (ajv) and then for the rules a schema cannot say, and turned into exact
 * integer prices. Every fault is a ConfigError (exit 2) naming the field's path, such as
 * `tasks.login.tiers[1].up_to_ms`, raised before any input is read.
 *
 * No binary float ever reads an amount: amounts must be strings in the file (a YAML or JSON
 * number is refused), and they are parsed into integer picos (10^-12 units). YAML (read by
 * js-yaml, core schema) keys are taken as the text written in the file, so `007:` is the user
 * "007", never 7.
 */
import { readConfigText } from '../config/config-text.js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import {
  boolCoreTag,
  defineMappingTag,
  defineScalarTag,
  defineSequenceTag,
  floatCoreTag,
  intCoreTag,
  load as loadYaml,
  NOT_RESOLVED,
  nullCoreTag,
  Schema,
  strTag,
  YAMLException,
  type ScalarTagDefinition,
} from 'js-yaml';
import { ConfigError, systemReason } from '../errors.js';
import { mayHoldNonPlainNumbers, numberTexts } from '../formats/json-numbers.js';
import { firstRepeatedJsonKey } from './json-keys.js';
import { firstCollectionKeyPosition } from './yaml-keys.js';
import { isIntegralJsonNumber } from '../validation/fields.js';
import { ONE, formatExact, parseDecimal } from '../money/decimal.js';

/** One graduated tier: `upToMs` null on the last tier (the rest). */
export interface Tier {
  readonly upToMs: number | null;
  /** Price of one billable millisecond in this tier, in picos. */
  readonly perMs: bigint;
}

/** A task's price: tiers (a flat `per_ms` is one unbounded tier), a per-request fee, a free allowance. */
export interface TaskPrice {
  readonly tiers: readonly Tier[];
  /** Fee per billed request, in picos. */
  readonly perRequest: bigint;
  readonly freeMs: number;
}

export interface CustomerTerms {
  /** Discount as a fraction of 10^12 (`10%` → 10^11; `100%` → 10^12). */
  readonly discount: bigint;
  /** The discount as written (`10%`), for the detail CSV. */
  readonly discountText: string;
  /** Replaces the plan's minimum for this user when set, in picos. */
  readonly minimumCharge: bigint | null;
  /** Task name → the price that replaces the plan's for this user. */
  readonly tasks: ReadonlyMap<string, TaskPrice>;
}

export interface PricingPlan {
  /** The plan's currency_decimals, when it sets it. */
  readonly currencyDecimals: number | null;
  /** Per user with at least one billed record, in picos. */
  readonly minimumCharge: bigint;
  /** Task name → price; these are the known tasks. */
  readonly tasks: ReadonlyMap<string, TaskPrice>;
  /** User id (exact text) → terms. */
  readonly customers: ReadonlyMap<string, CustomerTerms>;
}


const AMOUNT = '^\\d+(\\.\\d{1,12})?$';
const DISCOUNT = '^\\d{1,3}(\\.\\d{1,10})?%$';

const amount = { type: 'string', pattern: AMOUNT } as const;
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const taskSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    per_ms: amount,
    tiers: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['per_ms'],
        properties: { up_to_ms: count, per_ms: amount },
      },
    },
    per_request: amount,
    free_ms: count,
  },
} as const;

/** The shape of a plan. Rules across fields (per_ms or tiers, bounds, overrides, discount ≤ 100%) are checked after it. */
export const PLAN_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'tasks'],
  properties: {
    version: { const: 1 },
    currency_decimals: { type: 'integer', minimum: 0, maximum: 12 },
    minimum_charge: amount,
    tasks: {
      type: 'object',
      minProperties: 1,
      propertyNames: { type: 'string', minLength: 1 },
      additionalProperties: taskSchema,
    },
    customers: {
      type: 'object',
      propertyNames: { type: 'string', minLength: 1 },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          discount: { type: 'string', pattern: DISCOUNT },
          minimum_charge: amount,
          tasks: { type: 'object', additionalProperties: taskSchema },
        },
      },
    },
  },
} as const;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A field path in the plan's own words: `tasks.login.tiers[1].up_to_ms`; odd keys are quoted (`customers["a.b"]`). */
export function fieldPath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENT.test(s) || /^\d+$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out === '' ? '(the plan)' : out;
}

/** `/tasks/a~1b/tiers/1` → ['tasks', 'a/b', 'tiers', 1] (array indices as numbers). */
function pointerSegments(pointer: string, data: unknown): Array<string | number> {
  if (pointer === '') return [];
  const out: Array<string | number> = [];
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      out.push(Number(key));
      node = node[Number(key)];
    } else {
      out.push(key);
      node = (node as Record<string, unknown> | undefined)?.[key];
    }
  }
  return out;
}

function describe(err: ErrorObject, value: unknown): string {
  switch (err.keyword) {
    case 'type': {
      const notNumber = typeof value === 'number' ? ', never a number' : '';
      if (err.params.type === 'string' && err.instancePath.endsWith('/discount')) return `must be a percentage in quotes such as "10%"${notNumber}`;
      if (err.params.type === 'string') return `must be a decimal string in quotes (e.g. "0.005")${notNumber}`;
      if (err.params.type === 'integer') return 'must be a non-negative integer';
      return `must be ${err.params.type === 'object' ? 'a mapping' : `of type ${String(err.params.type)}`}`;
    }
    case 'pattern':
      return err.params.pattern === DISCOUNT
        ? 'must be a percentage such as "10%" or "12.5%" (at most 3 integer and 10 fractional digits)'
        : 'must be a non-negative decimal string with at most 12 fractional digits (e.g. "0.005")';
    case 'minimum':
    case 'maximum':
      return err.instancePath.endsWith('currency_decimals') ? 'must be an integer from 0 to 12' : 'must be a non-negative integer (at most 2^53 - 1)';
    case 'const':
      return 'must be 1 (the only plan version)';
    case 'minProperties':
      return 'must name at least one task';
    case 'minItems':
      return 'must hold at least one tier';
    case 'minLength':
      return 'must not be empty';
    default:
      return err.message ?? 'is invalid';
  }
}

// Compiled on the first plan read, not when the module loads: price.ts (loaded by every run) needs no validator.
let validator: ValidateFunction | undefined;
function validatePlan(data: unknown): ErrorObject | null {
  validator ??= new Ajv({ allErrors: false, strict: true }).compile(PLAN_SCHEMA);
  return validator(data) ? null : validator.errors![0]!;
}

function schemaError(err: ErrorObject, data: unknown): ConfigError {
  const at = pointerSegments(err.instancePath, data);
  if (err.keyword === 'additionalProperties') {
    return new ConfigError(`pricing plan: ${fieldPath([...at, String(err.params.additionalProperty)])} is not a known key`);
  }
  if (err.keyword === 'required') {
    return new ConfigError(`pricing plan: ${fieldPath([...at, String(err.params.missingProperty)])} is required`);
  }
  if (err.keyword === 'propertyNames' || err.propertyName !== undefined) {
    return new ConfigError(`pricing plan: ${fieldPath(at)} holds an empty name`);
  }
  return new ConfigError(`pricing plan: ${fieldPath(at)} ${describe(err, at.reduce<unknown>((node, k) => (node as Record<string | number, unknown> | null | undefined)?.[k], data))}`);
}

/**
 * A plain scalar that the YAML 1.2 core schema reads as null, a boolean or a number, with the
 * text written: a mapping key takes the text (so `007:` is "007"), a value the number.
 */
class PlainScalar {
  constructor(
    readonly source: string,
    readonly value: unknown,
  ) {}
}

const unwrap = (v: unknown): unknown => (v instanceof PlainScalar ? v.value : v);

/**
 * A count written with a fraction or an exponent whose value, as written, is no integer
 * (`999.99999999999999999`), though its double is: NaN, which the schema's integer rule
 * refuses as it refuses `1.5` (README decision 47). Any other value as it is.
 */
function integerAsWritten(value: unknown, text: string): unknown {
  return typeof value === 'number' && Number.isInteger(value) && !isIntegralJsonNumber(text) ? NaN : value;
}

/** A YAML 1.2 core float's text (`+1.`, `.5e1`, `007.0`) as JSON writes the same number. */
function yamlFloatAsJson(source: string): string {
  return source
    .replace(/^\+/, '')
    .replace(/^(-?)\./, '$10.')
    .replace(/\.(?=[eE]|$)/, '.0')
    .replace(/^(-?)0+(?=[0-9])/, '$1');
}

/** A core-schema scalar tag whose values keep their text (PlainScalar); a float's value is an integer only when written as one. */
function keepingText(tag: ScalarTagDefinition): ScalarTagDefinition {
  const float = tag === floatCoreTag;
  return defineScalarTag(tag.tagName, {
    implicit: true,
    implicitFirstChars: tag.implicitFirstChars,
    resolve: (source, explicit, name) => {
      const v: unknown = tag.resolve(source, explicit, name);
      if (v === NOT_RESOLVED) return NOT_RESOLVED;
      return new PlainScalar(source, float ? integerAsWritten(v, yamlFloatAsJson(source)) : v);
    },
    identify: () => false,
  });
}

/** A JSON plan's value with every count written as a non-integer made NaN (integerAsWritten), in place; `texts` the same value with numbers as their text. */
function jsonIntegersAsWritten(value: unknown, texts: unknown): unknown {
  if (typeof value === 'number') return integerAsWritten(value, typeof texts === 'string' ? texts : String(value));
  if (value === null || typeof value !== 'object' || texts === null || typeof texts !== 'object') return value;
  const v = value as Record<string, unknown>;
  const t = texts as Record<string, unknown>;
  for (const k of Object.keys(v)) {
    const r = jsonIntegersAsWritten(v[k], t[k]);
    // defineProperty: an own `__proto__` key stays a key (an assignment would set the prototype).
    if (!Object.is(r, v[k])) Object.defineProperty(v, k, { value: r, writable: true, enumerable: true, configurable: true });
  }
  return v;
}

/** What a plan's YAML is refused for when a mapping key is a list or a mapping. */
const COLLECTION_KEY = 'a mapping key that is not a plain name';

/** A mapping key as text: a plain scalar's source, a quoted one's value; anything else is refused. */
function keyText(key: unknown): string | null {
  if (key instanceof PlainScalar) return key.source;
  return typeof key === 'string' ? key : null;
}

/**
 * The schema plans are read with: YAML 1.2 core scalars (js-yaml's own resolvers), mappings
 * into null-prototype objects keyed by the text written (`__proto__` is a customer like any
 * other), numbers and booleans unwrapped as values.
 */
const PLAN_YAML_SCHEMA = new Schema([
  strTag,
  ...[nullCoreTag, boolCoreTag, intCoreTag, floatCoreTag].map((t) => keepingText(t as ScalarTagDefinition)),
  defineSequenceTag<unknown[]>('tag:yaml.org,2002:seq', {
    create: () => [],
    addItem: (list, item) => void list.push(unwrap(item)),
    identify: () => false,
  }),
  defineMappingTag<Record<string, unknown>>('tag:yaml.org,2002:map', {
    create: () => Object.create(null) as Record<string, unknown>,
    addPair: (obj, key, value) => {
      const k = keyText(key);
      if (k === null) return COLLECTION_KEY;
      obj[k] = unwrap(value);
      return '';
    },
    has: (obj, key) => {
      const k = keyText(key);
      return k !== null && Object.prototype.hasOwnProperty.call(obj, k);
    },
    keys: (obj) => Object.keys(obj),
    get: (obj, key) => obj[String(key)],
    identify: () => false,
  }),
]);

/** Parses plan text: JSON when the file is named `.json`, else YAML (1.2, one document, no aliases, no repeated keys). */
export function parsePlanText(text: string, json: boolean): unknown {
  if (json) {
    // A UTF-8 BOM at the start is no part of the plan, as in every input (js-yaml drops it for YAML).
    if (text.startsWith('\ufeff')) text = text.slice(1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`pricing plan is not valid JSON: ${(err as Error).message}`);
    }
    const repeated = firstRepeatedJsonKey(text);
    if (repeated !== null) throw new ConfigError(`pricing plan: ${fieldPath(repeated)} is given twice in one object; give each key once`);
    return mayHoldNonPlainNumbers(text) ? jsonIntegersAsWritten(value, numberTexts(text)) : value;
  }
  try {
    // js-yaml: the `yaml` package's document model took about 1.2 s for 10,000 customers.
    return unwrap(loadYaml(text, { schema: PLAN_YAML_SCHEMA, maxAliases: 0 }));
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    // An empty document is no plan at all: the schema names it (`(the plan) must be a mapping`).
    if (/input is empty/.test(err.message)) return null;
    let first = err.message.split('\n')[0]!;
    if (first.startsWith(COLLECTION_KEY)) {
      const at = firstCollectionKeyPosition(text);
      if (at !== null) first = `${COLLECTION_KEY} (${at})`;
    }
    const alias = /^aliases exceeded maxAliases \(0\)(.*)$/.exec(first);
    throw new ConfigError(`pricing plan is not valid YAML: ${alias === null ? first : `an alias (*name) is not allowed in a plan, write the entry out${alias[1]}`}`);
  }
}

interface RawTask {
  per_ms?: string;
  tiers?: Array<{ up_to_ms?: number; per_ms: string }>;
  per_request?: string;
  free_ms?: number;
}
interface RawPlan {
  version: 1;
  currency_decimals?: number;
  minimum_charge?: string;
  tasks: Record<string, RawTask>;
  customers?: Record<string, { discount?: string; minimum_charge?: string; tasks?: Record<string, RawTask> }>;
}

function picos(text: string): bigint {
  // The schema's pattern is the decimal grammar parseDecimal reads.
  return parseDecimal(text)!;
}

function taskPrice(raw: RawTask, path: Array<string | number>): TaskPrice {
  if (raw.per_ms !== undefined && raw.tiers !== undefined) {
    throw new ConfigError(`pricing plan: ${fieldPath(path)} gives both per_ms and tiers: give one`);
  }
  let tiers: Tier[];
  if (raw.per_ms !== undefined) tiers = [{ upToMs: null, perMs: picos(raw.per_ms) }];
  else if (raw.tiers !== undefined) {
    tiers = [];
    let previous = 0;
    raw.tiers.forEach((t, i) => {
      const last = i === raw.tiers!.length - 1;
      const at = fieldPath([...path, 'tiers', i, 'up_to_ms']);
      if (last && t.up_to_ms !== undefined) throw new ConfigError(`pricing plan: ${at} must be left out: the last tier takes the rest`);
      if (!last && t.up_to_ms === undefined) throw new ConfigError(`pricing plan: ${at} is required on every tier but the last`);
      if (!last) {
        if (t.up_to_ms! <= previous) {
          throw new ConfigError(`pricing plan: ${at} must be greater than ${i === 0 ? '0' : `the previous bound (${previous})`}: bounds are strictly increasing`);
        }
        previous = t.up_to_ms!;
      }
      tiers.push({ upToMs: last ? null : t.up_to_ms!, perMs: picos(t.per_ms) });
    });
  } else throw new ConfigError(`pricing plan: ${fieldPath(path)} gives neither per_ms nor tiers: give one`);
  return { tiers, perRequest: raw.per_request === undefined ? 0n : picos(raw.per_request), freeMs: raw.free_ms ?? 0 };
}

/** `12.5%` → 125 × 10^9 (a fraction of 10^12). */
function discountOf(text: string): bigint {
  const m = /^(\d{1,3})(?:\.(\d{1,10}))?%$/.exec(text)!;
  return BigInt(m[1]!) * 10n ** 10n + BigInt((m[2] ?? '').padEnd(10, '0'));
}

/**
 * A key a JSON or YAML escape made of a lone surrogate (`"\ud800"`): no UTF-8 log line can
 * name it, and UTF-8 would write it as U+FFFD, the bytes of another key. Refused, so that
 * every engine maps a task's bytes to the same task.
 */
function refuseLoneSurrogate(key: string, at: Array<string | number>): void {
  if (Buffer.from(key, 'utf8').toString('utf8') !== key) {
    throw new ConfigError(`pricing plan: ${fieldPath(at)} is not valid Unicode text (a lone surrogate), which no log line can name`);
  }
}

/** Checks parsed plan data and builds the plan; ConfigError naming the field on any fault. */
export function planFromData(data: unknown): PricingPlan {
  const invalid = validatePlan(data);
  if (invalid !== null) throw schemaError(invalid, data);
  const raw = data as unknown as RawPlan;
  const tasks = new Map<string, TaskPrice>();
  for (const name of Object.keys(raw.tasks)) {
    refuseLoneSurrogate(name, ['tasks', name]);
    tasks.set(name, taskPrice(raw.tasks[name]!, ['tasks', name]));
  }
  const customers = new Map<string, CustomerTerms>();
  for (const id of Object.keys(raw.customers ?? {})) {
    refuseLoneSurrogate(id, ['customers', id]);
    const c = raw.customers![id]!;
    const overrides = new Map<string, TaskPrice>();
    for (const name of Object.keys(c.tasks ?? {})) {
      const at = ['customers', id, 'tasks', name];
      if (!tasks.has(name)) throw new ConfigError(`pricing plan: ${fieldPath(at)} overrides a task that is not under tasks`);
      overrides.set(name, taskPrice(c.tasks![name]!, at));
    }
    const discount = c.discount === undefined ? 0n : discountOf(c.discount);
    if (discount > ONE) throw new ConfigError(`pricing plan: ${fieldPath(['customers', id, 'discount'])} must be at most 100%`);
    customers.set(id, {
      discount,
      discountText: c.discount ?? '0%',
      minimumCharge: c.minimum_charge === undefined ? null : picos(c.minimum_charge),
      tasks: overrides,
    });
  }
  return {
    currencyDecimals: raw.currency_decimals ?? null,
    minimumCharge: raw.minimum_charge === undefined ? 0n : picos(raw.minimum_charge),
    tasks,
    customers,
  };
}

/** Reads and checks a plan file (`.json`: JSON, else YAML). */
export async function loadPlan(path: string, signal?: AbortSignal): Promise<PricingPlan> {
  let text: string;
  try {
    text = await readConfigText(path, signal);
  } catch (err) {
    if (signal?.aborted === true) throw err;
    throw new ConfigError(`cannot read pricing plan ${path}: ${systemReason(err)}`);
  }
  let data: unknown;
  try {
    data = parsePlanText(text, /\.json$/i.test(path));
  } catch (err) {
    // A file that does not parse is named: the message's position (line:column) is in it.
    if (err instanceof ConfigError && err.message.startsWith('pricing plan is not valid ')) throw new ConfigError(err.message.replace('pricing plan', `pricing plan ${path}`));
    throw err;
  }
  return planFromData(data);
}

/** Canonical text of an amount in picos (for logs and the detail CSV). */
export const amountText = formatExact;
