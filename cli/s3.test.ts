/**
 * s3:// inputs against a real S3-compatible server (moto's server mode on 127.0.0.1, see
 * fixtures/s3/server.ts): the same bytes billed from the store and from local files give the
 * same outputs for naive and parallel; missing bucket, missing key, denied access, a wrong
 * secret and a server that drops connections mid-object each fail with exit 1 and no bill;
 * the secret key never appears in any output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { cleanupTempDirs, listFiles, repoRoot, reportedErrors, runCli, summaryCounts, tempDir, type CliResult } from '../fixtures/harness.js';
import { useTestCluster } from '../fixtures/spark/cluster-hooks.js';
import { mrCacheDir } from '../engine/core/cache-dir.js';
import { DIRECT_FROM_BYTES, S3RangeReader, checkObjectUnchanged, listS3 } from '../engine/core/input/s3.js';
import { InputError } from '../engine/core/errors.js';
import { TEST_SECRET, createBucket, deleteObject, droppingProxy, putObject, rangeIgnoringProxy, startS3Server, type S3Server } from '../fixtures/s3/server.js';

const REFERENCE = resolve(repoRoot, '../shared/reference/api_logs.txt');
const RATES = resolve(repoRoot, '../shared/reference/original.env');
const BUCKET = 'mr-logs';

let server: S3Server;
let local: string; // the same tree as the bucket, on disk
let work: string;

/** The objects of the bucket, by key: the reference sample under a key with spaces, rotated, gzipped and CSV logs, and a file that is not a log. */
const objects = new Map<string, Buffer>();

async function generate(args: string[], name: string): Promise<Buffer> {
  const out = join(work, name);
  const r = await runCli(['generate', '--out', out, ...args], { cwd: work });
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(out);
}

beforeAll(async () => {
  work = tempDir('mr-s3-');
  local = join(work, 'local');
  server = await startS3Server();
  await createBucket(server.client, BUCKET);
  const tasks = ['--tasks', 'login,getUserProfile,createOrder,updateInventory,deleteOrder'];
  objects.set('billing/2025/api logs 01.log', readFileSync(REFERENCE));
  objects.set('billing/2025/rotated/api.log.1', await generate(['--lines', '30000', '--seed', '3', '--bad', '0.002', ...tasks], 'g1.log'));
  objects.set('billing/2025/rotated/api.log-20251201.gz', gzipSync(await generate(['--lines', '20000', '--seed', '4', ...tasks], 'g2.log')));
  objects.set('billing/2025/csv/export data.csv', await generate(['--lines', '15000', '--seed', '5', ...tasks], 'g3.csv'));
  objects.set('billing/2025/json/events.jsonl', await generate(['--lines', '20000', '--seed', '6', ...tasks], 'g4.jsonl'));
  objects.set('billing/2025/notes.md', Buffer.from('not a log\n'));
  objects.set('other/x.log', Buffer.from('2025-05-02T23:16:50Z someone login 200 5ms\n'));
  for (const [key, body] of objects) {
    await putObject(server.client, BUCKET, key, body);
    mkdirSync(dirname(join(local, key)), { recursive: true });
    writeFileSync(join(local, key), body);
  }
}, 240_000);

afterAll(async () => {
  await server?.stop();
  cleanupTempDirs();
});

interface Run extends CliResult {
  readonly out: string;
}

async function bill(paths: string[], args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const out = join(tempDir('mr-s3-out-'), 'billing.txt');
  const r = await runCli(['aggregate', ...paths, '--env-file', RATES, '--out', out, '--max-rejects', '5%', '--log-format', 'json', ...args], {
    cwd: work,
    env: { ...server.env, LOG_LEVEL: 'debug', ...env },
  });
  return { ...r, out };
}

/** Every output of a run, with the input paths' prefix replaced so that runs on other roots compare. */
function outputs(r: Run, prefix: string): Record<string, unknown> {
  const companion = (ext: string) => r.out.replace(/\.txt$/, ext);
  const summary = JSON.parse(readFileSync(companion('.summary.json'), 'utf8')) as Record<string, unknown>;
  return {
    bill: readFileSync(r.out, 'utf8'),
    detail: readFileSync(companion('.detail.csv'), 'utf8'),
    rejects: readFileSync(companion('.rejects.csv'), 'utf8').split(prefix).join('<root>'),
    counts: summaryCounts(summary),
    files: summary['files'],
    skipped: summary['skipped_files'],
    bytes: summary['bytes'],
  };
}

