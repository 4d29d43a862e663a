#!/usr/bin/env node
/** deploy:check [--root DIR]: offline validation of docker/ and k8s/ (check.ts). Exit 0 when all passes, 1 with one line per problem. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDeployCheck } from './check.js';

const args = process.argv.slice(2);
if (!(args.length === 0 || (args.length === 2 && args[0] === '--root'))) {
  process.stderr.write('usage: deploy:check [--root DIR]\n');
  process.exit(2);
}
const started = Date.now();
const report = await runDeployCheck(resolve(args[1] ?? resolve(fileURLToPath(import.meta.url), '../../../..')));
for (const n of report.notes) process.stdout.write(`  ${n}\n`);
for (const e of report.errors) process.stderr.write(`  ✗ ${e}\n`);
const secs = ((Date.now() - started) / 1000).toFixed(1);
if (report.errors.length === 0) process.stdout.write(`deploy:check: OK (${secs}s; no Docker engine or cluster needed)\n`);
else process.stderr.write(`deploy:check: FAILED, ${report.errors.length} problem(s)\n`);
process.exitCode = report.errors.length === 0 ? 0 : 1;
