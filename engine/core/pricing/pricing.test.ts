/**
 * Pricing plans: parsing (YAML keys as written, numbers refused), and the arithmetic of
 * finalizePricedBill against an independent reference in bigint rationals, by property
 * tests over random plans and usage (small amounts on the number fast path, huge ones on
 * the bigint path).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { ConfigError } from '../errors.js';
import { parsePlanText, planFromData, fieldPath } from './plan.js';
import { ONE } from '../money/decimal.js';
import { compilePrice, priceTask, priceTaskBig, roundYoctos, formatYoctos } from './price.js';
import { billingConfigFromPlan } from '../config/config.js';
import { ByteLine } from './format.js';
import { WordLiteral } from '../formats/words.js';
import { formatExact, formatFixed } from '../money/decimal.js';
import { finalizePricedBill, type PricedUser } from '../billing/finalize.js';
import { UsageTable } from '../billing/usage.js';
import type { TaskCharge } from './price.js';

const yaml = (text: string) => planFromData(parsePlanText(text, false));

describe('parsing a plan', () => {
  it('takes customer ids as the text written: 007 is "007", 123 is "123", 1e3 and true stay as written', () => {
    const p = yaml('version: 1\ntasks:\n  login: { per_ms: "1" }\ncustomers:\n  007: {}\n  123: { discount: "5%" }\n  1e3: {}\n  true: {}\n  "0x1": {}\n  __proto__: { minimum_charge: "1" }\n');
    // (A JS object lists integer-like keys first: the order of customers does not matter.)
    expect([...p.customers.keys()].sort()).toEqual(['007', '0x1', '123', '1e3', '__proto__', 'true']);
    expect(p.customers.get('123')!.discount).toBe(5n * 10n ** 10n);
    expect(p.customers.get('__proto__')!.minimumCharge).toBe(ONE);
  });

  it('takes task names as written too (a task named 200 is "200")', () => {
    const p = yaml('version: 1\ntasks:\n  200: { per_ms: "1" }\n  0.5: { per_ms: "2" }\n');
    expect([...p.tasks.keys()].sort()).toEqual(['0.5', '200']);
  });

  it.each([
    ['a YAML float', 'per_ms: 0.005', 'tasks.login.per_ms'],
    ['a YAML integer', 'per_ms: 5', 'tasks.login.per_ms'],
    ['a YAML exponent', 'per_ms: 5e-3', 'tasks.login.per_ms'],
    ['a negative amount', 'per_ms: "-1"', 'tasks.login.per_ms'],
    ['13 fractional digits', 'per_ms: "0.0000000000001"', 'tasks.login.per_ms'],
    ['a fee as a number', 'per_ms: "1", per_request: 0.1', 'tasks.login.per_request'],
    ['a fractional count', 'per_ms: "1", free_ms: 1.5', 'tasks.login.free_ms'],
    ['a count that is no integer as written (README decision 47)', 'per_ms: "1", free_ms: 999.99999999999999999', 'tasks.login.free_ms'],
    ['a count as a string', 'per_ms: "1", free_ms: "10"', 'tasks.login.free_ms'],
  ])('refuses %s, naming the field', (_n, entry, path) => {
    expect(() => yaml(`version: 1\ntasks:\n  login: { ${entry} }\n`)).toThrow(new RegExp(`^pricing plan: ${path.replace(/[.[\]]/g, '\\$&')} `));
  });

  it('takes a count as written: an integer written with a fraction or an exponent is one, a near-integer is not (README decision 47)', () => {
    for (const free of ['1000.0', '1.e3', '+1000.', '10000e-1', '001000.000']) {
      expect(yaml(`version: 1\ntasks:\n  login: { per_ms: "1", free_ms: ${free} }\n`).tasks.get('login')!.freeMs, free).toBe(1000);
    }
    const json = (free: string, customer = 'u') =>
      planFromData(parsePlanText(`{"version":1,"tasks":{"login":{"per_ms":"1"}},"customers":{"${customer}":{"tasks":{"login":{"per_ms":"2","free_ms":${free}}}}}}`, true));
    expect(json('1.0e3').customers.get('u')!.tasks.get('login')!.freeMs).toBe(1000);
    expect(json('1.0e3', '__proto__').customers.get('__proto__')!.tasks.get('login')!.freeMs).toBe(1000);
    for (const customer of ['u', '__proto__']) {
      expect(() => json('999.99999999999999999', customer)).toThrow(/^pricing plan: customers\..*\.tasks\.login\.free_ms must be a non-negative integer/);
    }
  });

  it('accepts the largest amounts and counts, and discounts up to 100%', () => {
    const p = yaml('version: 1\ntasks:\n  t:\n    tiers:\n      - { up_to_ms: 9007199254740990, per_ms: "999999999.999999999999" }\n      - { per_ms: "0" }\n    free_ms: 9007199254740991\ncustomers:\n  a: { discount: "100%" }\n  b: { discount: "100.0000000000%" }\n  c: { discount: "0.0000000001%" }\n');
    expect(p.tasks.get('t')!.tiers[0]!.perMs).toBe(999_999_999_999_999_999_999n);
    expect(p.customers.get('b')!.discount).toBe(ONE);
    expect(p.customers.get('c')!.discount).toBe(1n);
  });

  it.each([
    ['a repeated key', 'version: 1\ntasks:\n  login: { per_ms: "1" }\n  login: { per_ms: "2" }\n'],
    ['no tasks', 'version: 1\ntasks: {}\n'],
    ['a missing version', 'tasks:\n  login: { per_ms: "1" }\n'],
    ['an empty file', ''],
    ['a list', '- 1\n'],
    ['an alias', 'version: 1\nx: &a "1"\ntasks:\n  login: { per_ms: *a }\n'],
    ['101%', 'version: 1\ntasks:\n  login: { per_ms: "1" }\ncustomers:\n  u: { discount: "101%" }\n'],
    ['a discount without %', 'version: 1\ntasks:\n  login: { per_ms: "1" }\ncustomers:\n  u: { discount: "0.5" }\n'],
    ['11 fractional digits of a percent', 'version: 1\ntasks:\n  login: { per_ms: "1" }\ncustomers:\n  u: { discount: "1.00000000001%" }\n'],
    ['a bound of 0', 'version: 1\ntasks:\n  login: { tiers: [{ up_to_ms: 0, per_ms: "1" }, { per_ms: "1" }] }\n'],
  ])('refuses %s', (_n, text) => {
    expect(() => yaml(text)).toThrow(ConfigError);
  });

  /** The reading plans had before js-yaml: the `yaml` package's core schema, plain keys as their source text. */
  function yamlPackageReading(text: string): unknown {
    const value = (node: YamlNode | null): unknown => {
      if (node === null) return null;
      if (isMap(node)) {
        const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        for (const pair of node.items) {
          const k = pair.key as YamlNode;
          obj[isScalar(k) && k.type === 'PLAIN' && typeof k.source === 'string' ? k.source : String((k as { value: unknown }).value)] = value(pair.value as YamlNode | null);
        }
        return obj;
      }
      if (isSeq(node)) return node.items.map((item) => value(item as YamlNode | null));
      if (isScalar(node)) return node.value;
      throw new Error('not a plain document');
    };
    const doc = parseDocument(text, { version: '1.2', uniqueKeys: false, merge: false });
    expect(doc.errors).toEqual([]);
    return value(doc.contents as YamlNode | null);
  }

  it('reads YAML as the yaml package read it (core schema, keys as written): the fixtures and odd scalars', () => {
    const dir = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'pricing');
    const files = [join(dir, 'plan.yaml'), ...readdirSync(join(dir, 'errors')).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, 'errors', f))];
    const texts = files.map((f) => readFileSync(f, 'utf8'));
    texts.push(
      'version: 1\ntasks:\n  a: { per_ms: 0.5, free_ms: 0x10, per_request: 1e3 }\n  b: { per_ms: .5, free_ms: 0o17, per_request: -7 }\n  c: { per_ms: +12, free_ms: 1_000, per_request: .inf }\n  d: { per_ms: ~, free_ms: null, per_request: Null }\n  e: { per_ms: True, free_ms: FALSE, per_request: yes }\n  f: { per_ms: "007", free_ms: 007, per_request: 1.5e+3 }\n  g: { per_ms: \'x\', free_ms:, tiers: [1, "2", 0.1, [3], {}] }\n',
      'customers:\n  1e3: {}\n  0x1F: {}\n  .5: {}\n  -0: {}\n  ~: {}\n  null: {}\n  "quoted 1": {}\n  \'single\': {}\n  a b: {}\n  __proto__: { discount: "1%" }\n  ? complex\n  : {}\nversion: 1\n',
      'version: 1\ntasks:\n  login:\n    per_ms: >-\n      0.005\n    per_request: |\n      0.1\n',
    );
    for (const text of texts) expect(parsePlanText(text, false)).toEqual(yamlPackageReading(text));
  });

  it('refuses repeated keys, also when written differently ("007" and 007), and an empty file by the schema', () => {
    expect(() => parsePlanText('version: 1\ncustomers:\n  007: {}\n  "007": {}\n', false)).toThrow(/duplicated mapping key/);
    expect(() => yaml('# nothing\n')).toThrow(/^pricing plan: \(the plan\) must be a mapping/);
    expect(() => parsePlanText('a: [1,\n', false)).toThrow(/^pricing plan is not valid YAML: /);
  });

  it('refuses a list or a mapping as a key, naming the key’s line and column', () => {
    const refused = (text: string) => () => parsePlanText(text, false);
    const message = (at: string) => new RegExp(`^pricing plan is not valid YAML: a mapping key that is not a plain name \\(${at}\\)$`);
    expect(refused('version: 1\ntasks:\n  login: { per_ms: "1" }\ncustomers:\n  [x]: { discount: "1%" }\n')).toThrow(message('5:3'));
    expect(refused('version: 1\ncustomers:\n  ? { x: 1 }\n  : { discount: "1%" }\n')).toThrow(message('3:5'));
    expect(refused('{ a: 1 }: 2\n')).toThrow(message('1:1'));
  });

  it('reads JSON plans, where numbers are refused the same way', () => {
    expect(() => planFromData(parsePlanText('{"version":1,"tasks":{"a":{"per_ms":0.5}}}', true))).toThrow(/tasks\.a\.per_ms/);
    expect(() => parsePlanText('{', true)).toThrow(ConfigError);
    const p = planFromData(parsePlanText('{"version":1,"tasks":{"a":{"per_ms":"0.5"}},"customers":{"007":{}}}', true));
    expect([...p.customers.keys()]).toEqual(['007']);
  });

  it('refuses a key given twice in one object of a JSON plan (JSON.parse would keep the last), and reads past a BOM', () => {
    expect(() => parsePlanText('{"version":1,"tasks":{"login":{"per_ms":"0.005"},"login":{"per_ms":"5"}}}', true)).toThrow(
      /^pricing plan: tasks\.login is given twice in one object; give each key once$/,
    );
    expect(() => parsePlanText('{"version":1,"tasks":{"a":{"per_ms":"1"}},"customers":{"u":{"discount":"50%","discount":"0%"}}}', true)).toThrow(
      /^pricing plan: customers\.u\.discount is given twice/,
    );
    // The same key in different objects is no repeat.
    expect(planFromData(parsePlanText('{"version":1,"tasks":{"a":{"per_ms":"1"}},"customers":{"a":{"tasks":{"a":{"per_ms":"2"}}}}}', true)).tasks.size).toBe(1);
    expect(planFromData(parsePlanText('\ufeff{"version":1,"tasks":{"a":{"per_ms":"1"}}}', true)).tasks.size).toBe(1);
  });

  it('names the field for an empty name, an alias and a value that is not a string', () => {
    expect(() => yaml('version: 1\ntasks:\n  login: { per_ms: "0.005" }\n  "": { per_ms: "1" }\n')).toThrow(/^pricing plan: tasks holds an empty name$/);
    expect(() => yaml('version: 1\ntasks:\n  a: { per_ms: "1" }\ncustomers:\n  "": {}\n')).toThrow(/^pricing plan: customers holds an empty name$/);
    expect(() => parsePlanText('version: 1\ntasks:\n  login: &p { per_ms: "0.005" }\n  export: *p\n', false)).toThrow(
      /^pricing plan is not valid YAML: an alias \(\*name\) is not allowed in a plan, write the entry out \(4:12\)$/,
    );
    expect(() => yaml('version: 1\ntasks:\n  login: { per_ms: null }\n')).toThrow(/^pricing plan: tasks\.login\.per_ms must be a decimal string in quotes \(e\.g\. "0\.005"\)$/);
    expect(() => yaml('version: 1\ntasks:\n  login: { per_ms: 0.5 }\n')).toThrow(/per_ms must be a decimal string in quotes \(e\.g\. "0\.005"\), never a number$/);
  });

  it('refuses a task or customer key that is a lone surrogate (an escape in JSON or YAML), which UTF-8 would write as U+FFFD', () => {
    expect(() => planFromData(parsePlanText('{"version":1,"tasks":{"\\ud800":{"per_ms":"1"},"\\ufffd":{"per_ms":"2"}}}', true))).toThrow(
      /^pricing plan: tasks\["\\ud800"\] is not valid Unicode text \(a lone surrogate\)/,
    );
    expect(() => yaml('version: 1\ntasks:\n  a: {per_ms: "1"}\ncustomers:\n  "\\udc00x": {}\n')).toThrow(/customers\["\\udc00x"\] is not valid Unicode text/);
    // A well-formed key outside the BMP is kept.
    expect([...planFromData(parsePlanText('{"version":1,"tasks":{"\\ud83d\\ude00":{"per_ms":"1"}}}', true)).tasks.keys()]).toEqual(['\u{1F600}']);
  });

  it('names odd keys unambiguously in paths', () => {
    expect(fieldPath(['customers', 'a.b', 'tasks', 'x y', 'tiers', 2, 'up_to_ms'])).toBe('customers["a.b"].tasks["x y"].tiers[2].up_to_ms');
    expect(fieldPath(['customers', '123', 'discount'])).toBe('customers.123.discount');
  });
});