/** Nothing of the secret in what a run printed or wrote. */
/** What the driver's REST API shows of every application, by page: SQL executions with their plans, jobs, stages, environment. */
async function driverUiPages(ui: string): Promise<Map<string, string>> {
  const get = async (path: string) => {
    const res = await fetch(`${ui}/api/v1${path}`);
    expect(res.ok, `${path}: HTTP ${res.status}`).toBe(true);
    return res.text();
  };
  const apps = JSON.parse(await get('/applications')) as Array<{ id: string }>;
  expect(apps.length).toBeGreaterThan(0);
  const pages = new Map<string, string>();
  for (const { id } of apps) {
    for (const path of ['/sql?details=true&planDescription=true&offset=0&length=100000', '/jobs', '/stages', '/environment']) {
      pages.set(`/applications/${id}${path}`, await get(`/applications/${id}${path}`));
    }
  }
  return pages;
}

function expectNoSecret(r: Run): void {
  expect(r.stdout).not.toContain(TEST_SECRET);
  expect(r.stderr).not.toContain(TEST_SECRET);
  for (const f of listFiles(dirname(r.out))) expect(readFileSync(join(dirname(r.out), f), 'utf8')).not.toContain(TEST_SECRET);
}

function expectFailed(r: Run, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const errors = reportedErrors(r.stderr);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(message);
  expect(listFiles(dirname(r.out))).toEqual([]);
  expectNoSecret(r);
}

