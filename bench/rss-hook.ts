/**
 * Preloaded into every process the harness measures (`node --import dist/bench/rss-hook.js ...`):
 * at exit, the main thread writes the process's peak resident set size (KiB, from
 * `process.resourceUsage().maxRSS`, i.e. getrusage) to the file named by MR_BENCH_RSS_FILE.
 * Worker threads share the process, so their memory is included; child processes (a Spark
 * cluster's JVMs) are not. Works wherever Node runs, unlike `/usr/bin/time -f %M`.
 */
import { writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.MR_BENCH_RSS_FILE;
if (isMainThread && file !== undefined && file !== '') {
  process.on('exit', () => {
    try {
      writeFileSync(file, String(process.resourceUsage().maxRSS));
    } catch {
      // measuring must never change the measured run's outcome
    }
  });
}
