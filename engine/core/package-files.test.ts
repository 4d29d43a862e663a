import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compiledFile, packageRoot, shippedFile } from './package-files.js';

describe('package-files: the package root anchors its own files', () => {
  it("finds mr's own package.json, not the Spark Connect workspace's or another", () => {
    const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { name: string };
    expect(manifest.name).toBe('mr');
    expect(existsSync(join(packageRoot(), 'engine', 'core', 'package-files.ts'))).toBe(true);
  });

  it('names a compiled module under dist/ (built by npm test before vitest runs), and says "not built" for one that is not there', () => {
    expect(compiledFile('engine/parallel/worker.js', 'the worker')).toBe(join(packageRoot(), 'dist', 'engine', 'parallel', 'worker.js'));
    expect(existsSync(compiledFile('engine/parallel/worker.js', 'the worker'))).toBe(true);
    expect(() => compiledFile('engine/parallel/no-such-module.js', 'a test module')).toThrow(/^a test module is not built: run npm run build \(looked for .*no-such-module\.js\)$/);
  });

  it('names a shipped file in the sources when running from them (an edit counts without a build)', () => {
    const dir = shippedFile('spark/functions/java/mr/spark/functions/');
    expect(dir).toBe(join(packageRoot(), 'spark', 'functions', 'java', 'mr', 'spark', 'functions') + '/');
    expect(existsSync(join(dir, 'Version.java'))).toBe(true);
  });
});
