/**
 * A spark run's progress, from the reports the Connect server sends while an operation runs
 * (ExecutePlanResponse.ExecutionProgress, every `spark.connect.progress.reportInterval`): the
 * bytes its stages have read from the input, for the progress bar the other engines feed as
 * they read; and a notice when the cluster runs none of the job's tasks for a while, which
 * would otherwise look like a hung run (no free cores: executors still starting, or other jobs
 * holding the cluster's).
 */
import { tasksWaiting, type ExecutionProgress } from '@mr/spark-connect';

/** How long a job may have tasks to run and none running before the run says so (README "Spark engine"). */
export const IDLE_NOTICE_MS = 30_000;

export class ClusterProgress {
  /** Input bytes reported to `onBytes` so far. */
  private reported = 0;
  /** When the reports started saying that tasks wait and none runs (undefined: they do not). */
  private idleSince: number | undefined;
  private noticed = false;

  constructor(
    /** The inputs' size: what the bar reaches, however much the stages say they read (a split's last line is read past its end). */
    private readonly totalBytes: number,
    private readonly onBytes: (bytes: number) => void,
    private readonly notice: (message: string) => void,
    private readonly idleNoticeMs = IDLE_NOTICE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** One progress report of the operation reading the input (or of a later one: its stages read no input). */
  report(p: ExecutionProgress): void {
    let read = 0;
    for (const s of p.stages) read += s.inputBytesRead;
    this.advanceTo(Math.min(this.totalBytes, read));
    // A report with no stage yet is the query still being planned: not waiting.
    if (!tasksWaiting(p)) {
      this.idleSince = undefined;
      return;
    }
    const now = this.now();
    this.idleSince ??= now;
    if (!this.noticed && now - this.idleSince >= this.idleNoticeMs) {
      this.noticed = true;
      const seconds = Math.round((now - this.idleSince) / 1000);
      this.notice(
        `spark engine: the cluster has run none of this job's tasks for ${seconds} s: waiting for executor cores ` +
          '(executors may still be starting, or other jobs hold the cores; `mr spark status` shows a local cluster)',
      );
    }
  }

  /** The input read whole: the bar at its end. */
  finish(): void {
    this.advanceTo(this.totalBytes);
  }

  private advanceTo(bytes: number): void {
    if (bytes <= this.reported) return;
    this.onBytes(bytes - this.reported);
    this.reported = bytes;
  }
}
