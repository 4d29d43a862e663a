/**
 * Guarantee: a failure is a clear message naming what failed, exit 1 and no bill (no output
 * under its final name, no temporary file left) — never a silently smaller bill.
 *
 * Faults are real, injected from outside the production code: an input file that vanishes,
 * grows, shrinks or is rewritten, becomes a directory or a FIFO, or cannot be read (permissions, as a non-root user) between
 * planning and reading; a truncated or non-gzip `.gz`; a full disk (a 64 KiB tmpfs) and a
 * file-size limit (RLIMIT_FSIZE) under the outputs; and, for the parallel engine, a worker
 * thread that throws or exits mid-shard (a `--require` preload that patches fs.readSync in
 * worker threads only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cleanupTempDirs, engineArgs, reportedErrors, tempDir } from '../../fixtures/harness.js';
import { RATES_ENV, runMr, startCli, type SpawnOptions } from '../../fixtures/guarantees.js';

const GOOD = '2025-05-02T10:00:00Z user1 login 200 100ms\n';
const ENGINES = [['naive'], ['parallel']] as const;

let dir: string;
let tiny: string | undefined;

beforeAll(async () => {
  dir = tempDir('mr-failures-');
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, '.env'), RATES_ENV);
  // A first input big enough that the run is still reading it when the second one is changed.
  const gen = await runMr(['generate', '--out', 'a/big.log', '--size', '64MiB', '--bad', '0.01'], { cwd: dir });
  expect(gen.code, gen.stderr).toBe(0);
  // A 64 KiB tmpfs: a full disk under the outputs.
  tiny = join(dir, 'tiny');
  mkdirSync(tiny);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', tiny], { stdio: 'pipe' });
  } catch (err) {
    process.stderr.write(`[failures] cannot mount a tmpfs (${(err as Error).message}); the full-disk test is skipped, the RLIMIT_FSIZE one still runs\n`);
    tiny = undefined;
  }
}, 120_000);

afterAll(() => {
  if (tiny !== undefined) execFileSync('umount', [tiny]);
  cleanupTempDirs();
});

let cases = 0;

/** A case directory with z/b.log holding one good line; inputs are a/big.log then z/b.log. */
function caseDir(): { out: string; b: string } {
  const name = `case-${++cases}`;
  mkdirSync(join(dir, name, 'z'), { recursive: true });
  writeFileSync(join(dir, name, 'z', 'b.log'), GOOD);
  return { out: `${name}/out`, b: join(dir, name, 'z', 'b.log') };
}

/** Asserts the run failed as promised: exit 1, one `mr:` line matching `message`, no bill, nothing left in the output dir. */
function expectFailure(r: { code: number | string; stderr: string }, out: string, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const errors = reportedErrors(r.stderr);
  expect(errors, r.stderr).toHaveLength(1);
  const line = errors[0];
  expect(line, r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/bill written/);
  expect(existsSync(join(dir, out, 'billing.txt'))).toBe(false);
  expect(existsSync(join(dir, out)) ? readdirSync(join(dir, out)) : [], 'nothing left in the output dir').toEqual([]);
}

/**
 * A preload that holds every open of a path ending in z/b.log (main thread and workers) until
 * the file `release` exists: the fault is applied after planning and before reading, with no
 * race against how fast mr reads a/big.log.
 */
function holdOpen(release: string): string {
  const file = join(dir, `hold-${++cases}.cjs`);
  writeFileSync(
    file,
    `// Test hook: loaded with --require.
const fs = require('node:fs');
const release = ${JSON.stringify(release)};
const held = (p) => String(p).endsWith('z/b.log');
const { openSync } = fs;
const { open } = fs.promises;
fs.openSync = function (p, ...rest) {
  if (held(p)) while (!fs.existsSync(release)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  return openSync.call(this, p, ...rest);
};
fs.promises.open = async function (p, ...rest) {
  if (held(p)) while (!fs.existsSync(release)) await new Promise((r) => setTimeout(r, 10));
  return open.call(this, p, ...rest);
};
require('node:module').syncBuiltinESMExports();
`,
  );
  return file;
}

/** Runs both inputs, applying `fault` to z/b.log once the inputs are planned and before it is opened. */
async function runWithFault(engine: string, fault: (b: string) => void, opts: Partial<SpawnOptions> = {}) {
  const { out, b } = caseDir();
  const release = join(dir, `release-${cases}`);
  const args = ['aggregate', 'a/big.log', b, ...engineArgs(engine), '--out', `${out}/billing.txt`, '--no-progress'];
  const run = startCli(args, { cwd: dir, preload: [holdOpen(release)], ...opts });
  await run.waitFor('inputs found');
  fault(b);
  writeFileSync(release, '');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
  const r = await run.done;
  clearTimeout(timer);
  return { ...r, out };
}

