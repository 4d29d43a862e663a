/**
 * Progress for long runs: on a terminal a bar (bytes done, MiB/s and ETA; cli-progress on
 * stderr); elsewhere (a pipe, JSON logs, a pod's log) a log line every 30 s of a run, the
 * first after 30 s, so that a short run logs none.
 */
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';

export interface Progress {
  add(bytes: number): void;
  stop(): void;
}

const MIB = 1024 * 1024;
const KIB = 1024;

/** What a progress log line says: the bytes read so far of the run's total, and the rate since it started. */
export interface ProgressReport {
  readonly bytes_read: number;
  readonly bytes_total: number;
  readonly percent: number;
  readonly mib_per_s: number;
}

/** How progress is shown: a bar (default on a terminal), log lines (default elsewhere), or not at all (--no-progress). */
export type ProgressDisplay = 'bar' | 'log' | 'off';

/** Seconds between progress log lines. */
export const PROGRESS_LOG_MS = 30_000;

/**
 * Progress as log lines through `report`, one every `intervalMs`, the first after `intervalMs`:
 * on a timer, so that a run whose reading has stalled (a store that stopped answering) still
 * says how far it is, and that it is not moving. stop() ends them.
 */
export function progressLog(totalBytes: number, report: (p: ProgressReport) => void, intervalMs = PROGRESS_LOG_MS, now: () => number = Date.now): Progress {
  const started = now();
  let next = started + intervalMs;
  let done = 0;
  let stopped = false;
  // One timer, armed for when the next line is due: a line that add() already gave moves it,
  // so the timer never fires just before its line is due and skips a whole interval.
  // Unreferenced: it never keeps the process alive.
  const arm = (ms: number) => setTimeout(onTimer, Math.max(1, ms)).unref();
  // A clock a little behind the timer's waits for what is left of the interval.
  const onTimer = () => (now() < next ? (timer = arm(next - now())) : tick());
  let timer = arm(intervalMs);
  const tick = () => {
    const t = now();
    // Stopped: no line, and no timer armed again by a late add().
    if (stopped || t < next) return;
    next = t + intervalMs;
    clearTimeout(timer);
    timer = arm(intervalMs);
    const read = Math.min(done, totalBytes);
    report({
      bytes_read: read,
      bytes_total: totalBytes,
      percent: totalBytes > 0 ? Math.floor((1000 * read) / totalBytes) / 10 : 100,
      mib_per_s: Math.round((10 * done) / MIB / ((t - started) / 1000)) / 10,
    });
  };
  return {
    add(bytes: number) {
      done += bytes;
      tick();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export function createProgress(
  totalBytes: number,
  label: string,
  display: ProgressDisplay = process.stderr.isTTY === true ? 'bar' : 'log',
  report: (p: ProgressReport) => void = () => undefined,
): Progress {
  if (display === 'off' || totalBytes <= 0) return { add() {}, stop() {} };
  if (display === 'log') return progressLog(totalBytes, report);
  // Loaded only when a bar is shown (a terminal): runs in scripts and CI never pay for it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  const started = Date.now();
  let done = 0;
  // Sizes in KiB under a MiB (a 0/0 MiB bar says nothing), else in MiB.
  const [unit, unitName] = totalBytes < MIB ? [KIB, 'KiB'] : [MIB, 'MiB'];
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {doneSize}/{totalSize} ${unitName} | {rate} MiB/s | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const fields = () => {
    const secs = (Date.now() - started) / 1000;
    return {
      doneSize: (done / unit).toFixed(0),
      totalSize: Math.max(1, Math.round(totalBytes / unit)).toFixed(0),
      rate: secs > 0 ? (done / MIB / secs).toFixed(1) : '0.0',
    };
  };
  bar.start(totalBytes, 0, fields());
  return {
    add(bytes: number) {
      done += bytes;
      bar.update(Math.min(done, totalBytes), fields());
    },
    stop() {
      bar.stop();
    },
  };
}