describe('run configuration from a plan', () => {
  const plan = yaml('version: 1\ncurrency_decimals: 3\ntasks:\n  b: { per_ms: "1" }\n  a: { per_ms: "1" }\n');
  it('the plan tasks are the known tasks, in byte order; decimals from the plan', () => {
    const c = billingConfigFromPlan({ MAX_DURATION_MS: '1000' }, plan);
    expect(c.rates.map((r) => r.task)).toEqual(['a', 'b']);
    expect(c.currencyDecimals).toBe(3);
    expect(c.maxDurationMs).toBe(1000);
  });
  it('refuses RATE_ variables and a differing CURRENCY_DECIMALS', () => {
    expect(() => billingConfigFromPlan({ RATE_a: '1' }, plan)).toThrow(ConfigError);
    expect(() => billingConfigFromPlan({ CURRENCY_DECIMALS: '2' }, plan)).toThrow(/currency_decimals/);
    expect(billingConfigFromPlan({ CURRENCY_DECIMALS: '3' }, plan).currencyDecimals).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------
// An independent reference: plain rationals n/d in bigints, read from the plan's text.

interface Q {
  n: bigint;
  d: bigint;
}
const q = (n: bigint, d = 1n): Q => ({ n, d });
const add = (a: Q, b: Q): Q => q(a.n * b.d + b.n * a.d, a.d * b.d);
const mul = (a: Q, b: Q): Q => q(a.n * b.n, a.d * b.d);
const sub = (a: Q, b: Q): Q => q(a.n * b.d - b.n * a.d, a.d * b.d);
const lt = (a: Q, b: Q) => a.n * b.d < b.n * a.d;
const eq = (a: Q, b: Q) => a.n * b.d === b.n * a.d;
function dec(text: string): Q {
  const [w, f = ''] = text.split('.');
  return q(BigInt(w! + f), 10n ** BigInt(f.length));
}
function pct(text: string): Q {
  const v = dec(text.slice(0, -1));
  return q(v.n, v.d * 100n);
}
/** Half-up to `places` fractional digits, as an integer count of 10^-places. */
function roundRef(x: Q, places: number): bigint {
  const scaled = x.n * 10n ** BigInt(places);
  return (2n * scaled + x.d) / (2n * x.d);
}

interface RawTask {
  per_ms?: string;
  tiers?: Array<{ up_to_ms?: number; per_ms: string }>;
  per_request?: string;
  free_ms?: number;
}

function refTask(t: RawTask, n: bigint, dMs: bigint) {
  const free = BigInt(t.free_ms ?? 0);
  const billable = dMs - free < 0n ? 0n : dMs - free;
  const tiers = t.tiers ?? [{ per_ms: t.per_ms! }];
  let usage = q(0n);
  let lower = 0n;
  for (const tier of tiers) {
    const upper = tier.up_to_ms === undefined ? null : BigInt(tier.up_to_ms);
    // The ms in (lower, upper] that are billable: clamp(billable − lower, 0, upper − lower).
    let inTier = billable - lower;
    if (inTier < 0n) inTier = 0n;
    if (upper !== null && inTier > upper - lower) inTier = upper - lower;
    usage = add(usage, mul(dec(tier.per_ms), q(inTier)));
    if (upper !== null) lower = upper;
  }
  const fees = mul(dec(t.per_request ?? '0'), q(n));
  return { billable, usage, fees, cost: add(usage, fees) };
}

const digits = (max: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: 1, maxLength: max }).map((a) => a.join(''));
const amountArb = (maxWhole: number) =>
  fc.tuple(fc.integer({ min: 0, max: maxWhole }), fc.option(digits(12), { nil: undefined })).map(([w, f]) => (f === undefined ? String(w) : `${w}.${f}`));
const taskArb = (maxWhole: number): fc.Arbitrary<RawTask> =>
  fc.record(
    {
      price: fc.oneof(
        amountArb(maxWhole).map((per_ms) => ({ per_ms }) as RawTask),
        fc
          .tuple(fc.uniqueArray(fc.integer({ min: 1, max: 5_000_000 }), { minLength: 0, maxLength: 3 }), fc.array(amountArb(maxWhole), { minLength: 4, maxLength: 4 }))
          .map(([bounds, rates]) => {
            const sorted = [...bounds].sort((a, b) => a - b);
            return { tiers: [...sorted.map((b, i) => ({ up_to_ms: b, per_ms: rates[i]! })), { per_ms: rates[3]! }] } as RawTask;
          }),
      ),
      per_request: fc.option(amountArb(maxWhole), { nil: undefined }),
      free_ms: fc.option(fc.integer({ min: 0, max: 3_000_000 }), { nil: undefined }),
    },
    { requiredKeys: ['price'] },
  ).map(({ price, per_request, free_ms }) => ({ ...price, ...(per_request === undefined ? {} : { per_request }), ...(free_ms === undefined ? {} : { free_ms }) }));
const discountArb = fc
  .tuple(fc.integer({ min: 0, max: 100 }), fc.option(digits(10), { nil: undefined }))
  .map(([w, f]) => (f === undefined ? `${w}%` : `${w}.${w === 100 ? '0'.repeat(f.length) : f}%`));

const TASKS = ['a', 'b', 'c'];
const USERS = ['u0', 'u1', '007', '123', 'u4', 'u5'];

const scenarioArb = (maxWhole: number, maxDuration: number) =>
  fc.record({
    decimals: fc.integer({ min: 0, max: 12 }),
    minimum: fc.option(amountArb(50), { nil: undefined }),
    tasks: fc.tuple(taskArb(maxWhole), taskArb(maxWhole), taskArb(maxWhole)),
    customers: fc.dictionary(
      fc.constantFrom(...USERS),
      fc.record(
        {
          discount: discountArb,
          minimum_charge: amountArb(50),
          tasks: fc.dictionary(fc.constantFrom(...TASKS), taskArb(maxWhole), { maxKeys: 2 }),
        },
        { requiredKeys: [] },
      ),
      { maxKeys: 4 },
    ),
    usage: fc.array(
      fc.tuple(fc.constantFrom(...USERS), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: maxDuration })),
      { minLength: 0, maxLength: 20 },
    ),
  });

type Scenario = ReturnType<typeof scenarioArb> extends fc.Arbitrary<infer S> ? S : never;

async function checkScenario(s: Scenario): Promise<void> {
  const raw = {
    version: 1,
    currency_decimals: s.decimals,
    ...(s.minimum === undefined ? {} : { minimum_charge: s.minimum }),
    tasks: Object.fromEntries(TASKS.map((t, i) => [t, s.tasks[i]!])),
    customers: s.customers,
  };
  const plan = planFromData(JSON.parse(JSON.stringify(raw)));
  const config = billingConfigFromPlan({}, plan);
  const table = new UsageTable(TASKS.length);
  for (const [user, task, n, d] of s.usage) table.row(user).add(task, n, d);

  const tasksSeen: Array<[string, number, number, bigint, TaskCharge]> = [];
  const usersSeen: Array<[string, PricedUser]> = [];
  const totals = await finalizePricedBill(table, config, plan, {
    // The charge object is reused by finalize: the sink copies what it keeps.
    task: (u, t, n, d, c) => tasksSeen.push([u, t, n, BigInt(d), { ...c }]),
    user: (u, total) => usersSeen.push([u, total]),
  });

  // The reference, from the raw plan text and the raw usage.
  const perUser = new Map<string, Map<string, { n: bigint; d: bigint }>>();
  for (const [user, task, n, d] of s.usage) {
    const m = perUser.get(user) ?? new Map<string, { n: bigint; d: bigint }>();
    const cur = m.get(TASKS[task]!) ?? { n: 0n, d: 0n };
    m.set(TASKS[task]!, { n: cur.n + BigInt(n), d: cur.d + BigInt(d) });
    perUser.set(user, m);
  }
  const expectUsers = [...perUser.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  expect(usersSeen.map(([u]) => u)).toEqual(expectUsers);
  let sumExact = q(0n);
  let sumBilled = 0n;
  let k = 0;
  for (const [ui, user] of expectUsers.entries()) {
    const cust = (s.customers as Record<string, { discount?: string; minimum_charge?: string; tasks?: Record<string, RawTask> }>)[user];
    let subtotal = q(0n);
    for (const task of [...TASKS].sort()) {
      const use = perUser.get(user)!.get(task);
      if (use === undefined) continue;
      const price = cust?.tasks?.[task] ?? s.tasks[TASKS.indexOf(task)]!;
      const ref = refTask(price, use.n, use.d);
      const [u, t, n, d, c] = tasksSeen[k++]!;
      expect([u, TASKS[t], n, d]).toEqual([user, task, Number(use.n), use.d]);
      expect(BigInt(c.billableMs)).toBe(ref.billable);
      expect(eq(q(BigInt(c.usage), ONE), ref.usage)).toBe(true);
      expect(eq(q(BigInt(c.fees), ONE), ref.fees)).toBe(true);
      expect(eq(q(BigInt(c.cost), ONE), ref.cost)).toBe(true);
      subtotal = add(subtotal, ref.cost);
    }
    const discounted = mul(subtotal, sub(q(1n), pct(cust?.discount ?? '0%')));
    const minimum = dec(cust?.minimum_charge ?? s.minimum ?? '0');
    const amount = lt(discounted, minimum) ? minimum : discounted;
    const got = usersSeen[ui]![1];
    expect(eq(q(BigInt(got.subtotal), ONE), subtotal)).toBe(true);
    expect(eq(q(got.minimum, ONE), minimum)).toBe(true);
    if (got.discountedYoctos !== null) expect(eq(q(got.discountedYoctos, ONE * ONE), discounted)).toBe(true);
    else expect(eq(q(BigInt(got.subtotal), ONE), discounted)).toBe(true);
    expect(BigInt(got.rounded)).toBe(roundRef(amount, s.decimals));
    sumExact = add(sumExact, amount);
    sumBilled += roundRef(amount, s.decimals);
  }
  expect(k).toBe(tasksSeen.length);
  expect(totals.users).toBe(expectUsers.length);
  expect(totals.totalBilled).toBe(sumBilled);
  expect(eq(dec(totals.totalCostText!), sumExact)).toBe(true);
}

describe('finalizePricedBill against a bigint-rational reference', () => {
  it('small amounts (the number fast path)', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb(2, 100_000), checkScenario), { numRuns: 300 });
  });

  it('large amounts and durations (the bigint path)', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb(1_000_000_000, 2 ** 40), checkScenario), { numRuns: 300 });
  });

  it('a hand-worked user: tiers hit exactly, allowance, fee, 12.5% discount, half-up', async () => {
    const plan = yaml('version: 1\ntasks:\n  a:\n    tiers:\n      - { up_to_ms: 100, per_ms: "0.01" }\n      - { per_ms: "0.001" }\n    per_request: "0.003"\n    free_ms: 10\ncustomers:\n  u: { discount: "12.5%" }\n');
    const table = new UsageTable(1);
    table.row('u').add(0, 2, 160); // billable 150: 100 × 0.01 + 50 × 0.001 = 1.05; fees 0.006; cost 1.056
    const seen: PricedUser[] = [];
    const totals = await finalizePricedBill(table, billingConfigFromPlan({}, plan), plan, { task: () => undefined, user: (_u, t) => seen.push(t) });
    // 1.056 × 0.875 = 0.924 → 0.92
    expect(formatYoctos(seen[0]!.discountedYoctos!)).toBe('0.924');
    expect(BigInt(seen[0]!.rounded)).toBe(92n);
    expect(totals.totalCostText).toBe('0.924');
  });
});

