/**
 * Preloaded into the runs of the pricing case (`node --import dist/bench/cpu-hook.js ...`):
 * at exit, the main thread writes the process's CPU time, user and system, in microseconds
 * (`process.resourceUsage()`, worker threads included) to the file named by
 * MR_BENCH_CPU_FILE. On a shared machine CPU time is steadier than wall time.
 */
import { writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.MR_BENCH_CPU_FILE;
if (isMainThread && file !== undefined && file !== '') {
  process.on('exit', () => {
    try {
      const u = process.resourceUsage();
      writeFileSync(file, `${u.userCPUTime} ${u.systemCPUTime}`);
    } catch {
      // measuring must never change the measured run's outcome
    }
  });
}
