import { describe, expect, it } from 'vitest';
import type { ExecutionProgress, StageProgress } from '@mr/spark-connect';
import { ClusterProgress } from './progress.js';

const stage = (o: Partial<StageProgress>): StageProgress => ({ stageId: 0, tasks: 4, completedTasks: 0, inputBytesRead: 0, done: false, ...o });
const report = (stages: StageProgress[], inflightTasks: number): ExecutionProgress => ({ stages, inflightTasks });

function progress(total: number, idleMs = 10_000) {
  const bytes: number[] = [];
  const notices: string[] = [];
  let now = 0;
  const p = new ClusterProgress(total, (n) => bytes.push(n), (m) => notices.push(m), idleMs, () => now);
  return { p, bytes, notices, at: (ms: number) => (now = ms) };
}

describe('a spark run\'s progress from the cluster\'s reports', () => {
  it('feeds the bytes the stages read, never past the input\'s size, and the rest at the end', () => {
    const { p, bytes } = progress(1000);
    p.report(report([], 0));
    p.report(report([stage({ inputBytesRead: 0 })], 2));
    p.report(report([stage({ completedTasks: 1, inputBytesRead: 300 })], 2));
    // Reports come twice, and a later stage of the same job reads no input: no bytes twice.
    p.report(report([stage({ completedTasks: 1, inputBytesRead: 300 })], 2));
    p.report(report([stage({ completedTasks: 3, inputBytesRead: 700 }), stage({ stageId: 1, inputBytesRead: 200 })], 2));
    // Splits read past their ends (a last line): capped at the input's size.
    p.report(report([stage({ completedTasks: 4, inputBytesRead: 1100, done: true })], 0));
    p.finish();
    expect(bytes).toEqual([300, 600, 100]);
  });

  it('finish alone gives the whole input (a cluster that sends no reports)', () => {
    const { p, bytes } = progress(1000);
    p.finish();
    p.finish();
    expect(bytes).toEqual([1000]);
  });

  it('says once when the job has had tasks to run and none running for the set time', () => {
    const { p, notices, at } = progress(1000, 10_000);
    const waiting = report([stage({})], 0);
    at(0);
    p.report(waiting);
    at(9_999);
    p.report(waiting);
    expect(notices).toEqual([]);
    at(10_000);
    p.report(waiting);
    at(30_000);
    p.report(waiting);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^spark engine: the cluster has run none of this job's tasks for 10 s: waiting for executor cores/);
  });

  it('does not count a query still planned, tasks running, or a stage whose tasks are all done', () => {
    const { p, notices, at } = progress(1000, 10_000);
    const cases = [
      report([], 0), // no stage yet: planning (listing the inputs)
      report([stage({})], 1), // a task running
      report([stage({ done: true, completedTasks: 4 })], 0),
      report([stage({ completedTasks: 4 })], 0), // every task done, the stage not yet marked
    ];
    for (let k = 0; k < 40; k++) {
      at(k * 1_000);
      p.report(cases[k % cases.length]!);
    }
    expect(notices).toEqual([]);
  });

  it('starts the wait again when a task runs in between', () => {
    const { p, notices, at } = progress(1000, 10_000);
    const waiting = report([stage({})], 0);
    at(0);
    p.report(waiting);
    at(8_000);
    p.report(report([stage({})], 2));
    at(9_000);
    p.report(waiting);
    at(18_000);
    p.report(waiting);
    expect(notices).toEqual([]);
    at(19_000);
    p.report(waiting);
    expect(notices).toHaveLength(1);
  });
});
