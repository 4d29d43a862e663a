/**
 * Guarantee: SIGTERM at any moment of a run ends it with exit 143 (or 0 when the run had
 * already finished), never a native crash, and leaves either the previous set of outputs or
 * a complete new one, with no staging file or journal behind. The moment is drawn at random
 * (seeded, printed) over the whole life of the process, from start-up to exit, many times
 * per engine, so that races between the signal and worker start-up or teardown show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, engineArgs, tempDir } from '../../fixtures/harness.js';
import { OUTPUT_NAMES, RATES_ENV, runMr, startCli } from '../../fixtures/guarantees.js';
import { prng } from '../generate/generator.js';

const ROUNDS = 24;
const SEED = Number(process.env['MR_SIGNAL_SEED'] ?? Date.now() % 100000);

let dir: string;

beforeAll(async () => {
  dir = tempDir('mr-signals-');
  writeFileSync(join(dir, '.env'), RATES_ENV);
  const gen = await runMr(['generate', '--out', 'in/a.log', '--size', '24MiB'], { cwd: dir });
  expect(gen.code, gen.stderr).toBe(0);
  const gen2 = await runMr(['generate', '--out', 'in/b.csv', '--size', '8MiB', '--seed', '2'], { cwd: dir });
  expect(gen2.code, gen2.stderr).toBe(0);
}, 120_000);

afterAll(cleanupTempDirs);

describe.each([['naive'], ['parallel']])('%s engine', (engine) => {
  it(`SIGTERM at ${ROUNDS} random moments: exit 143 or 0, never a crash; the previous set or a whole new one`, async () => {
    process.stderr.write(`[signals] ${engine}: seed ${SEED} (MR_SIGNAL_SEED to repeat)\n`);
    const next = prng(SEED + (engine === 'naive' ? 0 : 1));
    const out = `out-${engine}`;
    const args = ['aggregate', 'in', ...engineArgs(engine), '--out', `${out}/billing.txt`, '--no-progress'];
    const first = await runMr(args, { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const previous = Object.fromEntries(OUTPUT_NAMES.map((n) => [n, readFileSync(join(dir, out, n), 'utf8')]));
    // How long a whole run takes here: moments are drawn from 0 to a little past it. The test
    // files before and beside this one load the machine unevenly, so a round that finished
    // before its signal shortens the span to its own length: a span measured under load made
    // most rounds finish first (parallel, seed 3509: 13 of 24 exited 0).
    const t0 = Date.now();
    expect((await runMr(args, { cwd: dir })).code).toBe(0);
    let span = (Date.now() - t0) * 1.1;
    // Stratified: round r draws its moment in its own 24th of the span (the slices in a seeded
    // order), so the moments cover the whole life evenly; drawn freely, 10 of 24 fell in the
    // last fifth for one seed, where a run has committed its bill and exits 0.
    const slices = Array.from({ length: ROUNDS }, (_, i) => i);
    for (let i = ROUNDS - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [slices[i], slices[j]] = [slices[j]!, slices[i]!];
    }
    const outcomes: Record<string, number> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const delay = Math.floor(((slices[round]! + next()) / ROUNDS) * span);
      const started = Date.now();
      const run = startCli(args, { cwd: dir });
      let exited = 0;
      run.child.once('exit', () => (exited = Date.now()));
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGTERM');
      const { code, stderr } = await run.done;
      if (code === 0) span = Math.min(span, (exited - started) * 1.1);
      const where = `round ${round}, SIGTERM after ${delay} ms (seed ${SEED}): ${stderr}`;
      expect(stderr, where).not.toMatch(/Assertion failed|FATAL ERROR|Segmentation/);
      // Killed by the signal itself only outside mr's code: node still starting (nothing said yet),
      // or the process already exiting after its bill was written (Node drops its handlers then).
      if (code === 'SIGTERM') expect(stderr === '' || /bill written/.test(stderr), where).toBe(true);
      else expect([0, 143], where).toContain(code);
      outcomes[String(code)] = (outcomes[String(code)] ?? 0) + 1;
      const left = readdirSync(join(dir, out)).sort();
      expect(left, where).toEqual(OUTPUT_NAMES);
      // Each run bills the same input, so a whole new set equals the previous one byte for byte (the summary's timing aside).
      for (const n of OUTPUT_NAMES.filter((n) => n !== 'billing.summary.json')) {
        expect(readFileSync(join(dir, out, n), 'utf8'), `${n}, ${where}`).toBe(previous[n]);
      }
      JSON.parse(readFileSync(join(dir, out, 'billing.summary.json'), 'utf8'));
    }
    process.stderr.write(`[signals] ${engine}: outcomes ${JSON.stringify(outcomes)}\n`);
    expect(outcomes['143'] ?? 0, 'most rounds interrupt a run under way').toBeGreaterThan(ROUNDS / 3);
  }, 300_000);
});

describe('a FIFO with no writer as the env file or the pricing plan', () => {
  it.each([
    ['--env-file', 'SIGTERM', 143],
    ['--pricing', 'SIGINT', 130],
  ] as const)('%s: mr waits for its writer, and %s still ends the run (exit %i), nothing written', async (flag, sig, exit) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.log'), '2025-05-02T10:00:00Z u1 login 200 100ms\n');
    writeFileSync(join(dir, 'rates.env'), RATES_ENV);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const args = flag === '--env-file'
      ? ['aggregate', 'a.log', '--env-file', 'fifo', '--out', 'o/billing.txt']
      : ['aggregate', 'a.log', '--env-file', 'rates.env', '--pricing', 'fifo', '--from', '2025-05-01T00:00:00Z', '--to', '2025-06-01T00:00:00Z', '--out', 'o/billing.txt'];
    const run = startCli(args, { cwd: dir });
    // Signalled once mr has the FIFO open (one of its descriptors names it), however long its start takes.
    const fifo = join(dir, 'fifo');
    const holdsFifo = () => {
      try {
        return readdirSync(`/proc/${run.child.pid}/fd`).some((fd) => {
          try {
            return readlinkSync(`/proc/${run.child.pid}/fd/${fd}`) === fifo;
          } catch {
            return false;
          }
        });
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 1000 && !holdsFifo(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(holdsFifo()).toBe(true);
    run.child.kill(sig);
    const { code, stderr } = await run.done;
    expect(code, stderr).toBe(exit);
    expect(readdirSync(dir).sort()).toEqual(['a.log', 'fifo', 'rates.env']);
  }, 30_000);
});
