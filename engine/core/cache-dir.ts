/**
 * mr's cache directory, for whatever a run keeps between runs outside the clone (the Spark
 * distribution, the benchmark datasets): $MR_CACHE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/mr.
 * The one definition of that rule in TypeScript (Spark install and run directory, benchmark
 * datasets); k8s/validate/tools.sh, a shell script, applies the same rule.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function mrCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env['MR_CACHE_DIR']) return env['MR_CACHE_DIR'];
  const base = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'mr');
}
