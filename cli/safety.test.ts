/**
 * Safety (issue 11, SPEC "Reject limit and unknown tasks", "Outputs on failure", "Exit
 * codes", "Command line"): no silently short bill, failures that touch nothing, errors
 * reported once. Through the built CLI, for the naive and parallel engines.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { runMr } from '../fixtures/guarantees.js';
import { cleanupTempDirs, cliPath, engineArgs, listFiles, repoRoot, reportedErrors, runCli, tempDir } from '../fixtures/harness.js';

afterAll(cleanupTempDirs);

const LOGS = resolve(repoRoot, '../shared/reference/api_logs.txt');
const ENV = resolve(repoRoot, '../shared/reference/original.env');
const GOOD = '2025-05-02T10:00:00Z user1 login 200 100ms\n';
const OUTPUTS = ['billing.detail.csv', 'billing.rejects.csv', 'billing.summary.json', 'billing.txt'];
const ENGINES = ['naive', 'parallel'] as const;

function workdir(files: Record<string, string> = {}, env = 'RATE_login=0.005\n'): string {
  const dir = tempDir();
  writeFileSync(join(dir, '.env'), env);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

const read = (dir: string, p: string) => readFileSync(join(dir, p), 'utf8');

/** JSON log lines on stderr (the format off a terminal). */
function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.concurrent('a rate typo never bills short (the reference sample, RATE_Login instead of RATE_login)', () => {
  const typoEnv = () => readFileSync(ENV, 'utf8').replace(/^RATE_login=/m, 'RATE_Login=');

  it.each(ENGINES)('%s: exit 3, nothing written, counts per reason, the first 20 rejected lines and a did-you-mean hint', async (engine) => {
    const dir = workdir({}, typoEnv());
    const r = await runCli(['aggregate', LOGS, ...engineArgs(engine), '--out', 'out/billing.txt'], { cwd: dir });
    expect(r.code, r.stderr).toBe(3);
    expect(listFiles(dir)).toEqual(['.env']);
    const errors = logLines(r.stderr).filter((l) => l['level'] === 'error');
    expect(errors).toHaveLength(1);
    const details = errors[0]!['details'] as string[];
    expect(details[0]).toBe('rejected by reason: unknown_task 2,011');
    const shown = details.filter((d) => d.startsWith('  '));
    expect(shown).toHaveLength(20);
    expect(shown[0]).toBe(`  ${LOGS} @0: unknown_task`);
    expect(errors[0]!['msg']).toMatch(/^2,011 of 10,000 records rejected \(20\.11%\), over --max-rejects 1%/);
    const warning = logLines(r.stderr).find((l) => l['level'] === 'warn');
    expect(warning?.['msg']).toMatch(/`login` \(2,011 records\): did you mean `RATE_Login`\?/);
  });

  it.each(ENGINES)('%s: with --max-rejects 100%% the bill is written, the summary counts unknown_tasks and the run warns', async (engine) => {
    const dir = workdir({}, typoEnv());
    const r = await runCli(['aggregate', LOGS, ...engineArgs(engine), '--max-rejects', '100%'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(read(dir, 'data/billing.summary.json'));
    expect(s.unknown_tasks).toEqual({ login: 2011 });
    expect(s.rejected).toEqual({ unknown_task: 2011 });
    expect(r.stderr).toMatch(/did you mean `RATE_Login`/);
  });
});

describe.concurrent('--max-rejects N or P%, compared exactly', () => {
  /** 200 records of which `bad` are rejected. */
  const input = (bad: number) => GOOD.repeat(200 - bad) + 'garbage\n'.repeat(bad);

  it.each(ENGINES)('%s: the default is 1%%: 2 of 200 passes, 3 of 200 is exit 3', async (engine) => {
    const dir = workdir({ 'two.log': input(2), 'three.log': input(3) });
    expect((await runCli(['aggregate', 'two.log', ...engineArgs(engine)], { cwd: dir })).code).toBe(0);
    const over = await runCli(['aggregate', 'three.log', ...engineArgs(engine), '--out', 'o3/billing.txt'], { cwd: dir });
    expect(over.code, over.stderr).toBe(3);
    expect(listFiles(join(dir, 'o3'))).toEqual([]);
  });

  it.each([
    ['1.5%', 3, 0],
    ['1.5%', 4, 3],
    ['0%', 1, 3],
    ['0', 0, 0],
    ['100%', 200, 0],
    ['3', 3, 0],
    ['3', 4, 3],
    ['0.25%', 1, 3],
  ])('--max-rejects %s with %i of 200 rejected → exit %i', async (limit, bad, code) => {
    const dir = workdir({ 'a.log': input(bad) });
    const r = await runCli(['aggregate', 'a.log', '--engine', 'naive', '--max-rejects', limit], { cwd: dir });
    expect(r.code, r.stderr).toBe(code);
  });

  it.each([['100.5%'], ['-1'], ['1.%'], ['%'], ['1e2'], ['x']])('--max-rejects %s is a usage error', async (limit) => {
    const dir = workdir({ 'a.log': GOOD });
    const r = await runCli(['aggregate', 'a.log', '--max-rejects', limit], { cwd: dir });
    expect(r.code).toBe(2);
    expect(reportedErrors(r.stderr)).toHaveLength(1);
    expect(listFiles(dir)).toEqual(['.env', 'a.log']);
  });
});

describe.concurrent('--out is checked before any input is read', () => {
  it.each([
    ['the bill path is a directory', (d: string) => mkdirSync(join(d, 'o2', 'billing.txt'), { recursive: true }), 'o2/billing.txt', /o2\/billing\.txt is a directory/],
    ['a companion path is a directory', (d: string) => mkdirSync(join(d, 'o3', 'billing.summary.json'), { recursive: true }), 'o3/billing.txt', /billing\.summary\.json is a directory/],
    ['a trailing slash', () => undefined, 'out/', /names a directory/],
    ['a parent that is a file', (d: string) => writeFileSync(join(d, 'f'), 'x'), 'f/x/billing.txt', /f is a file/],
    ['a symbolic link to a directory', (d: string) => (mkdirSync(join(d, 'real')), symlinkSync(join(d, 'real'), join(d, 'lnk'))), 'lnk', /lnk is a directory/],
    // Writable by its mode for root, but no file can be made there: caught by making one.
    ['a directory that refuses new files (/proc)', () => undefined, '/proc/billing.txt', /cannot create files in \/proc|the directory \/proc is not writable/],
    // Missing directories under one that refuses new ones (Node 20's recursive mkdir spins for ever on /proc).
    ['a missing directory under /proc', () => undefined, '/proc/mr-x/billing.txt', /cannot create directories in \/proc|the directory \/proc is not writable/],
    ['a missing directory under /sys', () => undefined, '/sys/mr-x/billing.txt', /cannot create directories in \/sys|the directory \/sys is not writable/],
  ])('%s → exit 2, nothing read or written', async (_what, setup, out, message) => {
    const dir = workdir({ 'a.log': GOOD });
    setup(dir);
    const before = listFiles(dir);
    // A missing input would be exit 1 if it were looked at: exit 2 shows --out was checked first.
    const r = await runCli(['aggregate', 'missing.log', '--out', out], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    const errors = reportedErrors(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(errors[0]).not.toMatch(/mr-staging/);
    expect(listFiles(dir)).toEqual(before);
  });

  it.each(ENGINES)('%s: --out in any spelling (./d/, d//, d/../d/, absolute) writes the set, and the next run in another spelling replaces it', async (engine) => {
    const dir = workdir({ 'a.log': GOOD });
    for (const out of ['./o/billing.txt', 'o//billing.txt', 'o/../o/billing.txt', join(dir, 'o', 'billing.txt')]) {
      writeFileSync(join(dir, 'a.log'), GOOD.replace('user1', `u${out.length}`));
      const r = await runCli(['aggregate', 'a.log', ...engineArgs(engine), '--out', out], { cwd: dir });
      expect(r.code, `${out}: ${r.stderr}`).toBe(0);
      expect(read(dir, 'o/billing.txt'), out).toMatch(new RegExp(`^u${out.length}: `));
      expect(listFiles(join(dir, 'o')).sort()).toEqual(OUTPUTS);
    }
  });

  it('--out with `..` after a symbolic link writes where the file system puts it (above the link\'s target), folders it creates below it too', async () => {
    const dir = workdir({ 'a.log': GOOD, 'real/sub/.keep': '', 'decoy/.keep': '' });
    symlinkSync('../real/sub', join(dir, 'decoy', 'link'));
    for (const [out, lands] of [
      ['decoy/link/../o/billing.txt', 'real/o'],
      ['decoy/link/new/../../p/billing.txt', 'real/p'],
    ] as const) {
      const r = await runCli(['aggregate', 'a.log', '--out', out], { cwd: dir });
      expect(r.code, `${out}: ${r.stderr}`).toBe(0);
      expect(listFiles(join(dir, lands)).sort(), out).toEqual(OUTPUTS);
      expect(read(dir, `${lands}/billing.txt`)).toMatch(/^user1: /);
    }
    // Read as text, `decoy/link/..` is `decoy`: nothing may land there (nor a folder `new` below the link's target).
    expect(listFiles(join(dir, 'decoy')).sort()).toEqual(['.keep', 'link/.keep']);
    // A missing folder, then `..` back up into existing ones and through a link: where a shell writes once `x/new` is made.
    mkdirSync(join(dir, 'x'));
    const r = await runCli(['aggregate', 'a.log', '--out', 'x/new/../../decoy/link/../q/billing.txt'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(listFiles(join(dir, 'real/q')).sort()).toEqual(OUTPUTS);
    expect(listFiles(join(dir, 'decoy')).sort()).toEqual(['.keep', 'link/.keep']);
  });

  it.each([
    ['a file', (dir: string) => writeFileSync(join(dir, 'f'), 'x'), /not a directory \(ENOTDIR\)/],
    ['a loop of links', (dir: string) => symlinkSync('f', join(dir, 'f')), /too many symbolic links encountered \(ELOOP\)/],
    ['a link to nothing', (dir: string) => symlinkSync('nowhere/deeper', join(dir, 'f')), /symbolic link to nothing \(ENOENT\)/],
  ])('--out f/../billing.txt with f %s → exit 2, nothing written (read as text, the bill would land where the file system puts nothing)', async (_what, setup, reason) => {
    const dir = workdir({ 'a.log': GOOD });
    setup(dir);
    const before = listFiles(dir);
    const r = await runCli(['aggregate', 'a.log', '--out', 'f/../billing.txt'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    const errors = reportedErrors(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/--out f\/\.\.\/billing\.txt: its folder cannot be resolved/);
    expect(errors[0]).toMatch(reason);
    expect(listFiles(dir)).toEqual(before);
  });

  it.each([
    ['a link to nothing', (dir: string) => symlinkSync('nowhere', join(dir, 'f')), /: f is a symbolic link to nowhere, which does not exist \(ENOENT\)$/],
    ['a loop of links', (dir: string) => symlinkSync('f', join(dir, 'f')), /: f is a symbolic link to f, a loop of links \(ELOOP\)$/],
  ])('--out f/billing.txt and f/new/billing.txt with f %s → exit 2 naming the link and why, nothing written', async (_what, setup, reason) => {
    const dir = workdir({ 'a.log': GOOD });
    setup(dir);
    const before = listFiles(dir);
    for (const out of ['f/billing.txt', 'f/new/billing.txt']) {
      const r = await runCli(['aggregate', 'a.log', '--out', out], { cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      const errors = reportedErrors(r.stderr);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/--out: cannot create the directory f/);
      expect(errors[0]).toMatch(reason);
      expect(listFiles(dir)).toEqual(before);
    }
  });

  it('--out locked/../billing.txt with locked a folder the user cannot search → exit 2, as a shell cannot write there', async (ctx) => {
    // Run as an unprivileged user: root may search any folder.
    if (process.getuid?.() !== 0) ctx.skip();
    const dir = workdir({ 'a.log': GOOD });
    mkdirSync(join(dir, 'locked'), { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    chownSync(join(dir, 'a.log'), 65534, 65534);
    chownSync(join(dir, '.env'), 65534, 65534);
    const before = listFiles(dir);
    const r = await runMr(['aggregate', 'a.log', '--out', 'locked/../billing.txt', '--no-progress'], { cwd: dir, uid: 65534, gid: 65534 });
    expect(r.code, r.stderr).toBe(2);
    const errors = reportedErrors(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/--out locked\/\.\.\/billing\.txt: its folder cannot be resolved \(cannot be searched \(EACCES\): \/.*\/locked\)/);
    expect(listFiles(dir)).toEqual(before);
  });

  it.each([
    ['--out names the input', 'a.log', ['a.log'], /--out: a\.log is one of the inputs \(a\.log\)/],
    ['a companion of --out is an input (the detail CSV of an earlier run)', 'o/billing.txt', ['o/billing.detail.csv'], /o\/billing\.detail\.csv is one of the inputs/],
    // A link as --out is refused for being a link (decision 53), before the inputs are found.
    ['--out names an input through a symbolic link', 'link.log', ['in'], /--out: link\.log is a symbolic link/],
  ])('%s → exit 2, the input untouched', async (_what, out, inputs, message) => {
    const dir = workdir({ 'a.log': GOOD, 'in/a.log': GOOD });
    expect((await runCli(['aggregate', 'a.log', '--out', 'o/billing.txt'], { cwd: dir })).code).toBe(0);
    const { symlinkSync } = await import('node:fs');
    symlinkSync(join(dir, 'in', 'a.log'), join(dir, 'link.log'));
    const before = Object.fromEntries(listFiles(dir).map((f) => [f, read(dir, f)]));
    const r = await runCli(['aggregate', ...inputs, '--out', out], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    const errors = reportedErrors(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(Object.fromEntries(listFiles(dir).map((f) => [f, read(dir, f)]))).toEqual(before);
  });

  it('a companion that is a directory leaves the rest of the previous set as it was', async () => {
    const dir = workdir({ 'a.log': GOOD });
    expect((await runCli(['aggregate', 'a.log', '--out', 'o/billing.txt'], { cwd: dir })).code).toBe(0);
    const before = Object.fromEntries(OUTPUTS.map((n) => [n, read(dir, `o/${n}`)]));
    writeFileSync(join(dir, 'a.log'), GOOD.replace('user1', 'user2'));
    rmSync(join(dir, 'o', 'billing.detail.csv'));
    mkdirSync(join(dir, 'o', 'billing.detail.csv'));
    const r = await runCli(['aggregate', 'a.log', '--out', 'o/billing.txt'], { cwd: dir });
    expect(r.code).toBe(2);
    for (const n of OUTPUTS.filter((n) => n !== 'billing.detail.csv')) expect(read(dir, `o/${n}`)).toBe(before[n]);
  });
});

describe('the commit is journalled: a failure or a kill at any rename is completed by the next run', () => {
  /**
   * A `--require` preload: the Nth rename of an mr temporary file (the journal is rename 1,
   * the four outputs renames 2-5) fails with EIO, or kills the process (SIGKILL).
   */
  function renameFault(dir: string): string {
    const file = join(dir, 'rename-fault.cjs');
    writeFileSync(
      file,
      `const fs = require('node:fs');
const at = Number(process.env.FAULT_AT);
const kill = process.env.FAULT_KILL === '1';
const original = fs.renameSync;
let n = 0;
fs.renameSync = function (from, to) {
  if (String(from).includes('.mr-') && ++n === at) {
    if (kill) process.kill(process.pid, 'SIGKILL');
    const e = new Error('EIO: injected i/o error, rename');
    e.code = 'EIO';
    throw e;
  }
  return original.apply(this, arguments);
};
`,
    );
    return file;
  }

  async function run(dir: string, args: string[], env: Record<string, string> = {}) {
    return runMr(args, { cwd: dir, env, preload: env['FAULT_AT'] === undefined ? [] : [renameFault(dir)] });
  }

  it.each(ENGINES.flatMap((e) => [1, 2, 3, 4, 5].flatMap((at) => [[e, at, false] as const, [e, at, true] as const])))(
    '%s: fault at rename %i (kill: %s)',
    async (engine, at, kill) => {
      const dir = workdir({ 'old.log': GOOD, 'new.log': GOOD.replace('user1', 'user2') });
      const args = (input: string) => ['aggregate', input, ...engineArgs(engine), '--out', 'o/billing.txt', '--no-progress'];
      expect((await run(dir, args('old.log'))).code).toBe(0);
      const previous = Object.fromEntries(OUTPUTS.map((n) => [n, read(dir, `o/${n}`)]));
      const faulted = await run(dir, args('new.log'), { FAULT_AT: String(at), ...(kill ? { FAULT_KILL: '1' } : {}) });
      expect(faulted.code, faulted.stderr).toBe(kill ? 'SIGKILL' : 1);
      if (!kill) {
        const errors = reportedErrors(faulted.stderr);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatch(/injected/);
      }
      const visible = listFiles(join(dir, 'o')).filter((n) => !n.startsWith('.'));
      expect(visible).toEqual(OUTPUTS);
      if (at === 1) {
        // The journal never became durable: the previous set is exactly as it was.
        for (const n of OUTPUTS) expect(read(dir, `o/${n}`), n).toBe(previous[n]);
        expect(existsSync(join(dir, 'o', '.billing.mr-commit'))).toBe(false);
      } else {
        expect(existsSync(join(dir, 'o', '.billing.mr-commit')), 'the journal is left for the next run').toBe(true);
      }
      // The next run on the same --out completes the commit before it looks at its input (missing here: exit 1).
      const next = await run(dir, args('missing.log'));
      expect(next.code, next.stderr).toBe(1);
      if (at > 1) expect(next.stderr).toMatch(/completed the commit of an earlier run/);
      const bill = read(dir, 'o/billing.txt');
      expect(bill).toBe(at === 1 ? previous['billing.txt'] : 'user2: total_duration=100ms, total_cost=0.50\n');
      const summary = JSON.parse(read(dir, 'o/billing.summary.json'));
      expect(summary.users).toBe(1);
      expect(read(dir, 'o/billing.detail.csv')).toContain(at === 1 ? 'user1,login' : 'user2,login');
      // Whole and alone: no journal, no staging file.
      expect(listFiles(join(dir, 'o'))).toEqual(OUTPUTS);
    },
    60_000,
  );

  it.each(ENGINES)('%s: a next run refused for its configuration or its flags’ values (exit 2) completes the commit first', async (engine) => {
    const dir = workdir({ 'old.log': GOOD, 'new.log': GOOD.replace('user1', 'user2') });
    const args = (input: string) => ['aggregate', input, ...engineArgs(engine), '--out', 'o/billing.txt', '--no-progress'];
    expect((await run(dir, args('old.log'))).code).toBe(0);
    const killed = await run(dir, args('new.log'), { FAULT_AT: '3', FAULT_KILL: '1' });
    expect(killed.code).toBe('SIGKILL');
    expect(existsSync(join(dir, 'o', '.billing.mr-commit'))).toBe(true);
    const refused = await run(dir, args('new.log'), { RATE_login: '0.0.5' });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/RATE_login/);
    expect(refused.stderr).toMatch(/completed the commit of an earlier run/);
    expect(read(dir, 'o/billing.txt')).toBe('user2: total_duration=100ms, total_cost=0.50\n');
    expect(read(dir, 'o/billing.detail.csv')).toContain('user2,login');
    expect(listFiles(join(dir, 'o'))).toEqual(OUTPUTS);
  }, 60_000);
});

describe('one run at a time per --out: a second run is refused while the first holds the outputs', () => {
  it.each(ENGINES)('%s: exit 1 naming the first run, nothing changed; the first run then bills as usual', async (engine) => {
    const dir = workdir({ 'b.log': GOOD.replace('user1', 'user2') });
    // The first run reads standard input, so it holds the outputs until the pipe closes.
    const first = spawn(process.execPath, [cliPath, 'aggregate', '-', ...engineArgs(engine), '--out', 'o/billing.txt', '--no-progress'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const firstErr: Buffer[] = [];
    first.stderr.on('data', (d: Buffer) => firstErr.push(d));
    const firstExit = new Promise<number | null>((done) => first.on('close', done));
    const lock = join(dir, 'o', '.billing.mr-lock');
    for (let i = 0; i < 600 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(lock), 'the first run took the lock').toBe(true);

    const second = await runCli(['aggregate', 'b.log', ...engineArgs(engine), '--out', './o//billing.txt'], { cwd: dir });
    expect(second.code, second.stderr).toBe(1);
    expect(reportedErrors(second.stderr)).toEqual([
      expect.stringMatching(new RegExp(`^another mr run \\(pid ${first.pid} on .+\\) is writing o/billing\\.txt; wait for it or choose another --out`)),
    ]);
    expect(listFiles(join(dir, 'o'))).toEqual(['.billing.mr-lock']);

    first.stdin.end(GOOD);
    expect(await firstExit, Buffer.concat(firstErr).toString()).toBe(0);
    expect(read(dir, 'o/billing.txt')).toBe('user1: total_duration=100ms, total_cost=0.50\n');
    expect(listFiles(join(dir, 'o'))).toEqual(OUTPUTS);
    // Released: the next run goes ahead.
    const third = await runCli(['aggregate', 'b.log', ...engineArgs(engine), '--out', 'o/billing.txt'], { cwd: dir });
    expect(third.code, third.stderr).toBe(0);
    expect(read(dir, 'o/billing.txt')).toBe('user2: total_duration=100ms, total_cost=0.50\n');
  }, 60_000);

  it('a run that fails leaves no directory it made for the outputs, and no lock', async () => {
    const dir = workdir({ 'bad.log': 'not a line\n' });
    const r = await runCli(['aggregate', 'bad.log', '--engine', 'naive', '--out', 'new/deeper/billing.txt'], { cwd: dir });
    expect(r.code, r.stderr).toBe(3);
    expect(existsSync(join(dir, 'new'))).toBe(false);
  });
});

describe.concurrent('configuration before anything logs', () => {
  it('LOG_LEVEL from the env file silences info lines; the environment wins over the file (an empty variable does not)', async () => {
    const dir = workdir({ 'a.log': GOOD }, 'RATE_login=0.005\nLOG_LEVEL=warn\n');
    const quiet = await runCli(['aggregate', 'a.log'], { cwd: dir, env: { LOG_LEVEL: '' } });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    const loud = await runCli(['aggregate', 'a.log', '--out', 'b/billing.txt'], { cwd: dir, env: { LOG_LEVEL: 'info' } });
    expect(loud.stderr).toMatch(/"msg":"bill written"/);
  });
});

describe.concurrent('output for people and for machines', () => {
  it.each(ENGINES)('%s: --out - writes the bill to standard output only, byte for byte the file bill', async (engine) => {
    const dir = workdir({ 'a.log': GOOD + GOOD.replace('user1', 'user0') });
    const file = await runCli(['aggregate', 'a.log', ...engineArgs(engine), '--out', 'f/billing.txt'], { cwd: dir });
    expect(file.code).toBe(0);
    const before = listFiles(dir);
    const out = await runCli(['aggregate', 'a.log', ...engineArgs(engine), '--out', '-'], { cwd: dir });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe(read(dir, 'f/billing.txt'));
    expect(listFiles(dir)).toEqual(before);
  });

  it('a JSON error line names its kind in one documented word, never a class name', async () => {
    const dir = workdir({ 'a.log': GOOD, 'bad.log': 'x\n' });
    const cases: Array<[string[], Record<string, string>, number, string]> = [
      [['aggregate', 'a.log', '--workers', '0'], {}, 2, 'usage'],
      [['aggregate', 'a.log'], { RATE_login: 'abc' }, 2, 'configuration'],
      [['aggregate', 'missing.log'], {}, 1, 'input'],
      [['aggregate', 'bad.log'], {}, 3, 'rejects_over_limit'],
    ];
    for (const [args, env, code, kind] of cases) {
      const r = await runCli([...args, '--log-format', 'json'], { cwd: dir, env });
      expect(r.code, r.stderr).toBe(code);
      const errors = logLines(r.stderr).filter((l) => l['level'] === 'error');
      expect(errors.map((e) => [e['exit_code'], e['error']])).toEqual([[code, kind]]);
    }
  });

  it('--json prints the summary that was written; --out - with --json is exit 2', async () => {
    const dir = workdir({ 'a.log': GOOD });
    const r = await runCli(['aggregate', 'a.log', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(read(dir, 'data/billing.summary.json'));
    const both = await runCli(['aggregate', 'a.log', '--json', '--out', '-'], { cwd: dir });
    expect(both.code).toBe(2);
    expect(both.stdout).toBe('');
  });

  it('--json whose standard output cannot be written (a full device): exit 1 saying the bill was written and the summary not', async () => {
    const dir = workdir({ 'a.log': GOOD });
    const { spawn } = await import('node:child_process');
    const { closeSync, openSync } = await import('node:fs');
    const full = openSync('/dev/full', 'w');
    const child = spawn(process.execPath, [cliPath, 'aggregate', 'a.log', '--json', '--log-format', 'json'], { cwd: dir, stdio: ['ignore', full, 'pipe'] });
    closeSync(full);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code, stderr).toBe(1);
    expect(reportedErrors(stderr)).toEqual([
      'the bill was written to data/billing.txt, but its summary could not be written to standard output (--json): no space left on device (ENOSPC)',
    ]);
    expect(read(dir, 'data/billing.txt')).toBe('user1: total_duration=100ms, total_cost=0.50\n');
  });

  it.each(['json', 'human'])('stderr that refuses writes (a full device), --log-format %s: each outcome keeps its exit code, the bill is written', async (format) => {
    const dir = workdir({ 'a.log': GOOD, 'bad.log': 'garbage\n' });
    const { spawn } = await import('node:child_process');
    const { closeSync, openSync } = await import('node:fs');
    const run = async (args: string[]) => {
      const full = openSync('/dev/full', 'w');
      const child = spawn(process.execPath, [cliPath, ...args, '--log-format', format], { cwd: dir, stdio: ['ignore', 'ignore', full] });
      closeSync(full);
      return new Promise<number | null>((done) => child.on('close', done));
    };
    expect(await run(['aggregate', 'a.log'])).toBe(0);
    expect(read(dir, 'data/billing.txt')).toBe('user1: total_duration=100ms, total_cost=0.50\n');
    expect(await run(['aggregate', 'a.log', '--workers', '0'])).toBe(2);
    expect(await run(['aggregate', 'bad.log'])).toBe(3);
    expect(await run(['aggregate', 'missing.log'])).toBe(1);
  });

  it('--out - whose reader closes early: exit 1, one error naming standard output', async () => {
    const lines = Array.from({ length: 100_000 }, (_, i) => `2025-05-02T10:00:00Z user${i} login 200 5ms\n`).join('');
    const dir = workdir({ 'a.log': lines });
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [cliPath, 'aggregate', 'a.log', '--out', '-', '--log-format', 'json'], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.once('data', () => child.stdout.destroy()); // as `| head -1` does
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code, stderr).toBe(1);
    const errors = reportedErrors(stderr);
    expect(errors).toEqual(['cannot write the bill to standard output: its reader closed it (EPIPE)']);
  });

  it('--log-format human: short lines, no JSON, a table at the end; errors as one mr: line', async () => {
    const dir = workdir({ 'a.log': GOOD });
    const r = await runCli(['aggregate', 'a.log', '--log-format', 'human'], { cwd: dir, env: { LOG_LEVEL: 'info' } });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/^\{/m);
    expect(r.stderr).toMatch(/INFO.*bill written/);
    expect(r.stderr).toMatch(/users billed\s*│\s*1\b/);
    expect(r.stderr).toMatch(/total billed\s*│\s*0\.50/);
    const bad = await runCli(['aggregate', 'missing.log', '--log-format', 'human'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n').filter((l) => l.startsWith('mr: '))).toEqual(['mr: cannot read input missing.log: no such file or directory (ENOENT)']);
  });

  it('--log-format human: an error naming a file with a newline or an escape in its name is still one line', async () => {
    const dir = workdir({ 'in/x\ny\x1b[2J.log.gz': 'not gzip' });
    const r = await runCli(['aggregate', 'in', '--log-format', 'human'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.length > 0)).toEqual([expect.stringMatching(/^mr: cannot read in\/x\\ny\\x1b\[2J\.log\.gz: /)]);
  });

  it('on a terminal: a progress bar and human log lines by default (both loaded only there)', async () => {
    // util-linux's script(1) gives the CLI a pseudo-terminal for stdout and stderr.
    const dir = workdir({ 'a.log': GOOD.repeat(2000) });
    const command = [process.execPath, cliPath, 'aggregate', 'a.log', '--engine', 'naive'].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: dir, encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'info', TERM: 'dumb' } });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    // 86,000 bytes: sized in KiB (84 of them), not 0/0 MiB.
    expect(r.stdout).toMatch(/mr naive \[.*\] \d+% \| \d+\/84 KiB \| [\d.]+ MiB\/s/);
    expect(r.stdout).toMatch(/INFO.*bill written/);
    expect(r.stdout).not.toMatch(/^\{"level"/m);
    expect(read(dir, 'data/billing.txt')).toBe('user1: total_duration=200000ms, total_cost=1000.00\n');
    // JSON log lines asked for on a terminal: only JSON lines, no progress bar among them.
    const json = spawnSync('script', ['-qec', `${command} '--log-format' 'json'`, '/dev/null'], { cwd: dir, encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'info', TERM: 'dumb' } });
    expect(json.status).toBe(0);
    const lines = json.stdout.split(/\r?\n/).filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^\{"level":.*\}$/);
  });
});

describe('an open-files limit too low for mr to load', () => {
  it('is one line and exit 1, not Node\'s stack trace; nothing is written', () => {
    const dir = workdir({ 'a.log': GOOD });
    const command = [process.execPath, cliPath, 'aggregate', 'a.log'].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('bash', ['-c', `ulimit -n 24 && exec ${command}`], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toBe('mr: cannot start: too many open files (the open-files limit is too low: raise it with ulimit -n)\n');
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });
});

describe.concurrent('usage errors: one line, exit 2', () => {
  it.each([
    [['generate', '--out', 'a.log', '--lines', '5', '--start-day', '2025-02-30'], /--start-day/],
    [['generate', '--out', 'a.log', '--lines', '5', '--start-day', '2025-13-45'], /--start-day/],
    [['generate', '--out', 'a.log', '--lines', '5', '--size', '1MiB'], /cannot be used with/],
    [['aggregate', 'a.log', '--engine', 'naive', '--workers', '2'], /--workers is an option of the parallel engine/],
    [['aggregate', 'a.log', '--engine', 'spark', '--shard-size', '1024'], /--shard-size is an option of the parallel engine/],
    [['aggregate', 'a.log', '--remote', 'sc://127.0.0.1:1'], /--remote is an option of the spark engine/],
    [['aggregate', 'a.log', '--log-format', 'xml'], /--log-format/],
    [['aggregate', 'a.log', '--workers', '257'], /--workers must be a whole number from 1 to 256/],
    [['aggregate', 'a.log', '--workers', '99999999999'], /--workers must be a whole number from 1 to 256/],
    [['aggregate', 'a.log', '--workers', '0'], /--workers must be a whole number from 1 to 256/],
    [['aggregate', 'a.log', '--s3-streams', '2'], /--s3-streams applies to s3:\/\/ \(or s3a:\/\/\) paths only/],
  ])('mr %j', async (args, message) => {
    const dir = workdir({ 'a.log': GOOD });
    const r = await runCli(args, { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    const errors = reportedErrors(r.stderr);
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(r.stderr.trim().split('\n'), 'the error is the only thing printed').toHaveLength(1);
    expect(listFiles(dir)).toEqual(['.env', 'a.log']);
  });

  it('--shard-size that cuts the inputs into over 100,000 shards: exit 2 before any is read', async () => {
    const dir = workdir({ 'a.log': GOOD.repeat(2400) });
    const r = await runCli(['aggregate', 'a.log', '--shard-size', '1'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(reportedErrors(r.stderr)).toEqual([
      '--shard-size 1 cuts the inputs (103200 bytes) into 103200 shards, over 100000: give a larger --shard-size, or leave it out',
    ]);
    expect(listFiles(dir)).toEqual(['.env', 'a.log']);
    const ok = await runCli(['aggregate', 'a.log', '--shard-size', '1032'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(read(dir, 'data/billing.txt')).toBe('user1: total_duration=240000ms, total_cost=1200.00\n');
  }, 60_000);

  it('a valid leap day is accepted by generate', async () => {
    const dir = workdir();
    const r = await runCli(['generate', '--out', 'a.log', '--lines', '5', '--start-day', '2024-02-29'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
  });

  it('bare mr prints the help on stderr and exits 2', async () => {
    const r = await runCli([], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: mr/);
    expect(r.stdout).toBe('');
  });
});

describe('the naive engine past its heap: exit 1, a clear error, nothing written (engine/naive/heap-guard.ts)', () => {
  it('stops with the way out instead of the fatal out-of-memory abort, and leaves the previous bill as it was', () => {
    // 250,000 users, each on one line: more than a 128 MiB heap holds as the naive engine's table
    // (about 600 bytes a user). Read from standard input, in pipe-sized chunks (64 KiB, about 750
    // users), so that the heap grows by less than a megabyte between two checks.
    const users = 250_000;
    const logs = Array.from({ length: users }, (_, i) => `2025-05-02T10:00:00Z user-${String(i).padStart(7, '0')}-of-a-large-customer-base login 200 ${1 + (i % 900)}ms\n`).join('');
    const dir = workdir({ 'out/billing.txt': 'the previous bill\n' });
    // The young generation made small, as Node's default limit has it in proportion (see heap-guard.ts).
    const run = (heap: readonly string[]) =>
      spawnSync(process.execPath, [...heap, cliPath, 'aggregate', '-', '--engine', 'naive', '--out', 'out/billing.txt', '--log-format', 'json'], {
        cwd: dir,
        input: logs,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LOG_LEVEL: 'warn' },
        // spawnSync blocks the test's thread: a child that hangs is killed here, not left to the test's timeout.
        timeout: 120_000,
      });
    const r = run(['--max-old-space-size=128', '--max-semi-space-size=1']);
    expect(r.status, r.stderr).toBe(1);
    const errors = reportedErrors(r.stderr);
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/^the naive engine holds every user in memory, and the JavaScript heap is nearly full at [\d,]+ users \([\d,]+ of [\d,]+ MiB\): bill with --engine parallel/);
    expect(r.stderr).not.toMatch(/FATAL ERROR/);
    expect(listFiles(dir)).toEqual(['.env', 'out/billing.txt']);
    expect(read(dir, 'out/billing.txt')).toBe('the previous bill\n');
    // With a heap that holds them (1 GiB, whatever the machine's default) the same logs are billed.
    const billed = run(['--max-old-space-size=1024']);
    expect(billed.status, billed.stderr).toBe(0);
    expect(read(dir, 'out/billing.txt').split('\n')).toHaveLength(users + 1);
  });
});

describe('a signal that arrives once the outputs are committed', () => {
  it.each(ENGINES)('%s: SIGTERM during the commit’s last rename: the new set, exit 0 (143 would say the previous set was kept)', async (engine) => {
    const dir = workdir({ 'old.log': GOOD, 'new.log': GOOD.replace('user1', 'user2') });
    // A preload that sends the process SIGTERM as it renames the bill into place (the commit's last step); the handler runs after the commit.
    const preload = join(dir, 'term-at-commit.cjs');
    writeFileSync(
      preload,
      `const fs = require('node:fs');
const original = fs.renameSync;
fs.renameSync = function (from, to) {
  if (String(from).includes('.mr-staging') && String(to).endsWith('billing.txt')) process.kill(process.pid, 'SIGTERM');
  return original.apply(this, arguments);
};
`,
    );
    const args = (input: string) => ['aggregate', input, ...engineArgs(engine), '--out', 'o/billing.txt', '--no-progress'];
    expect((await runMr(args('old.log'), { cwd: dir })).code).toBe(0);
    const r = await runMr(args('new.log'), { cwd: dir, preload: [preload] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/bill written/);
    expect(read(dir, 'o/billing.txt')).toBe('user2: total_duration=100ms, total_cost=0.50\n');
    expect(listFiles(join(dir, 'o'))).toEqual(OUTPUTS);
    // Two signals there with --json: never exit 0 without the summary on standard output. Either
    // the run printed it before the signals were handled (exit 0), or it was stopped before (exit 1, saying so).
    writeFileSync(preload, readFileSync(preload, 'utf8').replace("process.kill(process.pid, 'SIGTERM');", "{ process.kill(process.pid, 'SIGTERM'); process.kill(process.pid, 'SIGINT'); }"));
    const twice = await runMr([...args('old.log'), '--json'], { cwd: dir, preload: [preload] });
    expect(read(dir, 'o/billing.txt')).toBe('user1: total_duration=100ms, total_cost=0.50\n');
    if (twice.code === 0) expect(twice.stdout).toBe(read(dir, 'o/billing.summary.json'));
    else {
      expect(twice.code, twice.stderr).toBe(1);
      expect(twice.stderr).toMatch(/SIGINT again: stopping now \(the bill was written; its summary was not printed\)/);
    }
  }, 60_000);
});
