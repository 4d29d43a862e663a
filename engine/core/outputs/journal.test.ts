import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunFailure } from '../errors.js';
import { applyJournal, journalPath, rollForward, writeJournal, type Rename } from './journal.js';
import { cleanupTempDirs, listFiles, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

const NAMES = ['billing.rejects.csv', 'billing.detail.csv', 'billing.summary.json', 'billing.txt'];

/** A previous set and a new one staged beside it (the bill renamed last), with the path of their commit's journal, as a run leaves them before its commit. */
function stagedSet(): { dir: string; journal: string; renames: Rename[] } {
  const dir = tempDir();
  const renames = NAMES.map((n) => ({ from: join(dir, `.mr-staging-1-x-${n}`), to: join(dir, n) }));
  for (const r of renames) {
    writeFileSync(r.to, `old ${r.to}\n`);
    writeFileSync(r.from, `new ${r.to}\n`);
  }
  return { dir, journal: journalPath(join(dir, 'billing.txt')), renames };
}

/** A staged set and the journal of its commit, as a run writes them before its renames. */
function interruptedCommit(): { dir: string; journal: string; renames: Rename[] } {
  const set = stagedSet();
  writeJournal(set.journal, set.renames);
  return set;
}

const contents = (renames: readonly Rename[]) => renames.map((r) => readFileSync(r.to, 'utf8').split(' ')[0]);

describe('rollForward: the next run completes a commit killed between its renames', () => {
  it('from any rename on: the set becomes the new one whole, the journal goes', () => {
    for (let done = 0; done <= NAMES.length; done++) {
      const { dir, journal, renames } = interruptedCommit();
      for (const r of renames.slice(0, done)) renameSync(r.from, r.to);
      expect(rollForward(journal)).toEqual({ completed: renames.slice(done).map((r) => r.to), abandoned: [] });
      expect(contents(renames)).toEqual(['new', 'new', 'new', 'new']);
      expect(listFiles(dir)).toEqual([...NAMES].sort());
    }
  });

  it('a staged file removed before any rename (a cleaner of dot files): the commit is dropped, the previous set stays whole', () => {
    const { dir, journal, renames } = interruptedCommit();
    rmSync(renames[3]!.from);
    expect(rollForward(journal)).toEqual({ completed: [], abandoned: [renames[3]!.to] });
    expect(contents(renames)).toEqual(['old', 'old', 'old', 'old']);
    expect(listFiles(dir)).toEqual([...NAMES].sort());
  });

  it('a staged file removed after some renames: a run failure saying the set is mixed and the way out; nothing more renamed', () => {
    const { dir, journal, renames } = interruptedCommit();
    renameSync(renames[0]!.from, renames[0]!.to);
    rmSync(renames[3]!.from);
    expect(() => rollForward(journal)).toThrow(RunFailure);
    expect(() => rollForward(journal)).toThrow(
      `the commit journal ${journal} cannot be completed (the staged ${renames[3]!.to} is gone), and the interrupted run had replaced ${renames[0]!.to}: the outputs may be a mixed set; check them, remove the journal and run again to replace the whole set`,
    );
    expect(contents(renames)).toEqual(['new', 'old', 'old', 'old']);
    expect(existsSync(journal)).toBe(true);
    rmSync(journal);
    expect(rollForward(journal)).toEqual({ completed: [], abandoned: [] });
    expect(listFiles(dir).filter((n) => !NAMES.includes(n))).toHaveLength(2);
  });

  it('the next staged file removed right after a kill between renames: a run failure, never a dropped or half-completed commit', () => {
    const { journal, renames } = interruptedCommit();
    renameSync(renames[0]!.from, renames[0]!.to);
    // Renames 1 and 2 look done (sources gone), but rename 1's output is still the old file.
    rmSync(renames[1]!.from);
    renameSync(renames[2]!.from, renames[2]!.to);
    expect(() => rollForward(journal)).toThrow(/billing\.detail\.csv is not the file it staged/);
    expect(existsSync(journal)).toBe(true);
  });

  it('the first staged file removed after a kill before any rename: the message does not claim nothing was replaced, which it cannot tell', () => {
    const { journal, renames } = interruptedCommit();
    rmSync(renames[0]!.from);
    expect(() => rollForward(journal)).toThrow(
      `the commit journal ${journal} cannot be completed (${renames[0]!.to} is not the file it staged (removed before its rename, or changed since)), and whether the interrupted run replaced any of its files cannot be told: the outputs may be a mixed set; check them, remove the journal and run again to replace the whole set`,
    );
    expect(contents(renames)).toEqual(['old', 'old', 'old', 'old']);
    expect(existsSync(journal)).toBe(true);
  });

  it('a rename that fails mid-commit: a run failure that says the next run completes it once the cause is fixed, and the next run then does', () => {
    const { journal, renames } = interruptedCommit();
    // The summary's place taken by a directory: its rename fails (an immutable file, chattr +i, fails the same way).
    const blocked = renames[2]!.to;
    rmSync(blocked);
    mkdirSync(blocked);
    writeFileSync(join(blocked, 'x'), '');
    expect(() => applyJournal(journal, renames)).toThrow(new RegExp(`^cannot write ${blocked}: .*; the commit is incomplete: the next run on the same --out completes it once that is fixed$`));
    expect(contents(renames.slice(0, 2))).toEqual(['new', 'new']);
    expect(() => rollForward(journal)).toThrow(/the commit is incomplete: the next run on the same --out completes it once that is fixed$/);
    rmSync(blocked, { recursive: true });
    expect(rollForward(journal)).toEqual({ completed: renames.slice(2).map((r) => r.to), abandoned: [] });
    expect(contents(renames)).toEqual(['new', 'new', 'new', 'new']);
  });

  it('the identity holds no device number (it can change across a remount or a reboot): inode, size and time; the commit is completed', () => {
    const { journal, renames } = interruptedCommit();
    renameSync(renames[0]!.from, renames[0]!.to);
    renameSync(renames[1]!.from, renames[1]!.to);
    const text = JSON.parse(readFileSync(journal, 'utf8')) as { renames: Array<{ id: string }> };
    const st = statSync(renames[0]!.to, { bigint: true });
    expect(text.renames[0]!.id).toBe(`${st.ino}:${st.size}:${st.mtimeNs}`);
    expect(rollForward(journal).completed).toEqual(renames.slice(2).map((r) => r.to));
    expect(contents(renames)).toEqual(['new', 'new', 'new', 'new']);
  });

  it('the output directory moved after a kill between renames: a run failure naming a file outside it and the way out; nothing renamed', () => {
    const { dir, renames } = interruptedCommit();
    renameSync(renames[0]!.from, renames[0]!.to);
    const moved = `${dir}-moved`;
    renameSync(dir, moved);
    const journal = journalPath(join(moved, 'billing.txt'));
    const before = listFiles(moved);
    expect(() => rollForward(journal)).toThrow(RunFailure);
    expect(() => rollForward(journal)).toThrow(
      `the commit journal ${journal} names files outside ${moved} (${renames[0]!.to}; was the directory moved or copied after a run was killed during its commit?): the outputs beside it may be from two runs; check them, remove the journal and run again`,
    );
    expect(listFiles(moved)).toEqual(before);
    rmSync(moved, { recursive: true, force: true });
  });

  it('a journal without identities (written before they were recorded) is completed as before', () => {
    const { journal, renames } = interruptedCommit();
    writeFileSync(journal, `${JSON.stringify({ version: 1, renames: renames.map((r) => ({ from: r.from, to: r.to })) })}\n`);
    renameSync(renames[0]!.from, renames[0]!.to);
    expect(rollForward(journal).completed).toEqual(renames.slice(1).map((r) => r.to));
    expect(contents(renames)).toEqual(['new', 'new', 'new', 'new']);
  });
});

describe('writeJournal: a commit that cannot be recorded', () => {
  it('is a run failure naming the bill, not the journal (a working file), with the staged files and the previous set left as they were', () => {
    const { dir, journal, renames } = stagedSet();
    // The journal's name taken by a folder: its temporary file cannot be renamed there (as a full disk fails its write).
    mkdirSync(journal);
    const before = listFiles(dir);
    expect(() => writeJournal(journal, renames)).toThrow(RunFailure);
    expect(() => writeJournal(journal, renames)).toThrow(new RegExp(`^cannot write ${join(dir, 'billing.txt').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect(() => writeJournal(journal, renames)).not.toThrow(/mr-commit/);
    expect(listFiles(dir)).toEqual(before);
    expect(contents(renames)).toEqual(['old', 'old', 'old', 'old']);
  });
});
