/**
 * The client against a real Spark Connect server: sessions, SQL with parameters, Arrow
 * results, DataFrame reads, interrupts (abort, by operation, by tag), streamed results,
 * errors with Spark's error classes, and reattach after a dropped connection (a real TCP
 * cut between client and server, through a proxy).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SparkConnectClient, type ExecutionProgress } from '../../src/client.js';
import { SparkAnalysisError, SparkConnectionError, SparkError, SparkInterruptedError } from '../../src/errors.js';
import { createTempView, filter, project, readFiles, registerJavaFunction, sql, table } from '../../src/plan.js';
import { parseRemote } from '../../src/remote.js';
import { utf8Text } from '../../src/text.js';
import { startProxy, type CuttingProxy } from './proxy.js';
import { sparkHome, testRemote } from './server.js';

/** A query that runs for minutes unless interrupted. */
// No overflow anywhere in the range (ANSI mode would end the query with an error before the interrupt).
const SLOW = 'SELECT sum(id % 7) AS s FROM range(0, 100000000000, 1, 4)';

let client: SparkConnectClient;
let dir: string;

beforeAll(async () => {
  client = new SparkConnectClient({ remote: testRemote() });
  await client.connect();
  dir = mkdtempSync(join(tmpdir(), 'spark-connect-test-'));
}, 120_000);

