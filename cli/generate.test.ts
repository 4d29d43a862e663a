/**
 * `mr generate --shape` (engine/generate/shapes.ts): a shaped file holds exactly the plain
 * file's records (same seed, lines, users, bad shares, ids, re-deliveries and conflicts), so
 * the naive and the parallel engine bill it byte-identically to the plain file, with the same
 * counts (rejects by reason, duplicates, conflicts); and it really is shaped (read back, every
 * line is the plain line under its quotes, nested object or wrapper). Without --shape, and with
 * --shape plain, the output is byte for byte what it was before shapes existed. A shape that
 * does not fit the format is exit 2, with nothing written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cleanupTempDirs, reportedErrors, runCli, summaryCounts, tempDir } from '../fixtures/harness.js';

const RATES = 'RATE_login=0.005\nRATE_getUserProfile=0.002\nRATE_createOrder=0.010\nRATE_updateInventory=0.008\nRATE_deleteOrder=0.007\n';
/** Every reject reason of the format (line_too_long too), request ids with re-delivered batches and conflicts. */
const RECORDS = ['--lines', '3000', '--users', '100', '--bad', '0.05', '--seed', '11', '--request-ids', '--redeliver', '0.05', '--conflicts', '0.3'];
const ENGINES = [
  ['--engine', 'naive'],
  ['--engine', 'parallel', '--workers', '2', '--shard-size', '65536'],
];

let dir: string;
beforeAll(() => {
  dir = tempDir('mr-generate-');
  writeFileSync(join(dir, '.env'), RATES);
});
afterAll(cleanupTempDirs);