describe.each(ENGINES)('%s engine: input faults after planning', (engine) => {
  it('a file that vanishes → exit 1 naming it, no bill', async () => {
    const r = await runWithFault(engine, (b) => rmSync(b));
    expectFailure(r, r.out, /z\/b\.log.*(ENOENT|no such file)/);
  });

  it('a file that grows after planning (a log still being written) → exit 1 naming it, no bill', async () => {
    const r = await runWithFault(engine, (b) => appendFileSync(b, GOOD.replace('user1', 'user2')));
    expectFailure(r, r.out, new RegExp(`z/b\\.log changed while it was read \\(size ${GOOD.length} → ${2 * GOOD.length} bytes\\)`));
  });

  it('a file truncated after planning → exit 1 naming it, not a smaller bill', async () => {
    const r = await runWithFault(engine, (b) => truncateSync(b, 0));
    expectFailure(r, r.out, new RegExp(`z/b\\.log changed while it was read \\(size ${GOOD.length} → 0 bytes\\)`));
  });

  it('a file rewritten in place after planning, same size → exit 1 naming it, no bill', async () => {
    const r = await runWithFault(engine, (b) => {
      writeFileSync(b, GOOD.replace('user1', 'userX'));
      const later = new Date(Date.now() + 5000);
      utimesSync(b, later, later);
    });
    expectFailure(r, r.out, /z\/b\.log changed while it was read \(modified\)/);
  });

  it('a file replaced by a directory → exit 1 naming it, no bill', async () => {
    const r = await runWithFault(engine, (b) => {
      rmSync(b);
      mkdirSync(b);
    });
    expectFailure(r, r.out, /z\/b\.log.*(EISDIR|not a regular file)/);
  });

  it('a file replaced by a FIFO nobody writes to → exit 1 naming it, no hang', async () => {
    const r = await runWithFault(engine, (b) => {
      rmSync(b);
      execFileSync('mkfifo', [b]);
    });
    expectFailure(r, r.out, /z\/b\.log/);
  });

  it('a file that is not readable (mode 000, run as an unprivileged user) → exit 1 naming it, no bill', async () => {
    const { out, b } = caseDir();
    chmodSync(b, 0o000);
    chownSync(join(dir, out, '..'), 65534, 65534);
    const r = await runMr(['aggregate', 'a/big.log', b, ...engineArgs(engine), '--out', `${out}/billing.txt`, '--no-progress'], {
      cwd: dir,
      uid: 65534,
      gid: 65534,
    });
    expectFailure(r, out, /z\/b\.log.*(EACCES|permission denied)/);
  });
});

describe.each(ENGINES)('%s engine: corrupt gzip', (engine) => {
  const content = Buffer.from(GOOD.repeat(50_000));
  it.each([
    ['truncated', gzipSync(content).subarray(0, 2000), /z\/b\.log\.gz.*corrupt gzip/],
    ['cut inside the trailer', gzipSync(content).subarray(0, gzipSync(content).length - 3), /z\/b\.log\.gz.*corrupt gzip/],
    ['not gzip at all', content, /z\/b\.log\.gz.*corrupt gzip/],
    // zlib takes a NUL after a member for padding and stops there without an error.
    ['a NUL byte after the member', Buffer.concat([gzipSync(content), Buffer.alloc(1)]), /z\/b\.log\.gz.*corrupt gzip.*1 bytes after its last member/],
    ['a NUL byte, then another member', Buffer.concat([gzipSync(content), Buffer.from('\0x'), gzipSync(GOOD)]), /z\/b\.log\.gz.*corrupt gzip/],
  ])('%s → exit 1 naming the file, no bill', async (_what, bytes, message) => {
    const { out } = caseDir();
    const gz = join(dir, out, '..', 'z', 'b.log.gz');
    writeFileSync(gz, bytes);
    const r = await runMr(['aggregate', gz, ...engineArgs(engine), '--out', `${out}/billing.txt`, '--no-progress'], { cwd: dir });
    expectFailure(r, out, message);
  });
});

