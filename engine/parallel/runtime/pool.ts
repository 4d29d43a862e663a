/** Where the compiled worker module is (package-files.ts: compiled, bundled or run from the TypeScript sources in tests). */
import { compiledFile } from '../../core/package-files.js';

export function workerFile(): string {
  return compiledFile('engine/parallel/worker.js', "the parallel engine's worker");
}