async function generate(out: string, args: readonly string[]): Promise<void> {
  const r = await runCli(['generate', '--out', out, ...args], { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
}

/** The file's lines as latin1 text (a bad_encoding line's 0xFF stays one character), gzip undone. */
function linesOf(file: string): string[] {
  const raw = readFileSync(join(dir, file));
  const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1');
  return text.split('\n').slice(0, -1);
}

/** Bills `file` with `engine`: billing.txt and the summary's counts. */
async function bill(file: string, engine: readonly string[], read: readonly string[]) {
  const out = `out-${file}-${engine.join('')}`;
  const r = await runCli(['aggregate', file, '--out', `${out}/billing.txt`, '--max-rejects', '100%', '--json', '--no-progress', ...read, ...engine], { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  return { bill: readFileSync(join(dir, out, 'billing.txt'), 'utf8'), counts: summaryCounts(JSON.parse(r.stdout) as Record<string, unknown>) };
}

/** RFC 4180 fields of one line (no line breaks in fields), each with whether it was quoted. */
function csvFields(line: string): Array<{ text: string; quoted: boolean }> {
  const fields: Array<{ text: string; quoted: boolean }> = [];
  for (let i = 0; ; ) {
    if (line[i] === '"') {
      let text = '';
      for (i++; ; i++) {
        if (line[i] === '"' && line[i + 1] === '"') (text += '"'), i++;
        else if (line[i] === '"') break;
        else text += line[i]!;
      }
      fields.push({ text, quoted: true });
      i++;
    } else {
      const end = line.indexOf(',', i);
      fields.push({ text: line.slice(i, end < 0 ? line.length : end), quoted: false });
      i = end < 0 ? line.length : end;
    }
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

interface ShapeCase {
  readonly shape: string;
  readonly file: string;
  /** The plain file of the same format. */
  readonly plain: string;
  /** What aggregate needs to read it. */
  readonly read: readonly string[];
  /** The plain line a shaped line holds; fails the test when the line is not shaped. */
  readonly unshape: (line: string) => string;
}

const quoteAll = (line: string) => {
  const fields = csvFields(line);
  expect(fields.every((f) => f.quoted), line).toBe(true);
  return fields.map((f) => f.text).join(',');
};
const quoteText = (line: string) => {
  const fields = csvFields(line);
  for (const f of fields) expect(f.quoted, `${f.text} in ${line}`).toBe(!/^-?\d+$/.test(f.text));
  return fields.map((f) => f.text).join(',');
};
/** The nested object of a record, which only lines with a "task" key carry. */
const CLIENT = /,"client":\{"ip":"10(\.\d+){3}","agent":\{"name":"[a-z-]+","version":"\d+\.\d+\.\d+"\},"tags":\[[a-z",]*\],"retries":\d,"tls":(true|false)\}(?=,"task":)/;
const nested = (line: string) => {
  if (line.includes('"task":')) expect(line, line).toMatch(CLIENT);
  return line.replace(CLIENT, '');
};
const fluentBit = (line: string) => {
  const o = JSON.parse(line) as { log: string; stream: string; time: string; kubernetes: { labels: { app: string } } };
  expect(Object.keys(o)).toEqual(['log', 'stream', 'time', 'kubernetes']);
  expect(o.time).toMatch(/^2025-05-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  expect(o.kubernetes.labels.app).toBe('api');
  expect(o.log.endsWith('\n'), line).toBe(true);
  return o.log.slice(0, -1);
};
const wrapped = (format: string, wrapper = 'fluent-bit') => ['--wrapped', wrapper, '--format', format];
/** A CloudWatch export line: an ingestion time (milliseconds, Z), a space, the line. */
const cloudWatch = (line: string) => {
  expect(line, line).toMatch(/^2025-05-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
  return line.slice(25);
};

const CASES: ShapeCase[] = [
  { shape: 'quote-all', file: 'qa.csv', plain: 'p.csv', read: [], unshape: quoteAll },
  { shape: 'quote-text', file: 'qt.csv', plain: 'p.csv', read: [], unshape: quoteText },
  { shape: 'nested', file: 'n.jsonl', plain: 'p.jsonl', read: [], unshape: nested },
  { shape: 'fluent-bit', file: 'fb.log', plain: 'p.log', read: wrapped('space'), unshape: fluentBit },
  { shape: 'fluent-bit', file: 'fb.csv', plain: 'p.csv', read: wrapped('csv'), unshape: fluentBit },
  { shape: 'fluent-bit', file: 'fb.jsonl', plain: 'p.jsonl', read: wrapped('jsonl'), unshape: fluentBit },
  { shape: 'fluent-bit', file: 'fbz.log.gz', plain: 'p.log', read: wrapped('space'), unshape: fluentBit },
  { shape: 'quote-text', file: 'qtz.csv.gz', plain: 'p.csv', read: [], unshape: quoteText },
  { shape: 'cloudwatch', file: 'cw.log', plain: 'p.log', read: wrapped('space', 'cloudwatch'), unshape: cloudWatch },
  { shape: 'cloudwatch', file: 'cw.csv', plain: 'p.csv', read: wrapped('csv', 'cloudwatch'), unshape: cloudWatch },
  { shape: 'cloudwatch', file: 'cwz.jsonl.gz', plain: 'p.jsonl', read: wrapped('jsonl', 'cloudwatch'), unshape: cloudWatch },
];

describe('--shape: the same records in another shape', () => {
  /** The plain files' bills, by file, then engine. */
  const plainBills = new Map<string, Promise<Array<Awaited<ReturnType<typeof bill>>>>>();
  beforeAll(async () => {
    for (const p of ['p.log', 'p.csv', 'p.jsonl']) {
      await generate(p, RECORDS);
      plainBills.set(p, Promise.all(ENGINES.map((e) => bill(p, e, []))));
    }
    for (const c of CASES) await generate(c.file, [...RECORDS, '--shape', c.shape]);
  });

  it.concurrent.each(CASES.map((c) => [`${c.shape} ${c.file}`, c] as const))('%s: every line is the plain line, shaped', async (_, c) => {
    const plain = linesOf(c.plain);
    const shaped = linesOf(c.file);
    expect(shaped.length).toBe(plain.length);
    expect(shaped).not.toEqual(plain);
    shaped.forEach((line, i) => expect(c.unshape(line), `line ${i + 1}`).toBe(plain[i]));
  });

  it.concurrent.each(CASES.map((c) => [`${c.shape} ${c.file}`, c] as const))('%s: naive and parallel bill it as the plain file, same counts', async (_, c) => {
    const plain = await plainBills.get(c.plain)!;
    const counts = plain[0]!.counts as { accepted: number; rejected: Record<string, number>; duplicates: number; conflicting_duplicates: number };
    // The comparison means something: a real bill, every reason, duplicates and conflicts where ids are.
    expect(counts.accepted).toBeGreaterThan(2000);
    expect(Object.keys(counts.rejected).length).toBeGreaterThanOrEqual(8);
    if (!c.plain.endsWith('.log')) expect(counts.conflicting_duplicates).toBeGreaterThan(0);
    for (const [i, engine] of ENGINES.entries()) {
      const got = await bill(c.file, engine, c.read);
      expect(got.bill, engine.join(' ')).toBe(plain[i]!.bill);
      expect(got.counts, engine.join(' ')).toEqual(plain[i]!.counts);
    }
    expect(plain[1]!.bill).toBe(plain[0]!.bill);
  });
});

describe('--shape plain: the output of before shapes', () => {
  const sha = (file: string) => createHash('sha256').update(readFileSync(join(dir, file))).digest('hex');
  /** sha256 of files generated before --shape existed (commit fb0d74d). */
  const BEFORE: Array<[string, string[], string]> = [
    ['a.log', ['--lines', '3000', '--users', '50', '--bad', '0.05', '--seed', '7'], '376f89a23f6669b37df591a2e2ac4961397553f2c9d31eb59330d338a1d7ce53'],
    ['b.csv', ['--lines', '3000', '--users', '50', '--bad', '0.05', '--seed', '7'], '74187a64f99d3f792dfe983284554554c41a8ac4d621b2be4f5664bfad88d6a6'],
    ['c.jsonl', ['--lines', '3000', '--users', '50', '--bad', '0.05', '--seed', '7'], 'd96e078d68d30cde5095da482139522f4133f09f25bccd3a6559044c1a8c227a'],
    ['e.csv', ['--lines', '3000', '--users', '50', '--bad', '0.05', '--seed', '7', '--request-ids', '--redeliver', '0.05', '--conflicts', '0.3'], '87f09c637c6141a32e79d27416cf9a6b69027526c462851fbc83e9b8acec2ea3'],
    ['f.jsonl', ['--lines', '3000', '--users', '50', '--bad', '0.05', '--seed', '7', '--request-ids', '--redeliver', '0.05', '--conflicts', '0.3'], 'd8e05353f9c3f8cd37434118647a9285e803fc479d3d79adfa00675748b418c0'],
    ['g.log', ['--size', '300KiB', '--users', '50', '--bad', '0.01', '--seed', '3', '--redeliver', '0.1'], '8f385c59f2ddb578753ce6d7771102bcff2b89076d959f7d7061471161d799c5'],
    ['h.jsonl', ['--size', '300KiB', '--users', '50', '--seed', '3', '--redeliver', '0.1', '--request-ids', '--conflicts', '0.5'], '6f1e6e37a787405e4a64ea155648a3ce75620b5753b98293fdad2b274e2d4b6a'],
  ];

  it.concurrent.each(BEFORE)('%s %j', async (file, args, before) => {
    const [name, ext] = [file.slice(0, file.indexOf('.')), file.slice(file.indexOf('.'))];
    await generate(`default-${file}`, args);
    await generate(`plain-${name}${ext}.gz`, [...args, '--shape', 'plain']);
    expect(sha(`default-${file}`)).toBe(before);
    expect(createHash('sha256').update(gunzipSync(readFileSync(join(dir, `plain-${name}${ext}.gz`)))).digest('hex')).toBe(before);
  });
});

describe.concurrent('--shape that does not fit the format: exit 2, nothing written', () => {
  it.each([
    ['x.jsonl', ['--shape', 'quote-all'], /--shape quote-all is for CSV only, and this output is JSON lines/],
    ['x.log', ['--shape', 'quote-text'], /--shape quote-text is for CSV only, and this output is the space format/],
    ['x.csv.gz', ['--shape', 'nested'], /--shape nested is for JSON lines only, and this output is CSV/],
    ['x.jsonl', ['--shape', 'quote-all', '--format', 'jsonl'], /--shape quote-all is for CSV only/],
    ['x.csv', ['--shape', 'nested', '--format', 'csv'], /--shape nested is for JSON lines only/],
    ['x.csv', ['--shape', 'quoted'], /--shape.*quoted.*(plain|choices)/],
  ])('%s %j', async (out, args, message) => {
    const r = await runCli(['generate', '--out', out, '--lines', '10', ...args], { cwd: dir });
    expect(r.code).toBe(2);
    expect(reportedErrors(r.stderr)).toHaveLength(1);
    expect(reportedErrors(r.stderr)[0]).toMatch(message);
    expect(existsSync(join(dir, out))).toBe(false);
  });
});

describe.concurrent('bad --tasks or --out: a usage error (exit 2) or a run failure naming the file (exit 1), never an internal one', () => {
  it.each([
    ['t1.jsonl', ['--tasks', ''], 2, /^--tasks: give at least one task name/],
    ['t2.jsonl', ['--tasks', ','], 2, /^--tasks: give at least one task name/],
    ['t3.log', ['--tasks', 'login,get profile'], 2, /^--tasks: "get profile" holds whitespace/],
  ])('%s %j', async (out, args, code, message) => {
    const r = await runCli(['generate', '--out', out, '--lines', '10', ...args], { cwd: dir });
    expect(r.code, r.stderr).toBe(code);
    expect(reportedErrors(r.stderr)).toHaveLength(1);
    expect(reportedErrors(r.stderr)[0]).toMatch(message);
    expect(existsSync(join(dir, out))).toBe(false);
  });

  it('--out naming a directory, or under a file: exit 2; a file that cannot be written: exit 1 naming it', async () => {
    mkdirSync(join(dir, 'adir.log'));
    const r = await runCli(['generate', '--out', 'adir.log', '--lines', '10'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(reportedErrors(r.stderr)).toEqual(['--out adir.log is a directory; give the file to write, e.g. adir.log/api.log']);
    // A path under a regular file cannot be created, even by root: said as aggregate says it.
    writeFileSync(join(dir, 'plain'), '');
    const under = await runCli(['generate', '--out', 'plain/g.log', '--lines', '10'], { cwd: dir });
    expect(under.code, under.stderr).toBe(2);
    expect(reportedErrors(under.stderr)).toEqual(['--out: cannot create the directory plain: plain is a file']);
    // A name the file system refuses (too long, even for root): a run failure naming the file.
    const long = `${'g'.repeat(250)}.log`;
    const refused = await runCli(['generate', '--out', long, '--lines', '10'], { cwd: dir });
    expect(refused.code, refused.stderr).toBe(1);
    expect(reportedErrors(refused.stderr)).toHaveLength(1);
    expect(reportedErrors(refused.stderr)[0]).toMatch(new RegExp(`^cannot write ${long}: `));
    expect(refused.stderr).not.toMatch(/"error":"internal"/);
    expect(readdirSync(dir).filter((f) => f.startsWith('.mr-staging-'))).toEqual([]);
  });
});