describe.each(ENGINES)('%s engine: output faults', (engine) => {
  it('a full disk under the outputs (64 KiB tmpfs) → exit 1 naming the output, nothing left, a previous bill untouched', async (ctx) => {
    if (tiny === undefined) ctx.skip();
    const out = join(tiny!, engine);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'billing.txt'), 'previous bill\n');
    const r = await runMr(['aggregate', 'a/big.log', ...engineArgs(engine), '--out', join(out, 'billing.txt'), '--no-progress'], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    const errors = reportedErrors(r.stderr);
    expect(errors, r.stderr).toHaveLength(1);
    const line = errors[0];
    expect(line, r.stderr).toMatch(/billing\.(rejects|detail)\.csv.*ENOSPC/);
    expect(readdirSync(out)).toEqual(['billing.txt']);
    expect(readFileSync(join(out, 'billing.txt'), 'utf8')).toBe('previous bill\n');
    rmSync(out, { recursive: true });
  });

  it('a file-size limit (RLIMIT_FSIZE 64 KiB) → exit 1 naming the output, nothing left', async () => {
    const out = `fsize-${engine}`;
    const r = await runMr(['aggregate', 'a/big.log', ...engineArgs(engine), '--out', `${out}/billing.txt`, '--no-progress'], {
      cwd: dir,
      prlimit: ['--fsize=65536'],
    });
    expectFailure(r, out, /billing\.(rejects|detail)\.csv.*EFBIG/);
  });
});

describe('parallel engine: a large bill rendered by the workers (key ranges, written by the main thread)', () => {
  // 80,000 users: above the 65,536 from which the workers write the bill; about 3 MiB of detail.
  const many = 'many/users.log';
  beforeAll(() => {
    mkdirSync(join(dir, 'many'), { recursive: true });
    writeFileSync(join(dir, many), Array.from({ length: 80_000 }, (_, i) => `2025-05-02T10:00:00Z u${(i * 7919) % 80_000}é login 200 ${i % 1000}ms\n`).join(''));
  });

  it.each([
    ['flat rates', []],
    // The plan is the whole price list: no RATE_ variables (an empty env file instead of the directory's .env).
    ['a pricing plan', ['--pricing', 'many/plan.yaml', '--env-file', 'many/empty.env', '--from', '2025-05-01T00:00:00Z', '--to', '2025-06-01T00:00:00Z']],
  ])('under %s, is the naive engine\'s bill, detail and summary, byte for byte', async (what, args) => {
    writeFileSync(join(dir, 'many', 'empty.env'), '');
    writeFileSync(
      join(dir, 'many', 'plan.yaml'),
      'version: 1\nminimum_charge: "0.10"\ntasks:\n  login: { tiers: [{ up_to_ms: 300, per_ms: "0.01" }, { per_ms: "0.001" }], per_request: "0.02", free_ms: 5 }\ncustomers:\n  u1é: { discount: "12.5%" }\n',
    );
    const runs = [];
    for (const engine of ['naive', 'parallel']) {
      const out = `many-${engine}-${what.replace(/ /g, '-')}`;
      const r = await runMr(['aggregate', many, ...engineArgs(engine), ...args, '--out', `${out}/billing.txt`, '--no-progress'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const read = (f: string) => readFileSync(join(dir, out, f), 'utf8');
      const summary = JSON.parse(read('billing.summary.json')) as Record<string, unknown>;
      for (const k of ['engine', 'workers', 'seconds', 'mib_per_s']) delete summary[k];
      runs.push({ bill: read('billing.txt'), detail: read('billing.detail.csv'), summary, files: readdirSync(join(dir, out)).sort() });
    }
    expect(runs[0]!.summary.users).toBe(80_000);
    expect(runs[1]).toEqual(runs[0]);
  });

  it('a full disk under the outputs (64 KiB tmpfs) → exit 1 naming the output, nothing left, a previous bill untouched', async (ctx) => {
    if (tiny === undefined) ctx.skip();
    const out = join(tiny!, 'many');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'billing.txt'), 'previous bill\n');
    const r = await runMr(['aggregate', many, ...engineArgs('parallel'), '--out', join(out, 'billing.txt'), '--no-progress'], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    const errors = reportedErrors(r.stderr);
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0], r.stderr).toMatch(/billing\.(txt|detail\.csv).*ENOSPC/);
    expect(readdirSync(out)).toEqual(['billing.txt']);
    expect(readFileSync(join(out, 'billing.txt'), 'utf8')).toBe('previous bill\n');
    rmSync(out, { recursive: true });
  });

  it('a worker that fails while it renders a range → exit 1 naming the worker\'s failure, nothing left', async () => {
    // Test hook: in worker threads, the second block of shared memory a range is rendered into (SharedBytes) cannot be made.
    const hook = join(dir, 'render-fault.cjs');
    writeFileSync(
      hook,
      `const { isMainThread } = require('node:worker_threads');
if (!isMainThread) {
  const Original = globalThis.SharedArrayBuffer;
  let blocks = 0;
  globalThis.SharedArrayBuffer = class extends Original {
    constructor(...args) {
      if (/SharedBytes/.test(new Error().stack) && ++blocks === 2) throw new Error('injected render fault');
      super(...args);
    }
  };
}
`,
    );
    const r = await runMr(['aggregate', many, ...engineArgs('parallel'), '--out', 'many-render-fault/billing.txt', '--no-progress'], { cwd: dir, preload: [hook] });
    expectFailure(r, 'many-render-fault', /^a worker failed while writing the bill: injected render fault$/);
  });

  it('a file-size limit (RLIMIT_FSIZE 1 MiB) → exit 1 naming the output, nothing left', async () => {
    const r = await runMr(['aggregate', many, ...engineArgs('parallel'), '--out', 'many-fsize/billing.txt', '--no-progress'], { cwd: dir, prlimit: ['--fsize=1048576'] });
    expectFailure(r, 'many-fsize', /billing\.(txt|detail\.csv).*EFBIG/);
  });

  it('a limit that each range fits under but the whole bill does not (RLIMIT_FSIZE 3 MiB) → the write of a later range fails naming it, nothing left', async () => {
    // The bill is about 3.8 MB, rendered in ranges of well under 3 MiB each; the detail is under
    // 3 MiB. Only the write of a later range of the bill after the first crosses the limit.
    const r = await runMr(['aggregate', many, ...engineArgs('parallel'), '--out', 'many-fsize-whole/billing.txt', '--no-progress'], {
      cwd: dir,
      prlimit: ['--fsize=3145728'],
    });
    expectFailure(r, 'many-fsize-whole', /cannot write \S*billing\.txt: file too large \(EFBIG\)/);
  });
});

