/**
 * .env.example documents every key the deployment reads, and the deploy READMEs name only files
 * that exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseDotenv } from 'dotenv';

/** Keys the issue requires .env.example to document (RATE_* checked separately). */
export const REQUIRED_ENV_KEYS = (
  'ENVIRONMENT SPARK_REMOTE LOG_SOURCE_PATH BILLING_OUTPUT LOG_SOURCE_PATH_AWS CURRENCY_DECIMALS ' +
  'MAX_DURATION_MS LOG_LEVEL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION SPARK_APP_NAME ' +
  'SPARK_DRIVER_MEMORY SPARK_EXECUTOR_MEMORY SPARK_EXECUTOR_CORES SPARK_DYNAMIC_ALLOCATION_MIN_EXECUTORS ' +
  'SPARK_DYNAMIC_ALLOCATION_INITIAL_EXECUTORS SPARK_DYNAMIC_ALLOCATION_MAX_EXECUTORS ' +
  'SPARK_DYNAMIC_ALLOCATION_EXECUTOR_IDLE_TIMEOUT'
).split(' ');

/** Variables the manifests set themselves (never from .env). */
const SET_BY_MANIFESTS = new Set(['POD_NAME', 'POD_NAMESPACE', 'SPARK_EXECUTOR_IMAGE', 'SPARK_INPUT_CLAIM']);

export function envExampleErrors(root: string, usedKeys: Iterable<string>): string[] {
  const file = join(root, '.env.example');
  if (!existsSync(file)) return ['.env.example: missing'];
  const text = readFileSync(file, 'utf8');
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) errors.push(`.env.example:${i + 1}: not KEY=VALUE`);
  });
  const env = parseDotenv(text);
  for (const k of REQUIRED_ENV_KEYS) if (!(k in env)) errors.push(`.env.example: ${k} is not documented`);
  if (!Object.keys(env).some((k) => /^RATE_[A-Za-z0-9_]+$/.test(k))) errors.push('.env.example: no RATE_<task> key');
  for (const k of usedKeys) {
    if (!SET_BY_MANIFESTS.has(k) && !(k in env)) errors.push(`.env.example: ${k} is used by the deployment but not documented`);
  }
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
    if ((env[k] ?? '') !== '') errors.push(`.env.example: ${k} must be left empty (no credentials in the repository)`);
  }
  return errors;
}

/** Paths under docker/, k8s/ (and .env.example) that a README names must exist. */
export function readmePathErrors(root: string, readmes: string[]): string[] {
  const errors: string[] = [];
  for (const readme of readmes) {
    const file = join(root, readme);
    if (!existsSync(file)) {
      errors.push(`${readme}: missing`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    const seen = new Set<string>();
    for (const m of text.matchAll(/(?<![\w./-])((?:docker|k8s)\/[A-Za-z0-9_.\/-]*[A-Za-z0-9_]|\.env\.example)(?![\w-])/g)) {
      const p = m[1]!;
      if (seen.has(p) || p.includes('*')) continue;
      seen.add(p);
      if (!existsSync(join(root, p))) errors.push(`${relative(root, file)}: names ${p}, which does not exist`);
    }
  }
  return errors;
}
