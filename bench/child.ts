/** Spawning a measured child process: wall time, exit code, captured output, peak RSS via rss-hook. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RSS_HOOK } from './paths.js';

export interface ChildResult {
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
  /** Peak resident set size in bytes, when measured. */
  readonly peakRssBytes: number | null;
}

const MAX_CAPTURE = 1 << 20;

export function runChild(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; measureRss?: boolean },
): Promise<ChildResult> {
  let rssDir: string | undefined;
  let env = opts.env ?? process.env;
  let argv = [...args];
  if (opts.measureRss) {
    rssDir = mkdtempSync(join(tmpdir(), 'mr-bench-rss-'));
    env = { ...env, MR_BENCH_RSS_FILE: join(rssDir, 'maxrss') };
    argv = ['--import', RSS_HOOK, ...argv];
  }
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, argv, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_CAPTURE) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-MAX_CAPTURE);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      let peakRssBytes: number | null = null;
      if (rssDir !== undefined) {
        try {
          peakRssBytes = Number(readFileSync(join(rssDir, 'maxrss'), 'utf8')) * 1024;
        } catch {
          peakRssBytes = null;
        }
        rmSync(rssDir, { recursive: true, force: true });
      }
      resolve({ code: code ?? -1, signal, stdout, stderr, seconds, peakRssBytes });
    });
  });
}