describe('parallel engine: worker faults', () => {
  /**
   * A preload that, in worker threads only, runs `fault` on the 3rd fs.readSync of an input
   * file (a `.log` opened with fs.openSync) in that worker: mid-shard.
   */
  function workerFault(fault: string): string {
    const file = join(dir, `fault-${++cases}.cjs`);
    writeFileSync(
      file,
      `// Test hook: loaded with --require; the main thread is untouched.
const { isMainThread } = require('node:worker_threads');
if (!isMainThread) {
  const fs = require('node:fs');
  const { openSync, readSync } = fs;
  const inputs = new Set();
  let calls = 0;
  fs.openSync = function (path, ...rest) {
    const fd = openSync.call(this, path, ...rest);
    if (String(path).endsWith('.log')) inputs.add(fd);
    return fd;
  };
  fs.readSync = function (fd, ...rest) {
    if (inputs.has(fd) && ++calls === 3) { ${fault} }
    return readSync.call(this, fd, ...rest);
  };
  require('node:module').syncBuiltinESMExports();
}
`,
    );
    return file;
  }

  it.each([
    ['throws', "throw new Error('injected worker fault');", /worker failed on a\/big\.log bytes \d+-\d+: injected worker fault/],
    ['exits', 'process.exit(9);', /worker failed on a\/big\.log bytes \d+-\d+.*(exit|9)/],
    // An input's failure is reported as the naive engine reports it (kind input), not as the worker's.
    ['hits an I/O error', "const e = new Error('EIO: i/o error, read'); e.code = 'EIO'; e.syscall = 'read'; throw e;", /^cannot read a\/big\.log: i\/o error \(EIO\)$/],
  ])('a worker that %s mid-shard → exit 1 naming the shard (the file for an input\'s failure), no bill', async (_what, fault, message) => {
    const out = `worker-${++cases}`;
    const r = await runMr(['aggregate', 'a/big.log', '--engine', 'parallel', '--workers', '2', '--out', `${out}/billing.txt`, '--no-progress'], {
      cwd: dir,
      preload: [workerFault(fault)],
    });
    expectFailure(r, out, message);
  });
});

/** A tmpfs of its own at a new directory (mount options as given) for `fn`, unmounted after; false when none can be mounted (not root). */
async function onTmpfs(options: string, fn: (mnt: string) => Promise<void>): Promise<boolean> {
  const mnt = join(dir, `mnt-${options.replace(/\W/g, '-')}`);
  mkdirSync(mnt, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mnt], { stdio: 'pipe' });
  } catch {
    return false;
  }
  try {
    await fn(mnt);
  } finally {
    execFileSync('umount', [mnt]);
  }
  return true;
}

