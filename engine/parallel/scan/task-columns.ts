/**
 * Which column of a usage record (UserTable) holds each configured task. A record held a
 * column for every task the rates name, so its size grew with the price list, not with the
 * tasks the logs use: at a million users a list of forty tasks whose lines named five made
 * records of 672 bytes where 112 held the usage, the workers' bounded tables spilled five
 * times as often, and the run took ten times as long (bench/parallel-history.md, "The cliff
 * of many rates").
 *
 * Columns are numbered as the job's workers first meet their tasks, in one map the workers
 * share (a SharedArrayBuffer, numbered with Atomics), so every table of a job numbers its
 * columns alike: a table is as wide as the columns it has met (it widens when a line brings a
 * new one), tables of different widths merge column by column, and the bill reads a task's
 * column through the map (a task with none has no usage).
 */

/** A column number that no table holds: what a task without a column reads as (UserTable, scan/sorted-merge.ts). */
export const NO_COLUMN = 0x7fffffff;

export class TaskColumns {
  /** [0]: columns numbered; [1 + task]: the task's column + 1, 0 while it has none, -1 while a thread numbers it. */
  private readonly words: Int32Array;

  private constructor(
    /** The tasks the rates name (config.rates' order). */
    readonly tasks: number,
    readonly buffer: SharedArrayBuffer | ArrayBuffer,
  ) {
    this.words = new Int32Array(buffer);
    if (this.words.length !== tasks + 1) throw new RangeError(`TaskColumns: ${this.words.length} words for ${tasks} tasks`);
  }

  /** A job's map, empty, as shared memory for its workers (of()), which number the columns as they meet the tasks. */
  static sharedMap(tasks: number): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * (tasks + 1));
  }

  /** A thread's view of a job's map (sharedMap). */
  static of(buffer: SharedArrayBuffer): TaskColumns {
    return new TaskColumns(buffer.byteLength / 4 - 1, buffer);
  }

  /** Every task in its own column, in the rates' order (task t in column t): tables as wide as the rates from the start. */
  static everyTask(tasks: number): TaskColumns {
    const c = new TaskColumns(tasks, new ArrayBuffer(4 * (tasks + 1)));
    c.words[0] = tasks;
    for (let t = 0; t < tasks; t++) c.words[1 + t] = t + 1;
    return c;
  }

  /** A table's columns as its constructor is given them: a map, or a number of tasks, each in its own column (everyTask). */
  static given(columns: TaskColumns | number): TaskColumns {
    return typeof columns === 'number' ? TaskColumns.everyTask(columns) : columns;
  }

  /** Columns numbered so far (by any thread). */
  get count(): number {
    return Atomics.load(this.words, 0);
  }

  /** The task's column, numbered now when it has none. */
  columnOf(task: number): number {
    if (!(task >= 0 && task < this.tasks)) throw new RangeError(`TaskColumns: task ${task} of ${this.tasks}`);
    const w = this.words;
    const v = w[1 + task]!;
    if (v > 0) return v - 1;
    for (;;) {
      const was = Atomics.compareExchange(w, 1 + task, 0, -1);
      if (was > 0) return was - 1;
      if (was === 0) {
        const c = Atomics.add(w, 0, 1);
        Atomics.store(w, 1 + task, c + 1);
        return c;
      }
      // Another thread is numbering it: two atomic operations away.
    }
  }

  /** The task's column, or NO_COLUMN when it has none (nothing numbered). */
  columnIfAny(task: number): number {
    const v = Atomics.load(this.words, 1 + task);
    return v > 0 ? v - 1 : NO_COLUMN;
  }

  /** Each task's column (NO_COLUMN: none), as the map stands. */
  columns(): Int32Array {
    const out = new Int32Array(this.tasks);
    for (let t = 0; t < this.tasks; t++) out[t] = this.columnIfAny(t);
    return out;
  }
}
