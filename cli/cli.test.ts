/**
 * The mr command line: help, flags, exit codes (0 ok, 1 run failure, 2 usage/config, 3 too many
 * rejects), configuration checked before any input, outputs whole or not at all.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { cleanupTempDirs, listFiles, runCli, tempDir } from '../fixtures/harness.js';

afterAll(cleanupTempDirs);

const GOOD = '2025-05-02T10:00:00Z user1 login 200 100ms\n';
const OUTPUTS = ['billing.detail.csv', 'billing.rejects.csv', 'billing.summary.json', 'billing.txt'];

/** A working directory with a .env (RATE_login=0.005) and the given files. */
function workdir(files: Record<string, string | Buffer> = {}, env = 'RATE_login=0.005\n'): string {
  const dir = tempDir();
  if (env !== '') writeFileSync(join(dir, '.env'), env);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

const read = (dir: string, p: string) => readFileSync(join(dir, p), 'utf8');

describe.concurrent('help', () => {
  it.each([[['--help']], [['aggregate', '--help']], [['generate', '--help']], [['help', 'aggregate']]])('mr %j exits 0 with usage', async (args) => {
    const r = await runCli(args, { cwd: tempDir() });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: mr/);
  });

  it('aggregate --help documents every flag', async () => {
    const r = await runCli(['aggregate', '--help'], { cwd: tempDir() });
    for (const flag of ['--engine', '--out', '--workers', '--shard-size', '--from', '--to', '--max-rejects', '--env-file']) expect(r.stdout).toContain(flag);
  });

  it('--version exits 0', async () => {
    const r = await runCli(['--version'], { cwd: tempDir() });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe.concurrent('usage errors: exit 2 with a message, nothing written', () => {
  it.each([
    [['aggregate', 'a.log', '--bogus'], /unknown option '--bogus'/],
    [['aggregate'], /missing required argument/],
    [['frobnicate'], /unknown command/],
    [['spark', 'status', '--connect-port', '70000'], /--connect-port must be a whole number from 1 to 65535/],
    [['spark', 'up', '--worker-ui-port', '0'], /--worker-ui-port must be a whole number from 1 to 65535/],
    [['aggregate', 'a.log', '--engine', 'turbo'], /--engine/],
    [['aggregate', 'a.log', '--workers', '0'], /--workers/],
    [['aggregate', 'a.log', '--workers', 'two'], /--workers/],
    [['aggregate', 'a.log', '--workers', '-1'], /--workers|unknown option/],
    [['aggregate', 'a.log', '--shard-size', '0'], /--shard-size/],
    [['aggregate', 'a.log', '--shard-size', '1e3'], /--shard-size/],
    [['aggregate', 'a.log', '--max-rejects', 'x'], /--max-rejects/],
    [['aggregate', 'a.log', '--max-rejects', '-1'], /--max-rejects|unknown option/],
    [['aggregate', 'a.log', '--out'], /argument missing|--out/],
    [['aggregate', 'a.log', '--from', '2025-05-02'], /--from/],
    [['aggregate', 'a.log', '--to', '2025-05-02T25:00:00Z'], /--to/],
    [['aggregate', 'a.log', '--from', '2025-05-02T10:00:00Z', '--to', '2025-05-02T10:00:00Z'], /--from/],
    [['aggregate', 'a.log', '--from', '2025-05-02T10:00:00Z', '--to', '2025-05-02T11:59:59+02:00'], /--from/],
    [['aggregate', 'a.log', '--from', '2025-05-02T10:00:00.10Z', '--to', '2025-05-02T10:00:00.1Z'], /--from/],
    [['aggregate', 'notes.md'], /notes\.md/],
    // A single-value flag twice with different values is contradictory, not "the last one wins".
    [['aggregate', 'a.log', '--engine', 'naive', '--engine', 'parallel'], /"msg":"--engine given twice, as \\"naive\\" and \\"parallel\\": give one \(see mr aggregate --help\)"/],
    [['aggregate', 'a.log', '--max-rejects', '0', '--max-rejects', '100%'], /--max-rejects.*given twice/],
    [['aggregate', 'a.log', '--engine', 'turbo', '--engine', 'turbo'], /--engine/],
    // A bad Spark Connect address is a bad value, found before any cluster is asked.
    [['aggregate', 'a.log', '--engine', 'spark', '--remote', 'http://x'], /invalid Spark Connect address .*http:\/\/x.*\(from --remote\)/],
    [['aggregate', 'a.log', '--engine', 'spark', '--remote', 'sc://127.0.0.1:99999/;token=s3cr3t'], /invalid port in Spark Connect address .*sc:\/\/127\.0\.0\.1:99999\/;token=\[REDACTED\]/],
    [['generate', '--out', 'x.log'], /--size or --lines/],
    [['generate', '--out', 'x.log', '--lines', '0'], /--lines/],
    [['generate', '--out', 'x.log', '--lines', '1', '--lines', '2'], /"msg":"--lines given twice, as \\"1\\" and \\"2\\": give one \(see mr generate --help\)"/],
    [['spark', 'status', '--connect-port', '1', '--connect-port', '2'], /"msg":"--connect-port given twice, as \\"1\\" and \\"2\\": give one \(see mr spark status --help\)"/],
    // A parent that is a file: said as --out's problem, as aggregate says it, not the file system's EEXIST.
    [['generate', '--out', 'a.log/x.log', '--lines', '3'], /"msg":"--out: cannot create the directory a\.log: a\.log is a file"/],
    // commander's suggestion joins the message's one line.
    [['aggregate', 'a.log', '--worker', '2'], /^\{[^\n]*"msg":"unknown option '--worker': did you mean --workers\? \(see mr aggregate --help\)"\}\n$/],
    [['aggregat', 'a.log'], /^\{[^\n]*"msg":"unknown command 'aggregat': did you mean aggregate\? \(see mr --help\)"\}\n$/],
  ])('mr %j', async (args, message) => {
    const dir = workdir({ 'a.log': GOOD, 'notes.md': GOOD });
    const r = await runCli(args, { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });
});

describe.concurrent('configuration errors: exit 2 before any input is read', () => {
  // The input path does not exist: reading it would be exit 1. Exit 2 proves the config was checked first.
  it.each([
    ['RATE_login=0.0.5\n', /RATE_login/],
    ['RATE_login=1e-3\n', /RATE_login/],
    ['RATE_login=-1\n', /RATE_login/],
    ['RATE_login=0.0000000000001\n', /RATE_login/],
    ['RATE_login=\n', /RATE_login/],
    ['RATE_=1\nRATE_login=1\n', /RATE_/],
    ['OTHER=1\n', /no rates/],
    ['RATE_login=1\nCURRENCY_DECIMALS=13\n', /CURRENCY_DECIMALS/],
    ['RATE_login=1\nCURRENCY_DECIMALS=two\n', /CURRENCY_DECIMALS/],
    ['RATE_login=1\nMAX_DURATION_MS=-1\n', /MAX_DURATION_MS/],
    ['RATE_login=1\nMAX_DURATION_MS=1099511627777\n', /MAX_DURATION_MS/],
    ['RATE_login=1\nLOG_LEVEL=loud\n', /LOG_LEVEL \\?"loud\\?" is not a log level/],
  ])('.env %j with a missing input path', async (env, message) => {
    const dir = workdir({}, env);
    // LOG_LEVEL empty in the environment: the file's value is the one read (an empty variable does not hide it).
    const r = await runCli(['aggregate', 'missing.log', '--engine', 'naive'], { cwd: dir, env: { LOG_LEVEL: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(listFiles(dir)).toEqual(['.env']);
  });

  it('a bad Spark Connect address: a configuration error from SPARK_REMOTE, a usage error from --remote (both exit 2)', async () => {
    const dir = workdir({}, 'RATE_login=1\nSPARK_REMOTE=http://x\n');
    const fromEnv = await runCli(['aggregate', 'missing.log', '--engine', 'spark'], { cwd: dir });
    expect(fromEnv.code, fromEnv.stderr).toBe(2);
    expect(fromEnv.stderr).toMatch(/"error":"configuration".*\(from SPARK_REMOTE\)/);
    const fromFlag = await runCli(['aggregate', 'missing.log', '--engine', 'spark', '--remote', 'http://y'], { cwd: dir });
    expect(fromFlag.code, fromFlag.stderr).toBe(2);
    expect(fromFlag.stderr).toMatch(/"error":"usage".*\(from --remote\)/);
  });

  it('a malformed rate in the environment (not the file) is exit 2 too', async () => {
    const dir = workdir({}, '');
    const r = await runCli(['aggregate', 'missing.log'], { cwd: dir, env: { RATE_login: 'abc' } });
    expect(r.code).toBe(2);
  });

  it('--env-file naming a missing file is exit 2', async () => {
    const dir = workdir({ 'a.log': GOOD });
    const r = await runCli(['aggregate', 'a.log', '--env-file', 'nope.env'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nope.env');
  });

  it('no .env and no RATE_ in the environment is exit 2', async () => {
    const dir = workdir({ 'a.log': GOOD }, '');
    const r = await runCli(['aggregate', 'a.log'], { cwd: dir });
    expect(r.code).toBe(2);
  });
});

describe.concurrent('rates: environment and .env', () => {
  it('the environment wins over .env; --env-file replaces .env; values are trimmed', async () => {
    const dir = workdir({ 'a.log': GOOD, 'other.env': 'RATE_login=0.01\n' }, 'RATE_login=0.005\n');
    const viaFile = await runCli(['aggregate', 'a.log', '--engine', 'naive', '--out', 'f/billing.txt'], { cwd: dir });
    expect(viaFile.code).toBe(0);
    expect(read(dir, 'f/billing.txt')).toBe('user1: total_duration=100ms, total_cost=0.50\n');
    const viaEnv = await runCli(['aggregate', 'a.log', '--engine', 'naive', '--out', 'e/billing.txt'], { cwd: dir, env: { RATE_login: ' 0.02 ' } });
    expect(viaEnv.code).toBe(0);
    expect(read(dir, 'e/billing.txt')).toBe('user1: total_duration=100ms, total_cost=2.00\n');
    const viaOther = await runCli(['aggregate', 'a.log', '--engine', 'naive', '--env-file', 'other.env', '--out', 'o/billing.txt'], { cwd: dir });
    expect(viaOther.code).toBe(0);
    expect(read(dir, 'o/billing.txt')).toBe('user1: total_duration=100ms, total_cost=1.00\n');
  });

  it.each(['naive', 'parallel'])('%s: a rate in .env whose task dotenv cannot name bills that task (no short bill)', async (engine) => {
    // 99 login lines and one café line: as an unknown task it would pass the 1% reject limit.
    const logs = GOOD.repeat(99) + '2025-05-02T10:00:00Z user1 café 200 1000ms\n';
    const dir = workdir({ 'a.log': logs }, 'RATE_login=0.005\nRATE_café=2\n');
    const r = await runCli(['aggregate', 'a.log', '--engine', engine, '--out', 'o/billing.txt'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(read(dir, 'o/billing.txt')).toBe('user1: total_duration=10900ms, total_cost=2049.50\n');
  });

  it.each([
    ['a line that sets nothing', 'RATE_login=0.005\nRATE_search 0.01\n', /\.env line 2: not KEY=value/],
    ['a rate set twice', 'RATE_login=oops\nRATE_login=0.005\n', /RATE_login is set on line 1 and again on line 2/],
  ])('%s in .env is exit 2 before any input is read', async (_name, env, message) => {
    const dir = workdir({}, env);
    const r = await runCli(['aggregate', 'missing.log', '--out', 'o/billing.txt'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(dir, 'o'))).toBe(false);
  });
});

describe.concurrent('run failures: exit 1, no bill, no temporary files', () => {
  const corrupt = gzipSync(Buffer.from(GOOD.repeat(50)));
  corrupt[corrupt.length - 6] ^= 0xff; // CRC damaged
  const truncated = gzipSync(Buffer.from(GOOD.repeat(50))).subarray(0, 30);
  const notGzip = Buffer.from(GOOD);

  it.each([
    ['missing path', {}, ['missing.log'], /missing\.log/],
    ['corrupt gzip', { 'a.log': GOOD, 'b.log.gz': corrupt }, ['.'], /b\.log\.gz/],
    ['truncated gzip', { 'a.log': GOOD, 'b.log.gz': truncated }, ['.'], /b\.log\.gz/],
    ['not gzip at all', { 'b.txt.gz': notGzip }, ['b.txt.gz'], /b\.txt\.gz/],
    ['CSV without a user column', { 'a.csv': 'timestamp,task,status,duration_ms\n' }, ['a.csv'], /a\.csv.*user/],
    ['CSV without a duration column', { 'a.csv': 'timestamp,user,task,status\n' }, ['a.csv'], /a\.csv.*duration/],
    ['CSV naming a column twice', { 'a.csv': 'timestamp,user,task,status,duration_ms,TASK\n' }, ['a.csv'], /a\.csv.*task/],
    ['gzipped CSV without a status column', { 'a.csv.gz': gzipSync('timestamp,user,task,duration_ms\n') }, ['a.csv.gz'], /a\.csv\.gz/],
  ])('%s', async (_what, files, args, message) => {
    const said: string[][] = [];
    for (const engine of [['--engine', 'naive'], ['--engine', 'parallel', '--workers', '2']]) {
      const dir = workdir(files);
      const before = listFiles(dir);
      const r = await runCli(['aggregate', ...args, ...engine], { cwd: dir });
      expect(r.code, `${engine.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(listFiles(dir)).toEqual(before); // nothing new, no .mr-staging-* left
      const error = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, string>).find((l) => l['level'] === 'error')!;
      said.push([error['error']!, error['msg']!]);
    }
    // One contract: the same kind and message from either engine (an input's failure in a worker is not the worker's).
    expect(said[1]).toEqual(said[0]);
  });

  it('spark, TLS asked of a server that accepts connections but never answers: exit 1 saying so (not "start the cluster"); Node\'s warning (DEP0123, TLS to an IP address) is a JSON log line at debug', async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const dir = workdir({ 'a.log': GOOD });
      const remote = `sc://127.0.0.1:${port}/;use_ssl=true`;
      const r = await runCli(['aggregate', 'a.log', '--engine', 'spark', '--remote', remote, '--log-format', 'json'], { cwd: dir, env: { LOG_LEVEL: 'debug' } });
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.filter((l) => l['code'] === 'DEP0123').map((l) => [l['level'], l['warning']])).toEqual([['debug', 'DeprecationWarning']]);
      const error = lines.at(-1)!;
      expect(error['level']).toBe('error');
      expect(error['msg']).toBe(`the server at ${remote} accepts connections but no Spark Connect session came up within 5000 ms: the address asks for TLS (use_ssl=true or a token): does the server serve TLS, with a certificate this machine trusts?`);
      expect(existsSync(join(dir, 'data'))).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 30_000);

  it('a failed run leaves an earlier bill untouched', async () => {
    const dir = workdir({ 'a.log': GOOD, 'bad/b.log.gz': corrupt });
    expect((await runCli(['aggregate', 'a.log', '--engine', 'naive'], { cwd: dir })).code).toBe(0);
    const bill = read(dir, 'data/billing.txt');
    const files = listFiles(dir);
    const r = await runCli(['aggregate', 'a.log', 'bad', '--engine', 'naive'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(read(dir, 'data/billing.txt')).toBe(bill);
    expect(listFiles(dir)).toEqual(files);
  });
});

describe.concurrent('--max-rejects', () => {
  const lines = GOOD + 'garbage\n' + '2025-05-02T10:00:00Z user2 login 200 5\n' + GOOD;
  it.each([
    ['naive'],
    ['parallel'],
  ])('%s: more than N rejects → exit 3 and nothing written; exactly N → success', async (engine) => {
    const dir = workdir({ 'a.log': lines });
    const over = await runCli(['aggregate', 'a.log', '--engine', engine, '--max-rejects', '1'], { cwd: dir });
    expect(over.code).toBe(3);
    expect(over.stderr).toMatch(/2 rejected/);
    expect(listFiles(dir)).toEqual(['.env', 'a.log']);
    const exact = await runCli(['aggregate', 'a.log', '--engine', engine, '--max-rejects', '2'], { cwd: dir });
    expect(exact.code).toBe(0);
    expect(read(dir, 'data/billing.txt')).toBe('user1: total_duration=200ms, total_cost=1.00\n');
    const zero = await runCli(['aggregate', 'a.log', '--engine', engine, '--max-rejects', '0', '--out', 'z/billing.txt'], { cwd: dir });
    expect(zero.code).toBe(3);
    expect(existsSync(join(dir, 'z', 'billing.txt'))).toBe(false);
    expect(listFiles(join(dir, 'z'))).toEqual([]);
  });

  it.each([['naive'], ['parallel']])('%s: a percentage of every record read, those out of the window and the duplicate deliveries included (SPEC)', async (engine) => {
    // 100 records: 49 billed, 25 before --from, 25 re-deliveries of billed ones, and `rejects` bad durations.
    const rec = (i: number, day: string, ms: string) => `{"timestamp":"2025-05-${day}T10:00:00Z","user":"u${i}","task":"login","status":200,"duration_ms":${ms},"request_id":"r${i}"}\n`;
    const input = (rejects: number) =>
      Array.from({ length: 50 - rejects }, (_, i) => rec(i, '02', '10')).join('') +
      Array.from({ length: rejects }, (_, i) => rec(100 + i, '02', '-1')).join('') +
      Array.from({ length: 25 }, (_, i) => rec(200 + i, '01', '10')).join('') +
      Array.from({ length: 25 }, (_, i) => rec(i, '02', '10')).join('');
    const dir = workdir({ 'one.jsonl': input(1), 'two.jsonl': input(2) });
    const args = ['--engine', engine, '--from', '2025-05-02T00:00:00Z', '--max-rejects', '1%', '--json'];
    // 1 of 100 is at the limit, not over it; counted against the 50 records that could be billed, it would be 2%.
    const one = await runCli(['aggregate', 'one.jsonl', ...args, '--out', 'one/billing.txt'], { cwd: dir });
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ records: 100, accepted: 49, out_of_window: 25, duplicates: 25, rejected: { bad_duration: 1 } });
    const two = await runCli(['aggregate', 'two.jsonl', ...args, '--out', 'two/billing.txt'], { cwd: dir });
    expect(two.code, two.stderr).toBe(3);
    expect(two.stderr).toMatch(/2 of 100 records rejected/);
  });

  it('--max-rejects 0 with a clean input succeeds', async () => {
    const dir = workdir({ 'a.log': GOOD });
    expect((await runCli(['aggregate', 'a.log', '--engine', 'naive', '--max-rejects', '0'], { cwd: dir })).code).toBe(0);
  });
});

describe.concurrent('outputs', () => {
  it('--out in a new nested directory; companions named after the bill; no staging files', async () => {
    const dir = workdir({ 'a.log': GOOD + 'garbage\n' });
    const r = await runCli(['aggregate', 'a.log', '--engine', 'naive', '--max-rejects', '1', '--out', 'x/y/z/march.txt'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(listFiles(join(dir, 'x/y/z'))).toEqual(['march.detail.csv', 'march.rejects.csv', 'march.summary.json', 'march.txt']);
    expect(read(dir, 'x/y/z/march.txt')).toBe('user1: total_duration=100ms, total_cost=0.50\n');
    expect(read(dir, 'x/y/z/march.rejects.csv')).toBe('file,offset,reason,raw\na.log,43,bad_field_count,garbage\n');
    expect(read(dir, 'x/y/z/march.detail.csv')).toBe('user,task,requests,duration_ms,rate,cost,cost_rounded\nuser1,login,1,100,0.005,0.5,0.50\n');
  });

  it('default --out is data/billing.txt', async () => {
    const dir = workdir({ 'a.log': GOOD });
    expect((await runCli(['aggregate', 'a.log', '--engine', 'naive'], { cwd: dir })).code).toBe(0);
    expect(listFiles(join(dir, 'data'))).toEqual(OUTPUTS);
  });

  it.each([['naive'], ['parallel']])('%s: no records → empty billing.txt, CSVs with only their header, zero counts', async (engine) => {
    const dir = workdir({ 'in/empty.log': '', 'in/blank.txt': '\n  \n\t\r\n', 'in/header-only.csv': 'timestamp,user,task,status,duration_ms\n', 'in/e.jsonl': '' });
    const r = await runCli(['aggregate', 'in', '--engine', engine], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(read(dir, 'data/billing.txt')).toBe('');
    expect(read(dir, 'data/billing.rejects.csv')).toBe('file,offset,reason,raw\n');
    expect(read(dir, 'data/billing.detail.csv')).toBe('user,task,requests,duration_ms,rate,cost,cost_rounded\n');
    const s = JSON.parse(read(dir, 'data/billing.summary.json'));
    expect(s).toMatchObject({ records: 0, accepted: 0, out_of_window: 0, rejected: {}, users: 0, total_cost: '0' });
  });

  it('summary keys', async () => {
    const dir = workdir({ 'a.log': GOOD + GOOD + 'x\n' });
    await runCli(['aggregate', 'a.log', '--engine', 'naive', '--max-rejects', '100%'], { cwd: dir });
    const s = JSON.parse(read(dir, 'data/billing.summary.json'));
    expect(s).toMatchObject({ records: 3, accepted: 2, out_of_window: 0, rejected: { bad_field_count: 1 }, users: 1, total_cost: '1', total_billed: '1.00' });
  });

  it('summary workers: the worker threads that ran, at most one per shard; none for the naive engine', async () => {
    const dir = workdir({ 'a.log': GOOD.repeat(200) });
    const workersOf = async (args: string[]) => {
      const r = await runCli(['aggregate', 'a.log', '--json', ...args], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { workers?: number }).workers;
    };
    expect(await workersOf(['--workers', '4'])).toBe(1);
    expect(await workersOf(['--workers', '3', '--shard-size', '1000'])).toBe(3);
    expect(await workersOf(['--engine', 'naive'])).toBeUndefined();
  });

  it('rerunning replaces the outputs whole', async () => {
    const dir = workdir({ 'a.log': GOOD });
    await runCli(['aggregate', 'a.log', '--engine', 'naive'], { cwd: dir });
    writeFileSync(join(dir, 'a.log'), GOOD.replace('user1', 'user9'));
    await runCli(['aggregate', 'a.log', '--engine', 'naive'], { cwd: dir });
    expect(read(dir, 'data/billing.txt')).toBe('user9: total_duration=100ms, total_cost=0.50\n');
    expect(listFiles(join(dir, 'data'))).toEqual(OUTPUTS);
  });
});

describe.concurrent('inputs through the CLI', () => {
  it('directories walked recursively; other files skipped with a warning; a file reached twice is read once', async () => {
    const dir = workdir({ 'logs/a.log': GOOD, 'logs/sub/b.txt': GOOD.replace('user1', 'user2'), 'logs/README.md': 'hi', 'logs/data.json': '{}' });
    symlinkSync(join(dir, 'logs/a.log'), join(dir, 'logs/sub/again.log'));
    symlinkSync(join(dir, 'logs'), join(dir, 'logs/sub/loop'));
    for (const engine of ['naive', 'parallel']) {
      const r = await runCli(['aggregate', 'logs', 'logs/a.log', '--engine', engine, '--out', `${engine}/billing.txt`], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('README.md');
      expect(r.stderr).toContain('data.json');
      // Each path not read again is named with the path its file is read under, a path named twice once.
      expect(r.stderr).toContain('2 paths not read again, each the same file as one read: logs/a.log (named again), logs/sub/again.log (read as logs/a.log)');
      expect(read(dir, `${engine}/billing.txt`)).toBe('user1: total_duration=100ms, total_cost=0.50\nuser2: total_duration=100ms, total_cost=0.50\n');
    }
  });
});