afterAll(async () => {
  await client?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('queries', () => {
  it('decodes Arrow results of several types, with bound parameters', async () => {
    const t = await client.sql("SELECT :s AS s, :n AS n, CAST(:n AS DOUBLE) / 4 AS d, X'00FF' AS b, :big AS big, :yes AS yes", {
      s: 'hé 😀',
      n: 42,
      big: 2n ** 60n,
      yes: true,
    });
    const row = t!.get(0)!.toJSON();
    expect(row['s']).toBe('hé 😀');
    expect(row['n']).toBe(42);
    expect(row['d']).toBe(10.5);
    expect(Array.from(row['b'] as Uint8Array)).toEqual([0, 255]);
    expect(row['big']).toBe(2n ** 60n);
    expect(row['yes']).toBe(true);
  });

  it('utf8Text keeps a leading U+FEFF that Arrow’s string reader drops', async () => {
    const t = await client.sql('SELECT :s AS s, CAST(:s AS BINARY) AS b', { s: '\uFEFFbob' });
    const row = t!.get(0)!.toJSON();
    // Arrow's default TextDecoder swallows the leading byte order mark: why ids are read as bytes.
    expect(row['s']).toBe('bob');
    expect(utf8Text(row['b'] as Uint8Array)).toBe('\uFEFFbob');
    expect(utf8Text(new TextEncoder().encode('\uFEFF\uFEFFx'))).toBe('\uFEFF\uFEFFx');
    expect(() => utf8Text(Uint8Array.of(0xff))).toThrow();
  });

  it('reads files as DataFrames, projects and filters them, and reads views by name', async () => {
    const csv = join(dir, 'people.csv');
    writeFileSync(csv, 'name,age\nana,31\nbo,17\ncy,45\n');
    const adults = filter(project(readFiles('csv', [csv], { header: 'true', inferSchema: 'true' }), ['name', 'age * 2 AS double_age']), 'double_age >= 36');
    await client.command(createTempView('adults', adults));
    const t = await client.collect(table('adults'));
    expect(t!.toArray().map((r) => r.toJSON())).toEqual([
      { name: 'ana', double_age: 62 },
      { name: 'cy', double_age: 90 },
    ]);
  });

  it('streams a large result batch by batch, every row once', async () => {
    let rows = 0;
    let sum = 0n;
    let batches = 0;
    for await (const b of client.stream(sql('SELECT id FROM range(0, 3000000, 1, 6)'))) {
      batches++;
      rows += b.numRows;
      const ids = b.getChild('id')!;
      for (let i = 0; i < b.numRows; i++) sum += ids.get(i) as bigint;
    }
    expect(rows).toBe(3_000_000);
    expect(sum).toBe((3_000_000n * 2_999_999n) / 2n);
    expect(batches).toBeGreaterThan(1);
  });

  it('hands the server\'s progress reports of a running operation to onProgress, not to the results', async () => {
    const c = new SparkConnectClient({ remote: testRemote() });
    try {
      await c.setConf({ 'spark.connect.progress.reportInterval': '100ms' });
      const reports: ExecutionProgress[] = [];
      const t = await c.sql("SELECT count(*) AS n FROM (SELECT reflect('java.lang.Thread', 'sleep', CAST(500 AS BIGINT)) AS s FROM range(0, 4, 1, 4)) WHERE s IS NULL OR s IS NOT NULL", {}, {
        onProgress: (p) => reports.push(p),
      });
      expect(Number(t!.getChildAt(0)!.get(0))).toBe(4);
      expect(t!.numRows).toBe(1);
      // Reports of the query's stage: 4 tasks, those done counted as they end.
      const stages = reports.flatMap((r) => r.stages).filter((s) => s.tasks === 4);
      expect(stages.length).toBeGreaterThan(0);
      for (const s of stages) expect(s.completedTasks).toBeLessThanOrEqual(4);
      expect(reports.some((r) => r.inflightTasks > 0)).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('stopping a stream early leaves the session usable', async () => {
    for await (const b of client.stream(sql('SELECT id FROM range(0, 100000000, 1, 4)'))) {
      expect(b.numRows).toBeGreaterThan(0);
      break;
    }
    expect((await client.sql('SELECT 2 AS two'))!.get(0)!.toJSON()['two']).toBe(2);
  });
});

describe('artifacts and Java functions', () => {
  it('a jar added to the session (in chunks) gives a Java function registered afterwards, run by the executors', async () => {
    // A UDF1 compiled here with the JDK against the distribution's jars, in a jar padded past one chunk.
    const src = join(dir, 'src', 'mrtest');
    mkdirSync(src, { recursive: true });
    writeFileSync(
      join(src, 'Twice.java'),
      'package mrtest;\npublic final class Twice implements org.apache.spark.sql.api.java.UDF1<Long, Long> {\n  public Long call(Long x) { return x == null ? null : 2 * x; }\n}\n',
    );
    const classes = join(dir, 'classes');
    execFileSync('javac', ['--release', '17', '-nowarn', '-cp', join(sparkHome(), 'jars', '*'), '-d', classes, join(src, 'Twice.java')]);
    writeFileSync(join(classes, 'padding.bin'), randomBytes(100 * 1024));
    const jar = join(dir, 'twice.jar');
    execFileSync('jar', ['cf0', jar, '-C', classes, '.']);
    const data = readFileSync(jar);
    expect(data.length).toBeGreaterThan(64 * 1024);

    const before = await client.command(registerJavaFunction('mr_test_twice', 'mrtest.Twice', 'bigint')).catch((e: unknown) => e);
    expect(before).toBeInstanceOf(SparkError);
    await client.addArtifacts([{ name: 'jars/mr-test-twice.jar', data }]);
    await client.command(registerJavaFunction('mr_test_twice', 'mrtest.Twice', 'bigint'));
    const t = await client.sql('SELECT sum(mr_test_twice(id)) AS s, count(*) AS n FROM range(0, 1000, 1, 4)');
    expect(Number(t?.getChildAt(0)?.get(0))).toBe(999_000);
    expect(Number(t?.getChildAt(1)?.get(0))).toBe(1000);

    // Another session does not see the jar.
    const other = new SparkConnectClient({ remote: testRemote() });
    try {
      const err = await other.command(registerJavaFunction('mr_test_twice', 'mrtest.Twice', 'bigint')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SparkError);
    } finally {
      await other.close();
    }
  });
});

describe('sessions', () => {
  it('keeps each client’s temporary views to its own session', async () => {
    await client.command(createTempView('mine', sql('SELECT 1 AS x')));
    const other = new SparkConnectClient({ remote: testRemote() });
    try {
      expect(other.sessionId).not.toBe(client.sessionId);
      const err = await other.collect(table('mine')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SparkAnalysisError);
      expect((err as SparkAnalysisError).errorClass).toBe('TABLE_OR_VIEW_NOT_FOUND');
      expect((await client.collect(table('mine')))!.get(0)!.toJSON()['x']).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('setConf sets session settings in one Config call, which queries then follow; getConf reads them; other sessions keep theirs', async () => {
    const other = new SparkConnectClient({ remote: testRemote() });
    try {
      await client.setConf({ 'spark.sql.ansi.enabled': 'true', 'mr.test.key': 'a=b; c' });
      const strict = await client.sql("SELECT CAST('x' AS INT) AS v").catch((e: unknown) => e);
      expect(strict).toBeInstanceOf(SparkError);
      await client.setConf({ 'spark.sql.ansi.enabled': 'false' });
      expect((await client.sql("SELECT CAST('x' AS INT) AS v"))!.get(0)!.toJSON()['v']).toBeNull();
      expect(await client.getConf(['spark.sql.ansi.enabled', 'mr.test.key'])).toEqual({ 'spark.sql.ansi.enabled': 'false', 'mr.test.key': 'a=b; c' });
      await other.setConf({ 'mr.test.key': 'other' });
      expect(await other.getConf(['mr.test.key'])).toEqual({ 'mr.test.key': 'other' });
      expect(await client.getConf(['mr.test.key'])).toEqual({ 'mr.test.key': 'a=b; c' });
    } finally {
      await other.close();
    }
  });
});

describe('errors', () => {
  it('carries Spark’s error class, SQLSTATE and message parameters, in one line', async () => {
    const err = await client.sql('SELECT no_such_column FROM range(1)').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparkAnalysisError);
    const e = err as SparkAnalysisError;
    expect(e.errorClass).toMatch(/^UNRESOLVED_COLUMN/);
    expect(e.sqlState).toBe('42703');
    expect(e.messageParameters['objectName']).toContain('no_such_column');
    expect(e.message).toContain('no_such_column');
    expect(e.message).not.toContain('\n');
  });

  it('registering a Java function whose class the cluster lacks is a Spark error naming the class; the session goes on', async () => {
    const err = await client.command(registerJavaFunction('mr_no_such_fn', 'no.such.JavaUdf', 'string')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparkError);
    expect(err).not.toBeInstanceOf(SparkConnectionError);
    expect((err as Error).message).toContain('no.such.JavaUdf');
    const t = await client.sql('SELECT 1 AS one');
    expect(Number(t?.getChildAt(0)?.get(0))).toBe(1);
  });

  it('a failed operation carries its cause chain from the server: a truncated gzip read ends in the decompressor\'s EOFException', async () => {
    const file = join(dir, 'cut.txt.gz');
    writeFileSync(file, gzipSync(Buffer.from('a line of text\n'.repeat(100_000))).subarray(0, 2000));
    const err = await client.collect(readFiles('text', [file], {})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparkError);
    const e = err as SparkError;
    expect(e.errorClass).toMatch(/^FAILED_READ_FILE/);
    expect(e.errorId).toMatch(/^[0-9a-f-]{36}$/);
    // The chain runs from the failure reported down to its deepest cause.
    expect(e.causes.length, JSON.stringify(e.causes)).toBeGreaterThanOrEqual(2);
    expect(e.causes[0]!.message).toContain('cut.txt.gz');
    expect(e.causes[0]!.classes).toContain('java.lang.Throwable');
    const deepest = e.causes[e.causes.length - 1]!;
    expect(deepest.classes[0]).toBe('java.io.EOFException');
    expect(deepest.message).toBe('Unexpected end of input stream');
    // The session goes on.
    const t = await client.sql('SELECT 1 AS one');
    expect(Number(t?.getChildAt(0)?.get(0))).toBe(1);
  });

  it('a parse error is an analysis error with its class', async () => {
    const err = await client.sql('SELEC 1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparkAnalysisError);
    expect((err as SparkAnalysisError).errorClass).toBe('PARSE_SYNTAX_ERROR');
  });

  it('fails within seconds when nothing listens, naming the address without its token', async () => {
    const started = Date.now();
    const nobody = new SparkConnectClient({ remote: 'sc://127.0.0.1:1', connectTimeoutMs: 2000 });
    const err = await nobody.sql('SELECT 1').catch((e: unknown) => e);
    await nobody.close();
    expect(err).toBeInstanceOf(SparkConnectionError);
    expect((err as Error).message).toBe('cannot reach the Spark Connect server at sc://127.0.0.1:1 (no answer within 2000 ms)');
    const withToken = new SparkConnectClient({ remote: 'sc://127.0.0.1:1/;token=s3cr3t', connectTimeoutMs: 500 });
    const hidden = await withToken.connect().catch((e: unknown) => e);
    await withToken.close();
    expect((hidden as Error).message).toContain('token=[REDACTED]');
    expect((hidden as Error).message).not.toContain('s3cr3t');
    expect(Date.now() - started).toBeLessThan(6000);
  });
});

describe('interrupts', () => {
  it('an abort signal interrupts the running query and keeps the session usable', async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(new Error('Ctrl-C')), 1500);
    const err = await client.sql(SLOW, {}, { signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparkInterruptedError);
    expect((err as Error).message).toBe('Spark operation interrupted: Ctrl-C');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await client.sql('SELECT 1 AS one'))!.get(0)!.toJSON()['one']).toBe(1);
  });

  it('interruptTag stops the operations started with that tag, and only those', async () => {
    const tagged = client.sql(SLOW, {}, { tags: ['slow-one'] }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 1500));
    const ids = await client.interruptTag('slow-one');
    expect(ids).toHaveLength(1);
    const err = await tagged;
    expect(err).toBeInstanceOf(SparkInterruptedError);
    expect(await client.interruptTag('slow-one')).toEqual([]);
  });
});

describe('reattach', () => {
  let proxy: CuttingProxy;
  const QUERY = "SELECT id, repeat('x', 1000) AS pad FROM range(0, 40000, 1, 4)";

  beforeAll(async () => {
    const { host, port } = parseRemote(testRemote());
    proxy = await startProxy({ host, port });
  });

  afterAll(async () => {
    await proxy?.close();
  });

  async function readThrough(reattachable: boolean): Promise<bigint[]> {
    const c = new SparkConnectClient({ remote: proxy.remote, reattachable });
    try {
      await c.connect();
      proxy.cutAfter(8 * 1024 * 1024);
      const ids: bigint[] = [];
      for await (const b of c.stream(sql(QUERY))) {
        const id = b.getChild('id')!;
        for (let i = 0; i < b.numRows; i++) ids.push(id.get(i) as bigint);
      }
      return ids;
    } finally {
      await c.close();
    }
  }

  it('a connection dropped mid-result: the client reattaches and gets every row exactly once', async () => {
    const cutsBefore = proxy.cuts;
    const connectionsBefore = proxy.connections;
    const ids = await readThrough(true);
    expect(proxy.cuts - cutsBefore, 'the connection was cut mid-result').toBe(1);
    expect(proxy.connections - connectionsBefore, 'a new connection after the cut').toBeGreaterThanOrEqual(2);
    expect(ids).toHaveLength(40_000);
    ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(ids.every((id, i) => id === BigInt(i))).toBe(true);
  });

  it('without reattach, the same cut fails the call as a connection error', async () => {
    const err = await readThrough(false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparkConnectionError);
  });
});