describe('price helpers', () => {
  it('the number path and the bigint path agree, including where a product leaves the safe integers', () => {
    fc.assert(
      fc.property(taskArb(10_000_000), fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 2 ** 45 }), (raw, n, d) => {
        const plan = planFromData({ version: 1, tasks: { a: raw } });
        const p = compilePrice(plan.tasks.get('a')!);
        const fast = priceTask(p, n, d, null);
        const big = priceTaskBig(p, BigInt(n), BigInt(d));
        expect([fast.billableMs, fast.usage, fast.fees, fast.cost].map(BigInt)).toEqual([big.billableMs, big.usage, big.fees, big.cost]);
      }),
      { numRuns: 500 },
    );
  });

  it('the number path gives way where usage and fees, each a safe integer, sum past one (twelve-decimal amounts make that sum inexact)', () => {
    const plan = planFromData({ version: 1, tasks: { a: { per_ms: '0.001000000001', per_request: '5000.003995499998' } } });
    const p = compilePrice(plan.tasks.get('a')!);
    const fees = 5000003995499998n;
    const lastExact = (BigInt(Number.MAX_SAFE_INTEGER) - fees) / 1000000001n; // the longest duration whose cost is still safe
    for (const d of [lastExact - 1n, lastExact, lastExact + 1n, lastExact + 2n, 4500001n]) {
      const fast = priceTask(p, 1, Number(d), null);
      const big = priceTaskBig(p, 1n, d);
      expect(big.cost).toBe(d * 1000000001n + fees);
      expect([fast.billableMs, fast.usage, fast.fees, fast.cost].map(BigInt), String(d)).toEqual([big.billableMs, big.usage, big.fees, big.cost]);
    }
  });

  it('ByteLine writes the texts of formatExact, formatFixed and String, numbers and bigints, at the edges of the safe range', () => {
    const line = new ByteLine(Buffer.alloc(4096));
    const text = (put: (l: ByteLine) => void) => {
      line.pos = 0;
      put(line);
      return line.buf.toString('utf8', 0, line.pos);
    };
    const edges = [0, 1, 9, 10, 999_999, 10 ** 6, 10 ** 9 - 1, 10 ** 9, 10 ** 12 - 1, 10 ** 12, 10 ** 12 + 1, 10 ** 15, 2 ** 53 - 2, Number.MAX_SAFE_INTEGER];
    const same = (p: number | bigint) =>
      text((l) => l.picos(p)) === formatExact(p) &&
      text((l) => l.amount(p)) === String(p) &&
      Array.from({ length: 13 }, (_, d) => d).every((d) => text((l) => l.fixed(p, d)) === formatFixed(p, d));
    for (const p of edges) expect(same(p)).toBe(true);
    fc.assert(fc.property(fc.maxSafeNat(), same), { numRuns: 3000 });
    // Amounts with trailing zeros (a duration times a rate of few digits: most costs), and short ones.
    const zeros = fc.tuple(fc.maxSafeNat(), fc.integer({ min: 0, max: 15 })).map(([x, j]) => Math.floor(x / 10 ** j) * 10 ** j);
    fc.assert(fc.property(zeros, same), { numRuns: 3000 });
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 7 }), same), { numRuns: 1000 });
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), same));
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => text((l) => l.text(s)) === s));
  });

  it('ByteLine copies spans and literals of every length exactly, by words, writing no byte around them, into buffers given in turn', () => {
    // Spans from two buffers in turn (a merge's tables), each a view at an offset into a larger memory, at any offset.
    const memory = Uint8Array.from({ length: 200 }, (_, i) => (i * 7 + 3) & 0xff);
    const sources = [memory.subarray(5, 69), memory.subarray(101, 149)];
    // Lines written into two buffers in turn (LineBuffer sets `buf` at each flush), views at odd offsets of a pooled-like memory.
    const copy = fc.record({ into: fc.integer({ min: 0, max: 1 }), src: fc.integer({ min: 0, max: 1 }), at: fc.nat(47), length: fc.nat(47), pos: fc.nat(40), literal: fc.uint8Array({ maxLength: 40 }) });
    fc.assert(
      fc.property(fc.array(copy, { minLength: 1, maxLength: 6 }), (copies) => {
        const out = Buffer.alloc(400, 0xee);
        const targets = [out.subarray(3, 131), out.subarray(201, 329)];
        const expected = [Buffer.alloc(128, 0xee), Buffer.alloc(128, 0xee)];
        const line = new ByteLine(targets[0]!);
        for (const c of copies) {
          const b = sources[c.src]!;
          const length = Math.min(c.length, b.length - c.at);
          if (line.buf !== targets[c.into]) line.buf = targets[c.into]!;
          line.pos = c.pos;
          line.span(b, c.at, length);
          expect(line.pos).toBe(c.pos + length);
          expected[c.into]!.set(b.subarray(c.at, c.at + length), c.pos);
          line.literal(new WordLiteral(c.literal));
          expect(line.pos).toBe(c.pos + length + c.literal.length);
          expected[c.into]!.set(c.literal, c.pos + length);
        }
        expect(targets[0]!.equals(expected[0]!) && targets[1]!.equals(expected[1]!)).toBe(true);
        // Nothing written around the two lines' buffers.
        expect([out.subarray(0, 3), out.subarray(131, 201), out.subarray(329)].every((gap) => gap.every((x) => x === 0xee))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('roundYoctos rounds half-up at every number of places', () => {
    expect(roundYoctos(5n * 10n ** 21n, 2)).toBe(1n); // 0.005 → 0.01
    expect(roundYoctos(5n * 10n ** 21n - 1n, 2)).toBe(0n);
    expect(roundYoctos(10n ** 24n, 0)).toBe(1n);
    expect(roundYoctos(5n * 10n ** 11n, 12)).toBe(1n); // half of 10^-12
    expect(formatYoctos(1n)).toBe('0.000000000000000000000001');
  });
});