describe.each(ENGINES)('%s engine: a file system out of inodes under the outputs', (engine) => {
  it('at every count of free inodes: exit 1, a run failure naming an output (not its staging name), the previous set as it was, or exit 0 and the whole set', async (ctx) => {
    writeFileSync(join(dir, 'g.log'), GOOD);
    let failed = 0;
    for (let inodes = 2; inodes <= 12; inodes++) {
      const mounted = await onTmpfs(`size=1m,nr_inodes=${inodes}`, async (mnt) => {
        const out = join(mnt, 'o');
        mkdirSync(out);
        // The previous set takes four inodes where there are enough; else as many of its files as fit.
        const previous: string[] = [];
        for (const name of ['billing.txt', 'billing.detail.csv', 'billing.summary.json', 'billing.rejects.csv']) {
          try {
            writeFileSync(join(out, name), `previous ${name}\n`);
            previous.push(name);
          } catch {
            break;
          }
        }
        const r = await runMr(['aggregate', 'g.log', ...engineArgs(engine), '--out', join(out, 'billing.txt'), '--no-progress', '--log-format', 'json'], { cwd: dir });
        const what = `nr_inodes=${inodes}: ${r.stderr}`;
        if (r.code === 0) {
          expect(readdirSync(out).sort(), what).toEqual(['billing.detail.csv', 'billing.rejects.csv', 'billing.summary.json', 'billing.txt']);
          expect(readFileSync(join(out, 'billing.txt'), 'utf8'), what).toMatch(/^user1: /);
          return;
        }
        failed++;
        expect(r.code, what).toBe(1);
        const errors = r.stderr.split('\n').filter((l) => l.includes('"level":"error"')).map((l) => JSON.parse(l) as { error: string; msg: string });
        expect(errors, what).toEqual([expect.objectContaining({ error: 'run_failure', msg: expect.stringMatching(/no space left on device \(ENOSPC\)/) })]);
        expect(errors[0]!.msg, what).not.toMatch(/mr-staging|mr-probe/);
        expect(readdirSync(out).sort(), what).toEqual([...previous].sort());
        for (const name of previous) expect(readFileSync(join(out, name), 'utf8'), what).toBe(`previous ${name}\n`);
      });
      if (!mounted) ctx.skip();
    }
    expect(failed, 'some counts of inodes are too few').toBeGreaterThan(0);
  });

  it('folders made for --out, at every count of free inodes: a failure leaves none of them (exit 1), else the whole set', async (ctx) => {
    writeFileSync(join(dir, 'g.log'), GOOD);
    let failed = 0;
    for (let inodes = 2; inodes <= 8; inodes++) {
      const mounted = await onTmpfs(`size=1m,nr_inodes=${inodes}`, async (mnt) => {
        const r = await runMr(['aggregate', 'g.log', ...engineArgs(engine), '--out', join(mnt, 'a', 'b', 'billing.txt'), '--no-progress', '--log-format', 'json'], { cwd: dir });
        const what = `nr_inodes=${inodes}: ${r.stderr}`;
        if (r.code === 0) {
          expect(readdirSync(join(mnt, 'a', 'b')).sort(), what).toEqual(['billing.detail.csv', 'billing.rejects.csv', 'billing.summary.json', 'billing.txt']);
          return;
        }
        failed++;
        expect(r.code, what).toBe(1);
        expect(readdirSync(mnt), what).toEqual([]);
      });
      if (!mounted) ctx.skip();
    }
    expect(failed, 'some counts of inodes are too few').toBeGreaterThan(0);
  });
});

describe('a full disk before anything is written', () => {
  it('the lock cannot be written (a full 64 KiB tmpfs) → exit 1, a run failure naming the outputs, the directory made for them removed, nothing left', async (ctx) => {
    if (tiny === undefined) ctx.skip();
    const filler = join(tiny!, 'filler');
    // Filled to its last block: empty files and directories still fit, the lock's line does not.
    try {
      for (let i = 0; ; i++) appendFileSync(filler, Buffer.alloc(i < 100 ? 4096 : 1));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    try {
      const out = join(tiny!, 'made', 'billing.txt');
      const r = await runMr(['aggregate', 'a/big.log', '--out', out, '--no-progress', '--log-format', 'json'], { cwd: dir });
      expect(r.code, r.stderr).toBe(1);
      const error = r.stderr.split('\n').filter((l) => l.includes('"level":"error"')).map((l) => JSON.parse(l) as { error: string; msg: string });
      expect(error).toEqual([expect.objectContaining({ error: 'run_failure', msg: `cannot lock the outputs ${out}: no space left on device (ENOSPC)` })]);
      expect(readdirSync(tiny!)).toEqual(['filler']);
    } finally {
      rmSync(filler);
    }
  });
});
