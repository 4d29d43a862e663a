import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { prepareOutputs } from './preflight.js';
import { StagedOutputs } from './staged.js';
import { cleanupTempDirs, listFiles, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

const SET = ['billing.detail.csv', 'billing.rejects.csv', 'billing.summary.json', 'billing.txt'];

/** A previous set of outputs in a new directory. */
function previousSet(): string {
  const dir = tempDir();
  for (const name of SET) writeFileSync(join(dir, name), `old ${name}\n`);
  return dir;
}

function refusal(out: string): UsageError {
  try {
    prepareOutputs(out).release();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error(`--out ${out} was accepted`);
}

/** chattr on `path` (the test needs a file system that keeps the flags, as ext4 and xfs do). */
const chattr = (flag: string, path: string) => spawnSync('chattr', [flag, path]).status === 0;

describe('prepareOutputs refuses, before anything is read, outputs it could not replace by a rename', () => {
  it('a device (through a link: --out /dev/null) or a FIFO: exit 2 pointing at --out -, nothing made', () => {
    const dir = tempDir();
    symlinkSync('/dev/null', join(dir, 'null.txt'));
    spawnSync('mkfifo', [join(dir, 'fifo.txt')]);
    expect(refusal(join(dir, 'null.txt')).message).toBe(
      `--out: ${join(dir, 'null.txt')} is not a regular file (a device, FIFO or socket), and the bill's set of files replaces its files; for the bill on standard output use --out -`,
    );
    expect(refusal(join(dir, 'fifo.txt')).message).toMatch(/fifo\.txt is not a regular file/);
    // A companion that is one counts too.
    symlinkSync('/dev/null', join(dir, 'x.summary.json'));
    expect(refusal(join(dir, 'x.txt')).message).toMatch(/x\.summary\.json is not a regular file/);
    expect(listFiles(dir)).toEqual(['fifo.txt', 'null.txt', 'x.summary.json']);
  });

  it('a symbolic link to a regular file (as /dev/stdout is, stdout redirected): exit 2, since a rename replaces the link', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'target.txt'), 'kept\n');
    symlinkSync(join(dir, 'target.txt'), join(dir, 'billing.txt'));
    expect(refusal(join(dir, 'billing.txt')).message).toBe(
      `--out: ${join(dir, 'billing.txt')} is a symbolic link, and the bill's set of files replaces its files by renaming, which would replace the link, not the file it names: give the file's own path (for the bill on standard output, --out -)`,
    );
    expect(listFiles(dir)).toEqual(['billing.txt', 'target.txt']);
  });

  it('a dangling symbolic link, as the bill or a companion: refused as any link (it was replaced by a file)', () => {
    const dir = tempDir();
    symlinkSync(join(dir, 'gone', 'target.txt'), join(dir, 'billing.txt'));
    expect(refusal(join(dir, 'billing.txt')).message).toMatch(/^--out: .*billing\.txt is a symbolic link, /);
    symlinkSync('/nonexistent/t2', join(dir, 'other.summary.json'));
    expect(refusal(join(dir, 'other.txt')).message).toMatch(/^--out: .*other\.summary\.json is a symbolic link, /);
    expect(readdirSync(dir).sort()).toEqual(['billing.txt', 'other.summary.json']);
  });

  it('an immutable or append-only output (chattr +i, +a): exit 2 naming it, the set and the directory as they were', (ctx) => {
    const dir = previousSet();
    const bill = join(dir, 'billing.txt');
    // tmpfs and overlayfs keep no such flags: there is nothing to refuse then.
    if (!chattr('+i', bill)) ctx.skip();
    try {
      expect(refusal(bill).message).toBe(
        `--out: ${bill} cannot be replaced (operation not permitted (EPERM)): is it immutable (chattr +i) or mounted over? The set of four files is replaced whole or not at all`,
      );
    } finally {
      chattr('-i', bill);
    }
    const summary = join(dir, 'billing.summary.json');
    expect(chattr('+a', summary)).toBe(true);
    try {
      expect(refusal(bill).message).toMatch(/billing\.summary\.json cannot be replaced \(operation not permitted \(EPERM\)\)/);
    } finally {
      chattr('-a', summary);
    }
    expect(listFiles(dir)).toEqual(SET);
  });

  it('an ordinary previous set passes, and the checks leave nothing behind', () => {
    const dir = previousSet();
    prepareOutputs(join(dir, 'billing.txt')).release();
    expect(listFiles(dir)).toEqual(SET);
  });
});

describe('a file system made read-only under a run', () => {
  it('the lock, the directory made and the staged files cannot be removed: releasing them does not throw over the run\'s own failure', (ctx) => {
    const mnt = tempDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch {
      ctx.skip(); // not root: no tmpfs of its own
    }
    try {
      const out = join(mnt, 'made', 'billing.txt');
      const prepared = prepareOutputs(out);
      const staged = new StagedOutputs(prepared.journal);
      const bill = staged.add(out);
      bill.write('user1: total_duration=1ms, total_cost=0.01\n');
      bill.close();
      // No file is open for writing now, so the file system can be made read-only (a remount refuses while one is).
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      expect(() => staged.discard()).not.toThrow();
      expect(() => prepared.release()).not.toThrow();
      // Left for the next run, which removes a dead run's staging files and takes over its lock (engine/guarantees).
      expect(readdirSync(join(mnt, 'made')).sort()).toEqual(['.billing.mr-lock', expect.stringMatching(/^\.mr-staging-\d+-[0-9a-f]+-billing\.txt$/)]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
