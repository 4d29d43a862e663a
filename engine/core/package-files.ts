/**
 * Where the package's own files are (the parallel engine's worker module, the Spark functions'
 * Java sources), found from the package's root: the nearest directory up from this module
 * that holds a package.json. The same rule holds wherever the code runs: compiled (dist/…),
 * bundled (`npm run build` bundles the CLI and the worker, and a module's code then sits in a
 * chunk under dist/chunks/, so a path relative to the module would point elsewhere), and from
 * the TypeScript sources (the tests). The one definition of it.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
/** True when this code runs from the TypeScript sources (vitest), not from dist/. */
const fromSources = here.endsWith('.ts');

let root: string | undefined;

/** The package's root directory. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  for (let dir = dirname(here); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return (root = dir);
    if (dirname(dir) === dir) throw new Error(`internal: no package.json above ${here}`);
  }
}

/** A module of the compiled tree, dist/<path>; from the sources too (a worker thread runs compiled code). */
export function compiledFile(path: string, what: string): string {
  const file = join(packageRoot(), 'dist', path);
  if (fromSources && !existsSync(file)) throw new Error(`${what} is not built: run npm run build (looked for ${file})`);
  return file;
}

/**
 * A file the build copies from the sources into dist/ (same relative path): the sources' copy
 * when running from them, so an edit counts without a build; else the compiled tree's (an
 * installed package ships dist/ only).
 */
export function shippedFile(path: string): string {
  return join(packageRoot(), fromSources ? '' : 'dist', path);
}
