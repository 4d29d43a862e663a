import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunFailure } from '../errors.js';
import { acquireOutputLock, lockPath, STALE_MS } from './lock.js';
import { prepareOutputs } from './preflight.js';
import { cleanupTempDirs, listFiles, repoRoot, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

const holderText = (pid: number, host = hostname()) => `${JSON.stringify({ pid, host, started: '2025-05-01T00:00:00.000Z' })}\n`;

/** A pid that ran and has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('acquireOutputLock: one run at a time per set of outputs', () => {
  it('writes this run’s pid and host beside the bill, and release removes it', () => {
    const bill = join(tempDir(), 'billing.txt');
    const lock = acquireOutputLock(bill);
    expect(lock.path).toBe(lockPath(bill));
    expect(lock.path.endsWith('/.billing.mr-lock')).toBe(true);
    const held = JSON.parse(readFileSync(lock.path, 'utf8')) as { pid: number; host: string };
    expect(held).toMatchObject({ pid: process.pid, host: hostname() });
    expect(lock.tookOver).toBeUndefined();
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    // No temporary name left either.
    expect(listFiles(join(bill, '..'))).toEqual([]);
  });

  it('a live run’s lock is refused with its pid and the way out; the lock stays as it was', async () => {
    const bill = join(tempDir(), 'billing.txt');
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(lockPath(bill), holderText(live.pid!));
      let error: unknown;
      try {
        acquireOutputLock(bill);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RunFailure);
      expect((error as Error).message).toBe(
        `another mr run (pid ${live.pid} on ${hostname()}) is writing ${bill}; wait for it or choose another --out (if no mr run is writing this bill, remove ${lockPath(bill)})`,
      );
      expect(readFileSync(lockPath(bill), 'utf8')).toBe(holderText(live.pid!));
      expect(listFiles(join(bill, '..'))).toEqual(['.billing.mr-lock']);
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('a dead run’s lock (kill -9) is taken over and named', () => {
    const bill = join(tempDir(), 'billing.txt');
    const dead = deadPid();
    writeFileSync(lockPath(bill), holderText(dead));
    const lock = acquireOutputLock(bill);
    expect(lock.tookOver).toBe(`pid ${dead} on ${hostname()}`);
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(listFiles(join(bill, '..'))).toEqual([]);
  });

  it('a lock from another host, or one it cannot read, is refused while its lease runs, and left', () => {
    const dir = tempDir();
    const bill = join(dir, 'billing.txt');
    writeFileSync(lockPath(bill), holderText(deadPid(), 'other-host'));
    expect(() => acquireOutputLock(bill)).toThrow(/another mr run \(pid \d+ on other-host\) is writing/);
    writeFileSync(lockPath(bill), 'garbage');
    expect(() => acquireOutputLock(bill)).toThrow(/locked by .*\.billing\.mr-lock, which mr cannot read/);
    expect(listFiles(dir)).toEqual(['.billing.mr-lock']);
  });

  it('a lock untouched for longer than its lease is taken over whatever its host or its pid (a container killed for memory)', () => {
    const dir = tempDir();
    const bill = join(dir, 'billing.txt');
    const old = new Date(Date.now() - STALE_MS - 60_000);
    const pid = deadPid();
    for (const [text, holder] of [
      [holderText(pid, 'other-host'), `pid ${pid} on other-host, untouched for over its lease`],
      [holderText(process.ppid), `pid ${process.ppid} on ${hostname()}, untouched for over its lease`],
      ['garbage', 'a lock mr cannot read, untouched for over its lease'],
    ] as const) {
      writeFileSync(lockPath(bill), text);
      utimesSync(lockPath(bill), old, old);
      const lock = acquireOutputLock(bill);
      expect(lock.tookOver).toBe(holder);
      lock.release();
    }
    expect(listFiles(dir)).toEqual([]);
  });

  it('a run touches its lock while it holds it, and stops when it releases it', async () => {
    const bill = join(tempDir(), 'billing.txt');
    const lock = acquireOutputLock(bill, { heartbeatMs: 20, staleMs: STALE_MS });
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(lock.path, old, old);
    // Polled, not slept: a loaded machine may delay the timer, never skip it.
    const touched = () => Date.now() - statSync(lock.path).mtimeMs < 60_000;
    for (let i = 0; i < 500 && !touched(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(touched()).toBe(true);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
  });

  it('runs that find the same dead run’s lock at once: one takes it over, the others are told it is busy, none fails otherwise', async () => {
    const lockModule = join(repoRoot, 'dist', 'engine', 'core', 'outputs', 'lock.js');
    // Each child waits for the same instant, takes the lock (or reports why not), and holds it
    // until its standard input ends, which the test does once every child has reported: a child
    // that starts late on a loaded machine still finds the winner holding the lock.
    const child = `
      const { acquireOutputLock } = await import(${JSON.stringify(pathToFileURL(lockModule).href)});
      const [bill, at] = process.argv.slice(1);
      while (Date.now() < Number(at)) {}
      let lock;
      try {
        lock = acquireOutputLock(bill);
        console.log(JSON.stringify({ won: lock.tookOver ?? null }));
      } catch (err) {
        console.log(JSON.stringify({ error: err.constructor.name, message: err.message }));
      }
      process.stdin.on('data', () => {});
      process.stdin.on('end', () => { lock?.release(); process.exit(0); });`;
    // Rounds 3-5: every link, rename and read of the lock's files waits a random few ms first,
    // so that the runs interleave between any two of their steps.
    const jitter = join(tempDir(), 'jitter.cjs');
    writeFileSync(
      jitter,
      `const fs = require('node:fs');
for (const name of ['linkSync', 'renameSync', 'readFileSync', 'statSync', 'rmSync']) {
  const original = fs[name];
  fs[name] = function (...args) {
    if (String(args[0]).includes('.mr-lock')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.floor(Math.random() * 8));
    return original.apply(this, args);
  };
}
`,
    );
    for (let round = 0; round < 6; round++) {
      const dir = tempDir();
      const bill = join(dir, 'billing.txt');
      const dead = deadPid();
      writeFileSync(lockPath(bill), holderText(dead));
      const at = Date.now() + 1500;
      type Result = { won?: string | null; error?: string; message?: string };
      const children = Array.from({ length: 6 }, () => {
        const preload = round >= 3 ? ['--require', jitter] : [];
        const c = spawn(process.execPath, [...preload, '--input-type=module', '-e', child, bill, String(at)], { stdio: ['pipe', 'pipe', 'inherit'] });
        const reported = new Promise<Result>((done, fail) => {
          let out = '';
          c.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('\n')) done(JSON.parse(out.trim()) as Result);
          });
          c.on('error', fail);
          c.on('close', () => fail(new Error(`a child ended without a result: ${out}`)));
        });
        const closed = new Promise((r) => c.on('close', r));
        return { c, reported, closed };
      });
      const results = await Promise.all(children.map((x) => x.reported));
      for (const x of children) x.c.stdin.end();
      await Promise.all(children.map((x) => x.closed));
      // The one that replaced the dead run's lock; the others found it held.
      const winners = results.filter((r) => r.won !== undefined);
      expect(winners).toEqual([{ won: `pid ${dead} on ${hostname()}` }]);
      for (const r of results.filter((r) => r.won === undefined)) {
        expect(r.error).toBe('RunFailure');
        expect(r.message).toMatch(/another mr run \(pid \d+ on .*\) is writing|the lock .* keeps changing/);
      }
      expect(listFiles(dir)).toEqual([]);
    }
  }, 60_000);

  it('a takeover guard left by a run killed mid-takeover is removed, and the dead run’s lock taken over', () => {
    const dir = tempDir();
    const bill = join(dir, 'billing.txt');
    const dead = deadPid();
    writeFileSync(lockPath(bill), holderText(dead));
    writeFileSync(`${lockPath(bill)}.takeover`, holderText(deadPid()));
    const lock = acquireOutputLock(bill);
    expect(lock.tookOver).toBe(`pid ${dead} on ${hostname()}`);
    lock.release();
    expect(listFiles(dir)).toEqual([]);
  });

  it('release leaves a lock that is no longer this run’s', () => {
    const bill = join(tempDir(), 'billing.txt');
    const lock = acquireOutputLock(bill);
    writeFileSync(lock.path, holderText(deadPid()));
    lock.release();
    expect(existsSync(lock.path)).toBe(true);
  });
});

describe('prepareOutputs holds the lock for the run', () => {
  it('a second prepare on the same --out (any spelling) is refused until the first releases', () => {
    const dir = tempDir();
    const first = prepareOutputs(join(dir, 'o', 'billing.txt'));
    expect(() => prepareOutputs(`${dir}/o/../o//billing.txt`)).toThrow(RunFailure);
    first.release();
    const second = prepareOutputs(`${dir}/o/../o//billing.txt`);
    second.release();
  });

  it('bills whose names differ only in their extension share their companions, and so the lock', () => {
    const dir = tempDir();
    const first = prepareOutputs(join(dir, 'billing.txt'));
    for (const other of ['billing.csv', 'billing']) {
      expect(() => prepareOutputs(join(dir, other))).toThrow(
        `another mr run (pid ${process.pid} on ${hostname()}) is writing ${join(dir, 'billing.txt')}, whose companion files are this bill's; wait for it`,
      );
    }
    prepareOutputs(join(dir, 'billing2.txt')).release();
    first.release();
    prepareOutputs(join(dir, 'billing.csv')).release();
    expect(listFiles(dir)).toEqual([]);
  });

  it('a directory it created is removed again when the run ends without a bill; an existing one stays', () => {
    const dir = tempDir();
    const made = prepareOutputs(join(dir, 'a', 'b', 'billing.txt'));
    expect(existsSync(join(dir, 'a', 'b', '.billing.mr-lock'))).toBe(true);
    made.release();
    expect(listFiles(dir)).toEqual([]);
    expect(existsSync(join(dir, 'a'))).toBe(false);
    const kept = prepareOutputs(join(dir, 'billing.txt'));
    kept.release();
    expect(existsSync(dir)).toBe(true);
  });

  it('a directory it created that now holds a file stays', () => {
    const dir = tempDir();
    const made = prepareOutputs(join(dir, 'a', 'b', 'billing.txt'));
    writeFileSync(join(dir, 'a', 'b', 'billing.txt'), '');
    made.release();
    expect(listFiles(dir)).toEqual(['a/b/billing.txt']);
  });

  it('removes the temporary lock files of runs that died', () => {
    const dir = tempDir();
    const dead = deadPid();
    writeFileSync(join(dir, `.billing.mr-lock.${dead}.tmp`), holderText(dead));
    writeFileSync(join(dir, `.billing.mr-lock.${dead}.stale`), holderText(dead));
    const prepared = prepareOutputs(join(dir, 'billing.txt'));
    expect(prepared.removed.map((p) => p.slice(dir.length + 1)).sort()).toEqual([`.billing.mr-lock.${dead}.stale`, `.billing.mr-lock.${dead}.tmp`]);
    prepared.release();
    expect(listFiles(dir)).toEqual([]);
  });
});
