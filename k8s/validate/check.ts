/**
 * `npm run deploy:check`: validates the deployment offline (no Docker engine, no cluster):
 * every Kubernetes object of every overlay under k8s/overlays/ (rendered by the kustomize
 * subset in kustomize.ts) against the Kubernetes schemas and the policy rules, the Compose file
 * against the Compose specification, the Dockerfiles through the lint, .env.example and the
 * deploy READMEs.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { composeErrors, composeVariables } from './compose.js';
import { dockerfileErrors } from './dockerfile.js';
import { envExampleErrors, readmePathErrors } from './docs.js';
import { kustomizationFile, renderKustomization } from './kustomize.js';
import { idOf, kindOf, nameOf, type Resource } from './objects.js';
import { executorTemplates, policyErrors, type OverlayExpectations } from './policy.js';
import { apiVersionKind, schemaErrors, unknownFieldChecker } from './schema.js';
import { CheckError, isObject } from './yaml-io.js';

export interface CheckReport {
  errors: string[];
  /** One line per part checked, for the summary. */
  notes: string[];
}

const EXPECT: Record<string, OverlayExpectations> = {
  local: { fluentBitOutput: 'stdout' },
  aws: { fluentBitOutput: 'cloudwatch_logs' },
};

export const README_FILES = ['docker/README.md', 'k8s/README.md'];

function dockerfilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...dockerfilesUnder(p));
    else if (e === 'Dockerfile' || e.endsWith('.Dockerfile')) out.push(p);
  }
  return out;
}

/** Variables `${VAR...}` the Spark launch script reads. */
function scriptVariables(resources: Resource[]): string[] {
  const out = new Set<string>();
  for (const r of resources) {
    if (kindOf(r.obj) !== 'Deployment') continue;
    const text = JSON.stringify(r.obj['spec'] ?? {});
    for (const m of text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)) out.add(m[1]!);
  }
  return [...out];
}

export async function runDeployCheck(root: string): Promise<CheckReport> {
  const errors: string[] = [];
  const notes: string[] = [];
  const usedEnv = new Set<string>();

  // Kubernetes overlays
  const overlaysDir = join(root, 'k8s', 'overlays');
  const overlays = existsSync(overlaysDir) ? readdirSync(overlaysDir).filter((d) => kustomizationFile(join(overlaysDir, d)) !== undefined).sort() : [];
  for (const name of ['local', 'aws']) if (!overlays.includes(name)) errors.push(`k8s/overlays/${name}: missing`);
  for (const overlay of overlays) {
    const where = `k8s/overlays/${overlay}`;
    let resources: Resource[];
    try {
      resources = renderKustomization(join(overlaysDir, overlay), root);
    } catch (err) {
      if (err instanceof CheckError) {
        errors.push(`${where}: ${err.message}`);
        continue;
      }
      throw err;
    }
    const embedded = executorTemplates(resources).map(({ res, pod }) => ({ res, pod }));
    const kinds = [...resources.map((r) => r.obj), ...embedded.map((e) => e.pod)].map(apiVersionKind).filter((x) => x !== undefined);
    const fields = unknownFieldChecker(kinds);
    let count = 0;
    const one = async (label: string, obj: Resource['obj']): Promise<void> => {
      count++;
      for (const e of [...(await schemaErrors(obj)), ...fields.check(obj)]) errors.push(`${where}: ${label}: ${e}`);
    };
    for (const r of resources) await one(`${idOf(r.obj)} (${r.source})`, r.obj);
    for (const e of embedded) await one(`${idOf(e.res.obj)} data pod template (${e.res.source})`, e.pod);
    const expect = EXPECT[overlay];
    if (expect === undefined) errors.push(`${where}: unknown overlay (expected local or aws); add its expectations to k8s/validate/check.ts`);
    else for (const e of policyErrors(resources, expect)) errors.push(`${where}: ${e}`);
    for (const v of scriptVariables(resources)) usedEnv.add(v);
    const byKind = new Map<string, number>();
    for (const r of resources) byKind.set(kindOf(r.obj), (byKind.get(kindOf(r.obj)) ?? 0) + 1);
    notes.push(
      `${where}: ${count} objects (${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}, 1 embedded Pod template) checked against the Kubernetes ${'schemas'}`,
    );
    if (resources.some((r) => !isObject(r.obj['metadata']) || nameOf(r.obj) === '?')) errors.push(`${where}: an object has no name`);
  }

  // Compose
  const composeFile = join(root, 'docker', 'docker-compose.yml');
  if (!existsSync(composeFile)) errors.push('docker/docker-compose.yml: missing');
  else {
    errors.push(...composeErrors(composeFile, root));
    for (const v of composeVariables(composeFile)) usedEnv.add(v);
    notes.push('docker/docker-compose.yml: checked against the Compose specification schema');
  }

  // Dockerfiles
  const dockerfiles = dockerfilesUnder(join(root, 'docker'));
  for (const req of ['docker/Dockerfile', 'docker/spark/Dockerfile']) if (!existsSync(join(root, req))) errors.push(`${req}: missing`);
  for (const f of dockerfiles) errors.push(...dockerfileErrors(f, root));
  notes.push(`${dockerfiles.length} Dockerfile(s) linted`);

  // .env.example and READMEs
  errors.push(...envExampleErrors(root, usedEnv));
  errors.push(...readmePathErrors(root, README_FILES));
  notes.push('.env.example and the deploy READMEs checked');
  return { errors, notes };
}