describe('s3:// inputs (moto server on 127.0.0.1)', () => {
  it('bills a prefix exactly as the same files on disk, naive and parallel (keys with spaces, rotated, gzip, CSV, JSON lines)', async () => {
    const expected = await bill([join(local, 'billing')], ['--engine', 'naive']);
    expect(expected.code, expected.stderr).toBe(0);
    const want = outputs(expected, join(local, 'billing'));
    expect(want.files).toBe(5);
    expect(want.skipped).toBe(1);
    expect((want.counts as { users: number }).users).toBeGreaterThanOrEqual(1000);
    // Shards of 64 KiB and of odd sizes cut objects anywhere, read through one stream per object or through three (segments
    // handed out in turn); tiny shards are covered by range-reader.test.ts and remote/object-feed.test.ts.
    const engines = [
      ['--engine', 'naive'],
      ['--engine', 'parallel', '--workers', '1'],
      ['--engine', 'parallel', '--workers', '2', '--shard-size', '65536'],
      ['--engine', 'parallel', '--workers', '2', '--shard-size', String(100_003)],
      ['--engine', 'parallel', '--workers', '2', '--shard-size', '4099', '--s3-streams', '3'],
    ];
    for (const engine of engines) {
      const r = await bill([`s3://${BUCKET}/billing`], [...engine, '--s3-endpoint', server.endpoint]);
      expect(r.code, `${engine.join(' ')}: ${r.stderr}`).toBe(0);
      expect(outputs(r, `s3://${BUCKET}/billing`), engine.join(' ')).toEqual(want);
      expectNoSecret(r);
    }
  }, 600_000);

  it('duplicate deliveries: objects with request ids and re-delivered batches bill as naive bills the files on disk, in every --dedupe mode', async () => {
    const tasks = ['--tasks', 'login,getUserProfile,createOrder,updateInventory,deleteOrder'];
    const dir = join(work, 'dedupe-local');
    const bodies = new Map<string, Buffer>([
      ['redelivered/events.jsonl', await generate(['--lines', '40000', '--seed', '11', '--format', 'jsonl', '--request-ids', '--redeliver', '0.05', '--conflicts', '0.01', ...tasks], 'd1.jsonl')],
      ['redelivered/api.log', await generate(['--lines', '40000', '--seed', '12', '--request-ids', '--redeliver', '0.05', ...tasks], 'd2.log')],
    ]);
    for (const [key, body] of bodies) {
      await putObject(server.client, BUCKET, key, body);
      mkdirSync(dirname(join(dir, key)), { recursive: true });
      writeFileSync(join(dir, key), body);
    }
    for (const mode of ['auto', 'line', 'off']) {
      const expected = await bill([join(dir, 'redelivered')], ['--engine', 'naive', '--dedupe', mode]);
      expect(expected.code, expected.stderr).toBe(0);
      const want = outputs(expected, join(dir, 'redelivered'));
      // Small shards through two streams per object: shuffle output from many tasks of each object.
      for (const engine of [['--engine', 'parallel', '--workers', '2'], ['--engine', 'parallel', '--workers', '2', '--shard-size', '200003', '--s3-streams', '2']]) {
        const r = await bill([`s3://${BUCKET}/redelivered`], [...engine, '--dedupe', mode, '--s3-endpoint', server.endpoint]);
        expect(r.code, `${mode} ${engine.join(' ')}: ${r.stderr}`).toBe(0);
        expect(outputs(r, `s3://${BUCKET}/redelivered`), `${mode} ${engine.join(' ')}`).toEqual(want);
      }
    }
  }, 300_000);

  it('s3a:// is s3://, the endpoint may come from AWS_ENDPOINT_URL, and --include/--exclude apply to the key below the prefix', async () => {
    const args = ['--include', '**/*.log*', '--exclude', 'rotated/*.gz'];
    const expected = await bill([join(local, 'billing', '2025')], ['--engine', 'naive', ...args]);
    expect(expected.code, expected.stderr).toBe(0);
    const want = outputs(expected, join(local, 'billing', '2025'));
    expect(want.files).toBe(2);
    for (const engine of [['--engine', 'naive'], ['--engine', 'parallel', '--workers', '2', '--shard-size', '65536']]) {
      const r = await bill([`s3a://${BUCKET}/billing/2025/`], [...engine, ...args], { AWS_ENDPOINT_URL: server.endpoint });
      expect(r.code, r.stderr).toBe(0);
      expect(outputs(r, `s3a://${BUCKET}/billing/2025`)).toEqual(want);
    }
  }, 120_000);

  it('an object named exactly is a file named as an argument (read whatever the globs say; a non-log name is exit 2)', async () => {
    const expected = await bill([REFERENCE], ['--engine', 'naive']);
    const r = await bill([`s3://${BUCKET}/billing/2025/api logs 01.log`], ['--engine', 'parallel', '--workers', '2', '--s3-endpoint', server.endpoint]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(r.out, 'utf8')).toBe(readFileSync(expected.out, 'utf8'));
    const md = await bill([`s3://${BUCKET}/billing/2025/notes.md`], ['--s3-endpoint', server.endpoint]);
    expect(md.code).toBe(2);
    expect(reportedErrors(md.stderr)[0]).toMatch(/unknown input format/);
  }, 60_000);

  it('a missing bucket, a missing key and a prefix naming nothing are exit 1 with no bill, even with --allow-empty', async () => {
    await putObject(server.client, BUCKET, 'markers-only/', '');
    await putObject(server.client, BUCKET, 'markers-only/2025/', '');
    for (const engine of [['--engine', 'naive'], ['--engine', 'parallel']]) {
      expectFailed(await bill(['s3://no-such-bucket/logs/'], [...engine, '--s3-endpoint', server.endpoint]), /s3:\/\/no-such-bucket\/logs\/.*no such bucket/);
      expectFailed(await bill([`s3://${BUCKET}/billing/2025/nope.log`], [...engine, '--s3-endpoint', server.endpoint]), /nope\.log: no such key or prefix/);
      for (const url of [`s3://${BUCKET}/empty`, `s3://${BUCKET}/empty/`]) {
        for (const allow of [[], ['--allow-empty']]) {
          expectFailed(await bill([url], [...engine, ...allow, '--s3-endpoint', server.endpoint]), /empty\/?: no such key or prefix/);
        }
      }
      // Folder markers alone are an empty directory: no input files, or an empty bill with --allow-empty.
      expectFailed(await bill([`s3://${BUCKET}/markers-only/`], [...engine, '--s3-endpoint', server.endpoint]), /no input files found/);
      const r = await bill([`s3://${BUCKET}/markers-only`], [...engine, '--allow-empty', '--s3-endpoint', server.endpoint]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(r.out, 'utf8')).toBe('');
    }
  }, 60_000);

  it('--wrapped objects with pipeline keys (no extension, gzip told by its bytes) bill like their bare lines', async () => {
    const expected = await bill([REFERENCE], ['--engine', 'naive']);
    const lines = readFileSync(REFERENCE, 'utf8').split('\n').filter((l) => l !== '');
    const wrap = (ls: string[]) => ls.map((l, i) => JSON.stringify({ date: 1746227810 + i, log: l })).join('\n') + '\n';
    await putObject(server.client, BUCKET, 'fluent/2025/05/02/23/16/50-objectIdx', wrap(lines.slice(0, 4000)));
    await putObject(server.client, BUCKET, 'fluent/2025/05/02/23/17/000000.gz', gzipSync(wrap(lines.slice(4000))));
    for (const engine of [['--engine', 'naive'], ['--engine', 'parallel', '--workers', '2', '--shard-size', '65536']]) {
      const r = await bill([`s3://${BUCKET}/fluent/`], [...engine, '--wrapped', 'fluent-bit', '--s3-endpoint', server.endpoint]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(r.out, 'utf8')).toBe(readFileSync(expected.out, 'utf8'));
    }
  }, 60_000);

  it('an object replaced or removed after its listing fails the check for reads not pinned to the ETag (the spark engine\'s); an unchanged one passes', async () => {
    await putObject(server.client, BUCKET, 'changing/a.log', '2025-05-02T10:00:00Z u1 login 200 5ms\n');
    await putObject(server.client, BUCKET, 'changing/b.log', '2025-05-02T10:00:00Z u2 login 200 5ms\n');
    const settings = { region: 'us-east-1', endpoint: server.endpoint };
    const saved = { ...process.env };
    Object.assign(process.env, server.env);
    try {
      const listed = await listS3(`s3://${BUCKET}/changing/`, settings);
      if (!('objects' in listed)) throw new Error('a prefix lists as a folder');
      const [a, b] = listed.objects.map((o) => ({ ...settings, bucket: BUCKET, key: o.key, size: o.size, ...(o.etag === undefined ? {} : { etag: o.etag }) }));
      await checkObjectUnchanged(a!, 's3://x/changing/a.log');
      // Same size, other bytes: only the ETag tells.
      await putObject(server.client, BUCKET, 'changing/a.log', '2025-05-02T10:00:00Z u9 login 200 5ms\n');
      await expect(checkObjectUnchanged(a!, 's3://x/changing/a.log')).rejects.toThrow(/^input s3:\/\/x\/changing\/a\.log changed while it was read \(its ETag no longer matches\)/);
      await deleteObject(server.client, BUCKET, 'changing/b.log');
      await expect(checkObjectUnchanged(b!, 's3://x/changing/b.log')).rejects.toThrow(/changed while it was read \(it is gone\)/);
    } finally {
      for (const k of Object.keys(server.env)) if (saved[k] === undefined) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('a prefix of many objects: each object\'s reader takes its listener off the run\'s signal again (no MaxListenersExceededWarning past 10 objects)', async () => {
    for (let i = 0; i < 14; i++) await putObject(server.client, BUCKET, `many/part-${String(i).padStart(2, '0')}.log`, `2025-05-02T10:00:00Z m${i} login 200 5ms\n`);
    for (const engine of [['--engine', 'naive'], ['--engine', 'parallel', '--workers', '2']]) {
      const r = await bill([`s3://${BUCKET}/many/`], [...engine, '--s3-endpoint', server.endpoint]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(r.out, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(14);
      expect(r.stderr, engine.join(' ')).not.toMatch(/MaxListeners|Warning/);
    }
  }, 120_000);

  it('--s3-endpoint without an s3:// path, or not an http(s) URL, is exit 2', async () => {
    const a = await bill([REFERENCE], ['--s3-endpoint', server.endpoint]);
    expect(a.code).toBe(2);
    expect(reportedErrors(a.stderr)[0]).toMatch(/--s3-endpoint applies to s3:\/\//);
    const b = await bill([`s3://${BUCKET}/billing`], ['--s3-endpoint', 'ftp://127.0.0.1:1']);
    expect(b.code).toBe(2);
  });

  it('a server that drops the connection mid-object: retried and billed exactly when it recovers, exit 1 and no bill when it never does (objects below and above DIRECT_FROM_BYTES: both transports)', async () => {
    const small = 'billing/2025/api logs 01.log';
    const large = 'billing/2025/rotated/api.log.1';
    expect(statSync(REFERENCE).size).toBeLessThan(DIRECT_FROM_BYTES);
    expect(objects.get(large)!.length).toBeGreaterThan(DIRECT_FROM_BYTES);
    const rotated = join(tempDir('mr-s3-large-'), 'api.log.1');
    writeFileSync(rotated, objects.get(large)!);
    for (const [key, local] of [
      [small, REFERENCE],
      [large, rotated],
    ] as const) {
      const expected = await bill([local], ['--engine', 'naive']);
      expect(expected.code, expected.stderr).toBe(0);
      // Shards of 400 kB: a read needs more connections than S3_ATTEMPTS when each is cut after 50 kB (a reader's failures count until 1 MiB arrives between them).
      for (const engine of [['--engine', 'naive'], ['--engine', 'parallel', '--workers', '2', '--shard-size', '400000']]) {
        const flaky = await droppingProxy(server.port, 50_000, 2);
        try {
          const r = await bill([`s3://${BUCKET}/${key}`], [...engine, '--s3-endpoint', flaky.endpoint]);
          expect(r.code, r.stderr).toBe(0);
          expect(flaky.drops()).toBe(2);
          expect(readFileSync(r.out, 'utf8')).toBe(readFileSync(expected.out, 'utf8'));
        } finally {
          await flaky.stop();
        }
        const broken = await droppingProxy(server.port, 50_000, Infinity);
        try {
          const r = await bill([`s3://${BUCKET}/${key}`], [...engine, '--s3-endpoint', broken.endpoint]);
          expectFailed(r, new RegExp(`cannot read s3://mr-logs/${key.replace(/[.]/g, '\\.')}: .*(connection|range).*after 6 attempts`));
          expect(broken.drops()).toBeGreaterThanOrEqual(6);
        } finally {
          await broken.stop();
        }
      }
    }
  }, 300_000);

  it('a store that ignores Range (the whole object for every ranged GET): whole-object reads bill exactly; a second stream of an object exits 1 with no bill, never the first bytes billed again', async () => {
    const expected = await bill([REFERENCE], ['--engine', 'naive']);
    const key = `s3://${BUCKET}/billing/2025/api logs 01.log`;
    const proxy = await rangeIgnoringProxy(server.port);
    try {
      const whole = await bill([key], ['--engine', 'naive', '--s3-endpoint', proxy.endpoint]);
      expect(whole.code, whole.stderr).toBe(0);
      expect(readFileSync(whole.out, 'utf8')).toBe(readFileSync(expected.out, 'utf8'));
      // One stream per object (the default) asks for the whole object, however finely it is sharded.
      const oneStream = await bill([key], ['--engine', 'parallel', '--workers', '2', '--shard-size', '40000', '--s3-endpoint', proxy.endpoint]);
      expect(oneStream.code, oneStream.stderr).toBe(0);
      expect(readFileSync(oneStream.out, 'utf8')).toBe(readFileSync(expected.out, 'utf8'));
      const sharded = await bill([key], ['--engine', 'parallel', '--workers', '2', '--shard-size', '40000', '--s3-streams', '2', '--s3-endpoint', proxy.endpoint]);
      expectFailed(sharded, /cannot read s3:\/\/mr-logs\/billing\/2025\/api logs 01\.log: the store answered a ranged read with other bytes \(asked for bytes \d+-\d+, got no Content-Range\)/);
    } finally {
      await proxy.stop();
    }
  }, 120_000);
});

describe('s3:// inputs with the spark engine (the cluster reads s3a:// through Hadoop S3A)', () => {
  const sc = useTestCluster();

  it('bills a prefix exactly as naive bills the same files on disk, and the secret is in no output nor in the cluster logs', async () => {
    const expected = await bill([join(local, 'billing')], ['--engine', 'naive']);
    expect(expected.code, expected.stderr).toBe(0);
    const want = outputs(expected, join(local, 'billing'));
    const r = await bill([`s3://${BUCKET}/billing`], ['--engine', 'spark', '--remote', sc.cluster.remote, '--s3-endpoint', server.endpoint]);
    expect(r.code, r.stderr).toBe(0);
    const got = outputs(r, `s3://${BUCKET}/billing`);
    // The cluster leaves the offsets of rejected lines empty (SPEC "Output").
    const noOffsets = (csv: unknown) => (csv as string).replace(/^([^\n]*?),\d*,/gm, '$1,,');
    expect({ ...got, rejects: noOffsets(got.rejects) }).toEqual({ ...want, rejects: noOffsets(want.rejects) });
    expectNoSecret(r);
    const runDir = process.env['MR_SPARK_RUN_DIR'] || join(mrCacheDir(), 'spark-run');
    for (const f of listFiles(runDir).filter((n) => /\.(log|out)$|stderr|stdout/.test(n))) {
      expect(readFileSync(join(runDir, f), 'utf8'), f).not.toContain(TEST_SECRET);
    }
    // Nor in the driver's web UI: its SQL tab shows each execution's plan (a SQL SET
    // statement's with its value), its jobs tab their descriptions.
    if (sc.cluster.driverUiUrl !== undefined) {
      const ui = await driverUiPages(sc.cluster.driverUiUrl);
      // This run's reads are there, under the scheme of its session's own S3A settings (README decision 29).
      expect([...ui.values()].some((text) => new RegExp(`mrs3a-[0-9a-f]{16}://${BUCKET}/billing/`).test(text))).toBe(true);
      for (const [page, text] of ui) expect(text.includes(TEST_SECRET), `the secret key on ${page}`).toBe(false);
    }
  }, 300_000);

  it('two stores with the same bucket and keys: each run reads its own store, whichever ran before (no S3A instance serves another endpoint)', async () => {
    const other = await startS3Server();
    try {
      await createBucket(other.client, BUCKET);
      const line = (user: string) => `2025-05-02T10:00:00Z ${user} login 200 100ms\n`;
      await putObject(server.client, BUCKET, 'twins/a.log', line('first-store'));
      await putObject(other.client, BUCKET, 'twins/a.log', line('second-store'));
      const billOf = async (endpoint: string) => {
        const r = await bill([`s3://${BUCKET}/twins/`], ['--engine', 'spark', '--remote', sc.cluster.remote, '--s3-endpoint', endpoint]);
        expect(r.code, r.stderr).toBe(0);
        return readFileSync(r.out, 'utf8');
      };
      const first = 'first-store: total_duration=100ms, total_cost=0.50\n';
      const second = 'second-store: total_duration=100ms, total_cost=0.50\n';
      expect(await billOf(server.endpoint)).toBe(first);
      expect(await billOf(other.endpoint)).toBe(second);
      expect(await billOf(server.endpoint)).toBe(first);
      expect(await billOf(other.endpoint)).toBe(second);
    } finally {
      await other.stop();
    }
  }, 300_000);

  it('keys that look percent-encoded, or hold # or ?, are each their own file: the bill, duplicates and rejects as naive\'s from the store', async () => {
    const row = (user: string, ms: number, id: string) => `{"timestamp":"2025-05-02T10:00:00Z","user":"${user}","task":"login","status":200,"duration_ms":${ms},"request_id":"${id}"}\n`;
    const filler = Array.from({ length: 60 }, (_, i) => row('filler', 10, `f${i}`)).join('');
    // By path order (UTF-8 bytes: ' ' before '%' before 'a'), `api log.jsonl` holds the record and its twin the duplicate.
    await putObject(server.client, BUCKET, 'encoded/api log.jsonl', row('correct', 1000, 'R'));
    await putObject(server.client, BUCKET, 'encoded/api%20log.jsonl', filler + row('wrong', 9000, 'R'));
    await putObject(server.client, BUCKET, 'encoded/a#b.log', '2025-05-02T10:00:00Z hash login 200 7ms\nBADLINE in the hash file\n');
    await putObject(server.client, BUCKET, 'encoded/a%23b.log', 'BADLINE in the encoded twin\n2025-05-02T10:00:00Z twin login 200 3ms\n');
    await putObject(server.client, BUCKET, 'encoded/q?x.jsonl', row('question', 4, 'Q'));
    const args = ['--s3-endpoint', server.endpoint];
    const expected = await bill([`s3://${BUCKET}/encoded/`], ['--engine', 'naive', ...args]);
    expect(expected.code, expected.stderr).toBe(0);
    const want = outputs(expected, `s3://${BUCKET}/encoded`);
    expect(want.bill).toMatch(/^correct: total_duration=1000ms/m);
    expect(want.bill).not.toMatch(/wrong/);
    const r = await bill([`s3://${BUCKET}/encoded/`], ['--engine', 'spark', '--remote', sc.cluster.remote, ...args]);
    expect(r.code, r.stderr).toBe(0);
    const got = outputs(r, `s3://${BUCKET}/encoded`);
    const noOffsets = (csv: unknown) => (csv as string).replace(/^([^\n]*?),\d*,/gm, '$1,,');
    expect({ ...got, rejects: noOffsets(got.rejects) }).toEqual({ ...want, rejects: noOffsets(want.rejects) });
  }, 300_000);

  it('a key that other keys lie under (a.log beside a.log/b.log) is refused (exit 2, nothing read): S3A would read the folder in its place', async () => {
    await putObject(server.client, BUCKET, 'folded/a.log', '2025-05-02T10:00:00Z fileA login 200 1000ms\n');
    await putObject(server.client, BUCKET, 'folded/a.log/b.log', '2025-05-02T10:00:00Z underA login 200 2000ms\n');
    const args = ['--s3-endpoint', server.endpoint];
    const naive = await bill([`s3://${BUCKET}/folded`], ['--engine', 'naive', ...args]);
    expect(naive.code, naive.stderr).toBe(0);
    expect(readFileSync(naive.out, 'utf8')).toMatch(/^fileA: .*\nunderA: /);
    const r = await bill([`s3://${BUCKET}/folded`], ['--engine', 'spark', '--remote', sc.cluster.remote, ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(reportedErrors(r.stderr)).toEqual([
      `the spark engine cannot read s3://${BUCKET}/folded/a.log: other keys lie under folded/a.log/, so Hadoop reads it as that folder, not as the object; rename it, or bill it with the parallel or naive engine`,
    ]);
    expect(listFiles(dirname(r.out))).toEqual([]);
  }, 300_000);

  it('--wrapped objects with pipeline keys (no extension; gzip named .gz) bill exactly as naive bills them from the store', async () => {
    const lines = readFileSync(REFERENCE, 'utf8').split('\n').filter((l) => l !== '');
    const wrap = (ls: string[]) => ls.map((l, i) => `${new Date(Date.UTC(2025, 4, 3, 0, 0, i % 60)).toISOString()} ${l}`).join('\n') + '\n';
    await putObject(server.client, BUCKET, 'cloudwatch/exportTask/log stream/000000', wrap(lines.slice(0, 4000)) + '2025-02-30T00:00:00Z x\nnot a wrapper\n');
    await putObject(server.client, BUCKET, 'cloudwatch/exportTask/log stream/000001.gz', gzipSync(wrap(lines.slice(4000))));
    const args = ['--wrapped', 'cloudwatch', '--s3-endpoint', server.endpoint];
    const expected = await bill([`s3://${BUCKET}/cloudwatch/`], ['--engine', 'naive', ...args]);
    expect(expected.code, expected.stderr).toBe(0);
    const want = outputs(expected, `s3://${BUCKET}/cloudwatch`);
    expect(want.files).toBe(2);
    expect((want.counts as { rejected: Record<string, number> }).rejected['bad_wrapper']).toBe(2);
    const r = await bill([`s3://${BUCKET}/cloudwatch/`], ['--engine', 'spark', '--remote', sc.cluster.remote, ...args]);
    expect(r.code, r.stderr).toBe(0);
    const got = outputs(r, `s3://${BUCKET}/cloudwatch`);
    const noOffsets = (csv: unknown) => (csv as string).replace(/^([^\n]*?),\d*,/gm, '$1,,');
    expect({ ...got, rejects: noOffsets(got.rejects) }).toEqual({ ...want, rejects: noOffsets(want.rejects) });
    expectNoSecret(r);
  }, 300_000);
});

describe('s3:// access control (moto with IAM authentication on)', () => {
  let auth: S3Server;
  let user: { id: string; secret: string };

  beforeAll(async () => {
    auth = await startS3Server();
    await createBucket(auth.client, 'locked');
    await putObject(auth.client, 'locked', 'logs/a.log', readFileSync(REFERENCE));
    // A user who may list the bucket but not read its objects.
    const iam = new IAMClient({ region: 'us-east-1', endpoint: auth.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    await iam.send(new CreateUserCommand({ UserName: 'lister' }));
    const key = await iam.send(new CreateAccessKeyCommand({ UserName: 'lister' }));
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::locked'] }] };
    await iam.send(new PutUserPolicyCommand({ UserName: 'lister', PolicyName: 'list-only', PolicyDocument: JSON.stringify(policy) }));
    user = { id: key.AccessKey!.AccessKeyId!, secret: key.AccessKey!.SecretAccessKey! };
    iam.destroy();
    // From now on every request is authenticated and authorised against IAM.
    await auth.motoApi('/moto-api/reset-auth', '0');
  }, 120_000);

  afterAll(async () => {
    await auth?.stop();
  });

  it('denied access to the objects is exit 1 and no bill; a wrong secret or an unknown key id too, and no secret is printed', async () => {
    const as = (id: string, secret: string) => ({ AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret });
    for (const engine of [['--engine', 'naive'], ['--engine', 'parallel']]) {
      const denied = await bill(['s3://locked/logs/'], [...engine, '--s3-endpoint', auth.endpoint], as(user.id, user.secret));
      expectFailed(denied, /cannot read s3:\/\/locked\/logs\/a\.log: access denied/);
      expect(denied.stderr).not.toContain(user.secret);
      const wrong = await bill(['s3://locked/logs/'], [...engine, '--s3-endpoint', auth.endpoint], as(user.id, TEST_SECRET));
      expectFailed(wrong, /s3:\/\/locked\/logs\/.*signature does not match/);
      const unknown = await bill(['s3://locked/logs/'], [...engine, '--s3-endpoint', auth.endpoint], as('AKIANOSUCHKEY0000000', TEST_SECRET));
      expectFailed(unknown, /does not know the access key id/);
    }
  }, 120_000);

  it('the secret from --env-file is used and never printed either', async () => {
    const envFile = join(tempDir('mr-s3-env-'), 'aws.env');
    writeFileSync(envFile, `${readFileSync(RATES, 'utf8')}\nAWS_ACCESS_KEY_ID=${user.id}\nAWS_SECRET_ACCESS_KEY=${TEST_SECRET}\n`);
    const out = join(tempDir('mr-s3-out-'), 'billing.txt');
    const r = await runCli(['aggregate', 's3://locked/logs/', '--env-file', envFile, '--out', out, '--s3-endpoint', auth.endpoint], { cwd: work, env: { LOG_LEVEL: 'debug' } });
    expectFailed({ ...r, out }, /signature does not match/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});

describe('s3:// inputs on a store that ignores If-Match (gofakes3 on 127.0.0.1)', () => {
  let store: S3Server | undefined;
  beforeAll(async () => {
    store = await startS3Server('gofakes3');
    await createBucket(store.client, 'ifmatch');
  }, 600_000);
  afterAll(async () => store?.stop());

  it('objects put with a checksum (the SDK\'s default) are read in ranges, several streams each, and billed exactly', async () => {
    const s = store!;
    const body = Array.from({ length: 200 }, (_, i) => `2025-05-02T10:00:00Z c${i % 7} login 200 ${i}ms\n`).join('');
    // As the SDKs' defaults put it (the fixtures' client puts without one): the store then answers every ranged GET with the whole object's CRC32.
    await s.client.send(new PutObjectCommand({ Bucket: 'ifmatch', Key: 'sum/a.log', Body: body, ChecksumAlgorithm: 'CRC32' }));
    const dir = tempDir('mr-s3-sum-');
    writeFileSync(join(dir, 'a.log'), body);
    const local = await runCli(['aggregate', 'a.log', '--env-file', RATES, '--engine', 'naive', '--out', 'local/billing.txt'], { cwd: dir });
    expect(local.code, local.stderr).toBe(0);
    const r = await runCli(['aggregate', 's3://ifmatch/sum/', '--env-file', RATES, '--s3-endpoint', s.endpoint, '--engine', 'parallel', '--workers', '2', '--s3-streams', '2', '--shard-size', '1000', '--out', 'store/billing.txt'], {
      cwd: dir,
      env: s.env,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'store/billing.txt'), 'utf8')).toBe(readFileSync(join(dir, 'local/billing.txt'), 'utf8'));
  }, 60_000);

  it('an object rewritten after its listing fails the read, same size (another ETag) or not (another size): never the new bytes billed', async () => {
    const s = store!;
    const line = (user: string) => `2025-05-02T10:00:00Z ${user} login 200 5ms\n`;
    await putObject(s.client, 'ifmatch', 'w/same.log', line('u1').repeat(50));
    await putObject(s.client, 'ifmatch', 'w/shorter.log', line('u1').repeat(50));
    const settings = { region: 'us-east-1', endpoint: s.endpoint };
    const saved = { ...process.env };
    Object.assign(process.env, s.env);
    try {
      const listed = await listS3('s3://ifmatch/w/', settings);
      if (!('objects' in listed)) throw new Error('a prefix lists as a folder');
      const objects = listed.objects.map((o) => ({ ...settings, bucket: 'ifmatch', key: o.key, size: o.size, ...(o.etag === undefined ? {} : { etag: o.etag }) }));
      expect(objects.map((o) => [o.key, o.etag !== undefined])).toEqual([['w/same.log', true], ['w/shorter.log', true]]);
      // The store answers an If-Match that no longer holds with the new bytes (200), as this one does.
      await putObject(s.client, 'ifmatch', 'w/same.log', line('u2').repeat(50));
      await putObject(s.client, 'ifmatch', 'w/shorter.log', line('u2').repeat(20));
      for (const o of objects) {
        const reader = new S3RangeReader(o, `s3://ifmatch/${o.key}`);
        const err = await reader.readAt(Buffer.alloc(o.size), 0, o.size, 0).catch((e: unknown) => e);
        reader.close();
        expect(err, o.key).toBeInstanceOf(InputError);
        expect((err as Error).message).toBe(`cannot read s3://ifmatch/${o.key}: the object changed while it was read (its ETag no longer matches); nothing was written: run again once it is complete`);
      }
    } finally {
      for (const k of Object.keys(s.env)) if (saved[k] === undefined) delete process.env[k];
      Object.assign(process.env, saved);
    }
  }, 60_000);
});
