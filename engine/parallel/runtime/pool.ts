/** Where the compiled worker module is: beside this file when compiled, under dist/ when run from TypeScript sources (tests). */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const compiled = fileURLToPath(new URL('../worker.js', import.meta.url));
  if (!here.endsWith('.ts')) return compiled;
  const root = here.slice(0, here.lastIndexOf('/engine/parallel/'));
  const built = join(root, 'dist', 'engine', 'parallel', 'worker.js');
  if (!existsSync(built)) throw new Error(`the parallel engine's worker is not built: run npm run build (looked for ${built})`);
  return built;
}
