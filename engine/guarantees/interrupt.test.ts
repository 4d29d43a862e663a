/**
 * Guarantee: an interrupted run writes no bill. SIGINT, SIGTERM or SIGHUP mid-run stops the
 * workers, removes the temporary files and exits non-zero (130 / 143 / 129) within 2 seconds; after
 * `kill -9` no partial bill is visible (a previous bill stays whole) and the next run is
 * unaffected by the leftovers. Both in-process engines, on 256 MiB of generated logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, engineArgs, tempDir } from '../../fixtures/harness.js';
import { OUTPUT_NAMES, RATES_ENV, runMr, startCli } from '../../fixtures/guarantees.js';

let dir: string;
/** The bill of a clean run on the same input. */
let reference: Record<string, string>;

const STAGING = /^\.mr-staging-/;
const LOCK = '.billing.mr-lock';

beforeAll(async () => {
  dir = tempDir('mr-interrupt-');
  writeFileSync(join(dir, '.env'), RATES_ENV);
  const gen = await runMr(['generate', '--out', 'in/big.log', '--size', '256MiB', '--bad', '0.001'], { cwd: dir });
  expect(gen.code, gen.stderr).toBe(0);
  const ref = await runMr(['aggregate', 'in', '--engine', 'parallel', '--out', 'ref/billing.txt', '--no-progress'], { cwd: dir });
  expect(ref.code, ref.stderr).toBe(0);
  reference = Object.fromEntries(['billing.txt', 'billing.detail.csv', 'billing.rejects.csv'].map((n) => [n, readFileSync(join(dir, 'ref', n), 'utf8')]));
}, 120_000);

afterAll(cleanupTempDirs);

describe.each([['naive'], ['parallel']])('%s engine', (engine) => {
  it.each([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)(
    '%s mid-run: exit %i within 2 s, no bill, no temporary files',
    async (signal, expected) => {
      const out = `out-${engine}-${signal}`;
      const run = startCli(['aggregate', 'in', ...engineArgs(engine), '--out', `${out}/billing.txt`, '--no-progress'], { cwd: dir });
      await run.waitFor('inputs found');
      await new Promise((r) => setTimeout(r, 300));
      // The staged outputs exist while the run is under way.
      expect(readdirSync(join(dir, out)).some((n) => STAGING.test(n)), run.stderr()).toBe(true);
      const sentAt = Date.now();
      run.child.kill(signal);
      const { code, at, stderr } = await run.done;
      expect(at - sentAt, 'seconds from the signal to exit').toBeLessThan(2000);
      expect(code, stderr).toBe(expected);
      expect(stderr).toMatch(new RegExp(`interrupted by ${signal}`));
      expect(stderr).not.toMatch(/bill written/);
      // Nothing left: the output directory, which the run made, is removed again.
      expect(existsSync(join(dir, out)), 'nothing left of the output directory').toBe(false);
    },
    30_000,
  );

  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)(
    '%s while waiting on standard input that sends nothing (a terminal, an idle pipe): exit %i, no lock or output directory left',
    async (signal, expected) => {
      const out = `out-${engine}-stdin-${signal}`;
      const run = startCli(['aggregate', '-', ...engineArgs(engine), '--out', `${out}/billing.txt`, '--no-progress'], { cwd: dir, stdinPipe: true });
      // The lock is taken before standard input is read: from then on mr waits on the pipe.
      while (!existsSync(join(dir, out, LOCK))) {
        if (run.child.exitCode !== null) throw new Error(`mr ended before waiting on standard input: ${run.stderr()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 200));
      run.child.kill(signal);
      const { code, stderr } = await run.done;
      run.child.stdin!.destroy();
      expect(code, stderr).toBe(expected);
      expect(stderr).toMatch(new RegExp(`interrupted by ${signal}`));
      expect(stderr).not.toMatch(/did not stop within/);
      expect(existsSync(join(dir, out)), 'nothing left of the output directory').toBe(false);
    },
    30_000,
  );

  it('kill -9 mid-run: no partial bill visible (a previous bill stays whole), and the next run is unaffected', async () => {
    const out = `out-${engine}-kill9`;
    // The parallel case starts with a previous bill in place; the naive case with none.
    const previous = engine === 'parallel';
    if (previous) {
      mkdirSync(join(dir, out));
      writeFileSync(join(dir, out, 'billing.txt'), reference['billing.txt']!);
    }
    const args = ['aggregate', 'in', ...engineArgs(engine), '--out', `${out}/billing.txt`, '--no-progress'];
    const run = startCli(args, { cwd: dir });
    await run.waitFor('inputs found');
    await new Promise((r) => setTimeout(r, 300));
    run.child.kill('SIGKILL');
    const { code } = await run.done;
    expect(code).toBe('SIGKILL');
    const left = readdirSync(join(dir, out));
    // The killed run's staging files and lock stay until the next run (a lock of a dead pid is taken over).
    expect(left).toContain(LOCK);
    const visible = left.filter((n) => !STAGING.test(n) && n !== LOCK);
    if (previous) {
      expect(visible).toEqual(['billing.txt']);
      expect(readFileSync(join(dir, out, 'billing.txt'), 'utf8')).toBe(reference['billing.txt']);
    } else {
      expect(visible, 'no output under its final name').toEqual([]);
    }
    expect(left.filter((n) => STAGING.test(n)).length, 'the killed run had staged outputs').toBeGreaterThan(0);

    const again = await runMr(args, { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/took over the lock of the outputs from a run that died/);
    for (const [name, text] of Object.entries(reference)) expect(readFileSync(join(dir, out, name), 'utf8'), name).toBe(text);
    expect(readdirSync(join(dir, out)).filter((n) => !STAGING.test(n)).sort()).toEqual(OUTPUT_NAMES);
    expect(existsSync(join(dir, out, 'billing.summary.json'))).toBe(true);
  }, 60_000);
});
