/** Where things are: the repository (the package's root: core/package-files.ts), the built CLI, the dataset cache. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { mrCacheDir } from '../engine/core/cache-dir.js';
import { packageRoot } from '../engine/core/package-files.js';

export const REPO_ROOT = packageRoot();
export const MR_MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');
export const DUCKDB_SCRIPT = join(REPO_ROOT, 'dist', 'bench', 'duckdb-billing.js');
export const SPARK_PLAIN_SCRIPT = join(REPO_ROOT, 'dist', 'bench', 'spark-plain.js');
export const RSS_HOOK = join(REPO_ROOT, 'dist', 'bench', 'rss-hook.js');
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
export const BASELINE_FILE = join(REPO_ROOT, 'bench', 'baseline.json');

/** The node options in mr's shebang (`#!/usr/bin/env -S node <options> --`): the bench runs mr with them, as `mr` does. */
export function mrNodeOptions(): string[] {
  const first = readFileSync(MR_MAIN, 'utf8').slice(0, 500).split('\n')[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: -\S+)*) --$/.exec(first);
  if (m === null) throw new Error(`unexpected first line in ${MR_MAIN}: ${first}`);
  return m[1]!.split(' ').filter((o) => o !== '');
}

/** Generated datasets live outside the clone: $MR_BENCH_CACHE, else bench/ in mr's cache directory (core/cache-dir.ts). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MR_BENCH_CACHE) return resolve(env.MR_BENCH_CACHE);
  return join(mrCacheDir(env), 'bench');
}
