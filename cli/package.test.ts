/**
 * The npm package as a user installs it: `npm pack` of this repository, installed into an
 * empty project, and its `mr` bin run on the reference sample. The package ships dist/ (the
 * bundled CLI and worker with their chunks, the Spark functions' Java sources) and the Spark
 * Connect client, a workspace package that is not on the registry, bundled
 * (package.json bundleDependencies); the tests, the test support and dist/fixtures stay out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { assertBuilt, cleanupTempDirs, nodeFirstPath as PATH, repoRoot, runCli, tempDir } from '../fixtures/harness.js';

afterAll(cleanupTempDirs);

const LOGS = resolve(repoRoot, '../shared/reference/api_logs.txt');
const ENV = resolve(repoRoot, '../shared/reference/original.env');
/**
 * The environment without the npm_* variables of the `npm test` that runs vitest: among them
 * npm_config_local_prefix names this repository, which an npm run in the empty project must
 * not take for its own.
 */
const NPM_ENV = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), PATH };

function npm(args: readonly string[], cwd: string): string {
  return execFileSync('npm', [...args], { cwd, encoding: 'utf8', env: NPM_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('the npm package', () => {
  let packDir = '';
  let packed: { filename: string; files: { path: string }[] };
  let files: string[] = [];
  beforeAll(() => {
    assertBuilt();
    packDir = tempDir('mr-pack-');
    // --ignore-scripts: the package is built already (npm test builds first); prepare would build it again.
    [packed] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], repoRoot)) as (typeof packed)[];
    files = packed.files.map((f) => f.path);
  }, 120_000);

  it('ships the bundled entry points, their chunks, the Java sources and the Spark Connect client', () => {
    for (const f of ['dist/cli/main.js', 'dist/engine/parallel/worker.js', 'node_modules/@mr/spark-connect/dist/index.js', 'node_modules/@mr/spark-connect/package.json']) {
      expect(files, f).toContain(f);
    }
    expect(files.some((f) => f.startsWith('dist/chunks/'))).toBe(true);
    expect(files.some((f) => f.startsWith('dist/spark/functions/java/') && f.endsWith('.java'))).toBe(true);
  });

  it('leaves the tests, the test support and the sources out', () => {
    const own = files.filter((f) => !f.startsWith('node_modules/'));
    expect(own.filter((f) => /\.test\.[jt]s$/.test(f) || f.startsWith('dist/fixtures/') || f.startsWith('fixtures/') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
  });

  it('installs into an empty project, and its mr bills the reference sample as this build does', async () => {
    const project = tempDir('mr-install-');
    npm(['init', '-y'], project);
    // From the packed file; its dependencies from npm's cache where it has them (npm ci filled it).
    npm(['install', join(packDir, packed.filename), '--prefer-offline', '--no-audit', '--no-fund'], project);
    const bin = join(project, 'node_modules', '.bin', 'mr');
    expect(existsSync(bin)).toBe(true);
    const here = tempDir();
    const want = await runCli(['aggregate', LOGS, '--env-file', ENV, '--out', 'out/bill.txt'], { cwd: here });
    expect(want.code, want.stderr).toBe(0);
    for (const engine of [['--engine', 'naive'], ['--engine', 'parallel', '--workers', '2', '--shard-size', '65536']]) {
      const r = spawnSync(bin, ['aggregate', LOGS, '--env-file', ENV, '--out', 'out/bill.txt', ...engine], { cwd: project, encoding: 'utf8', env: { PATH, HOME: project, LOG_LEVEL: 'warn' } });
      expect(r.status, r.stderr).toBe(0);
      const outputs = readdirSync(join(project, 'out')).sort();
      expect(outputs).toEqual(readdirSync(join(here, 'out')).sort());
      expect(outputs).toContain('bill.txt');
      // Every output byte for byte but the summary, which names its own paths and times.
      for (const name of outputs.filter((n) => !n.endsWith('.json'))) {
        expect(readFileSync(join(project, 'out', name), 'utf8'), `${engine.join(' ')}: ${name}`).toBe(readFileSync(join(here, 'out', name), 'utf8'));
      }
    }
  }, 300_000);
});
