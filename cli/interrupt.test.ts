/**
 * An interrupted run leaves no bill and no temporary files (SPEC: outputs appear whole or not at all).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { assertBuilt, cleanupTempDirs, cliPath, engineArgs, listFiles, nodeFirstPath, tempDir } from '../fixtures/harness.js';

afterAll(cleanupTempDirs);

describe('interrupts', () => {
  it.each([['naive'], ['parallel']])('%s: SIGTERM mid-run → exit 143, nothing written, no .mr-staging-* left', async (engine) => {
    assertBuilt();
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'RATE_login=0.005\n');
    // Concatenated gzip members: ~1 GiB of log lines from a few MiB on disk, so the run outlasts the signal.
    const member = gzipSync(Buffer.from('2025-05-02T10:00:00Z user1 login 200 100ms\n'.repeat(25_000)), { level: 9 });
    writeFileSync(join(dir, 'big.log.gz'), Buffer.concat(Array.from({ length: 1000 }, () => member)));
    const shebang = /^#!(\S+)(?: (.*))?\n/.exec(readFileSync(cliPath, 'utf8').slice(0, 200))!;
    const child = spawn(shebang[1]!, [...(shebang[2] ? [shebang[2]] : []), cliPath, 'aggregate', 'big.log.gz', ...engineArgs(engine, 1), '--out', 'out/billing.txt'], {
      cwd: dir,
      env: { PATH: nodeFirstPath, HOME: dir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // Signal once the run has found its input (the staged outputs exist by then).
      if (stderr.includes('inputs found') && !child.killed) setTimeout(() => child.kill('SIGTERM'), 300);
    });
    const code = await new Promise<number | string | null>((done) => child.on('close', (c, sig) => done(c ?? sig)));
    expect(code, stderr).toBe(143);
    expect(listFiles(dir).sort()).toEqual(['.env', 'big.log.gz']);
    // Reported once, as an interruption (logs are JSON lines off a terminal).
    const errors = stderr.split('\n').filter((l) => l.includes('"level":"error"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(errors.map((e) => [e['exit_code'], e['error']])).toEqual([[143, 'interrupted']]);
  });

  it.each([
    ['api.log', 'SIGTERM', 143],
    ['api.log.gz', 'SIGINT', 130],
  ] as const)('mr generate --out %s: %s while writing → exit %i, the file there before kept, nothing staged left', async (name, sig, exitCode) => {
    assertBuilt();
    const dir = tempDir();
    mkdirSync(join(dir, 'g'));
    writeFileSync(join(dir, 'g', name), 'generated before\n');
    const shebang = /^#!(\S+)(?: (.*))?\n/.exec(readFileSync(cliPath, 'utf8').slice(0, 200))!;
    const child = spawn(shebang[1]!, [...(shebang[2] ? [shebang[2]] : []), cliPath, 'generate', '--out', join('g', name), '--size', '4GiB'], {
      cwd: dir,
      env: { PATH: nodeFirstPath, HOME: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | string | null>((done) => child.on('close', (c, s) => done(c ?? s)));
    // Signal once the staged file is being written (4 GiB takes far longer than this test waits).
    const deadline = Date.now() + 20_000;
    while (readdirSync(join(dir, 'g')).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(join(dir, 'g')).some((f) => f.startsWith('.mr-staging-'))).toBe(true);
    child.kill(sig);
    expect(await closed, stderr).toBe(exitCode);
    expect(readdirSync(join(dir, 'g'))).toEqual([name]);
    expect(readFileSync(join(dir, 'g', name), 'utf8')).toBe('generated before\n');
  });
});
