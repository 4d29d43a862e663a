#!/usr/bin/env node
/**
 * deploy:check [--root DIR]: offline validation of docker/ and k8s/ (see check.ts).
 * Exit 0 when everything passes, 1 with one line per problem otherwise.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDeployCheck } from './check.js';

async function main(argv: string[]): Promise<number> {
  let root = resolve(fileURLToPath(import.meta.url), '../../../..');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root' && argv[i + 1] !== undefined) root = resolve(argv[++i]!);
    else if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write('usage: deploy:check [--root DIR]\n');
      return 0;
    } else {
      process.stderr.write(`deploy:check: unknown argument ${argv[i]}\n`);
      return 2;
    }
  }
  const started = Date.now();
  const report = await runDeployCheck(root);
  for (const n of report.notes) process.stdout.write(`  ${n}\n`);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (report.errors.length === 0) {
    process.stdout.write(`deploy:check: OK (${secs}s; no Docker engine or cluster needed)\n`);
    return 0;
  }
  for (const e of report.errors) process.stderr.write(`  ✗ ${e}\n`);
  process.stderr.write(`deploy:check: FAILED, ${report.errors.length} problem(s)\n`);
  return 1;
}

process.exitCode = await main(process.argv.slice(2));
