/**
 * Progress for long runs on a terminal: bytes done, MiB/s and ETA (cli-progress on stderr).
 * Silent when stderr is not a terminal.
 */
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';

export interface Progress {
  add(bytes: number): void;
  stop(): void;
}

const MIB = 1024 * 1024;
const KIB = 1024;

export function createProgress(totalBytes: number, label: string, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled || totalBytes <= 0) return { add() {}, stop() {} };
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
