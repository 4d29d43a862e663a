/**
 * `npm run deploy:check`, offline, with the tools tools.sh installs into the cache: `kustomize
 * build` of every overlay; `kubernetes-validate --strict` of every rendered object and of the
 * embedded executor pod template against the Kubernetes KUBERNETES_VERSION schemas; policy.ts
 * on kustomize's output; hadolint (docker/.hadolint.yaml) plus the two Dockerfile rules it
 * lacks; compose.ts and docs.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { composeErrors, composeVariables } from './compose.js';
import { envExampleErrors, readmePathErrors } from './docs.js';
import { EXECUTOR_TEMPLATE_KEY, policyErrors, type Obj } from './policy.js';

/** The Kubernetes version the manifests target (EKS and Kind both offer it). */
export const KUBERNETES_VERSION = '1.33.0';
const FLUENT_BIT_OUTPUT: Record<string, string> = { local: 'stdout', aws: 'cloudwatch_logs' };
export const README_FILES = ['docker/README.md', 'k8s/README.md'];

/** errors: one line per problem; notes: one line per part checked, for the summary. */
export type CheckReport = { errors: string[]; notes: string[] };

let toolsBin: string | undefined;
/** Installs the tools on first use (tools.sh: a marker test when cached) and returns their bin/. */
export function tools(): string {
  if (toolsBin !== undefined) return toolsBin;
  const here = dirname(fileURLToPath(import.meta.url));
  const script = [join(here, 'tools.sh'), join(here, '../../../k8s/validate/tools.sh')].find((f) => existsSync(f))!;
  const r = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`deploy:check: installing the tools failed (bash ${script}, exit ${r.status})`);
  return (toolsBin = join(r.stdout.trim().split('\n').pop()!, 'bin'));
}

function run(tool: string, args: string[], cwd?: string): { status: number | null; stdout: string; out: string } {
  const r = spawnSync(join(tools(), tool), args, { encoding: 'utf8', cwd, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

const lines = (s: string): string[] => s.split('\n').map((l) => l.trim()).filter((l) => l !== '');

/** What hadolint does not check: the image's final stage runs as a named non-root user, no ADD. */
function dockerfileRules(file: string, label: string): string[] {
  const errors: string[] = [];
  const ins = readFileSync(file, 'utf8').replace(/\\\r?\n/g, ' ').split('\n').map((l, i) => ({ line: i + 1, words: l.trim().split(/\s+/) }));
  const last = ins.filter((i) => /^FROM$/i.test(i.words[0]!)).pop();
  const user = ins.filter((i) => last && i.line > last.line && /^USER$/i.test(i.words[0]!)).pop();
  if (last !== undefined && user === undefined) errors.push(`${label}:${last.line}: final stage has no USER: the image would run as root`);
  for (const i of ins) if (/^ADD$/i.test(i.words[0]!)) errors.push(`${label}:${i.line}: ADD: use COPY, or a checked download in RUN (no remote or auto-extracted sources)`);
  return errors;
}

export async function runDeployCheck(root: string): Promise<CheckReport> {
  const errors: string[] = [];
  const notes: string[] = [];
  const usedEnv = new Set<string>();
  const work = mkdtempSync(join(tmpdir(), 'deploy-check-'));
  try {
    // Kubernetes: kustomize build, then kubernetes-validate on everything rendered at once
    const overlaysDir = join(root, 'k8s', 'overlays');
    const overlays = existsSync(overlaysDir) ? readdirSync(overlaysDir).filter((d) => existsSync(join(overlaysDir, d, 'kustomization.yaml'))).sort() : [];
    for (const name of Object.keys(FLUENT_BIT_OUTPUT)) if (!overlays.includes(name)) errors.push(`k8s/overlays/${name}: missing`);
    const rendered = new Map<string, string>(); // temporary file -> label in messages
    for (const overlay of overlays) {
      const where = `k8s/overlays/${overlay}`;
      const built = run('kustomize', ['build', join(overlaysDir, overlay)]);
      if (built.status !== 0) {
        errors.push(...lines(built.out).map((l) => `${where}: kustomize build: ${l}`));
        continue;
      }
      const file = join(work, `${overlay}.yaml`);
      writeFileSync(file, built.stdout);
      rendered.set(file, where);
      const objs = parseAllDocuments(built.stdout).map((d) => d.toJS() as Obj).filter((o) => o !== null);
      const holder = objs.find((o) => o['kind'] === 'ConfigMap' && typeof o['data']?.[EXECUTOR_TEMPLATE_KEY] === 'string');
      let executorPod: Obj | undefined;
      if (holder !== undefined) {
        const podFile = join(work, `${overlay}-executor-pod.yaml`);
        executorPod = parse(holder['data'][EXECUTOR_TEMPLATE_KEY]) as Obj;
        // Spark names each executor pod; kubernetes-validate needs a name to report one.
        writeFileSync(podFile, stringify({ ...executorPod, metadata: { name: 'executor', ...executorPod?.['metadata'] } }));
        rendered.set(podFile, `${where}: ConfigMap ${holder['metadata']['name']} data.${EXECUTOR_TEMPLATE_KEY}`);
      }
      const expected = FLUENT_BIT_OUTPUT[overlay];
      if (expected === undefined) errors.push(`${where}: unknown overlay (expected local or aws); add it to FLUENT_BIT_OUTPUT in k8s/validate/check.ts`);
      else errors.push(...policyErrors(objs, executorPod, expected).map((e) => `${where}: ${e}`));
      const deployments = JSON.stringify(objs.filter((x) => x['kind'] === 'Deployment').map((o) => o['spec']));
      for (const m of deployments.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)) usedEnv.add(m[1]!); // the Spark launch script's variables
      notes.push(`${where}: kustomize build: ${objs.length} objects${executorPod ? ' + the executor pod template' : ''}`);
    }
    if (rendered.size > 0) {
      // WARN lines (a kind without a schema) are errors too: the manifests use no custom resources.
      const v = run('kubernetes-validate', ['--strict', '--quiet', '-k', KUBERNETES_VERSION, ...rendered.keys()]);
      const found = lines(v.out).map((l) => [...rendered].reduce((s, [file, label]) => s.replace(` ${file} `, ` ${label}: `), l));
      if (v.status !== 0 && found.length === 0) found.push(`kubernetes-validate exited with ${v.status}`);
      errors.push(...found.map((l) => `kubernetes-validate: ${l}`));
      notes.push(`kubernetes-validate --strict: every object checked against the Kubernetes ${KUBERNETES_VERSION} schemas`);
    }

    // Compose
    const composeFile = join(root, 'docker', 'docker-compose.yml');
    if (!existsSync(composeFile)) errors.push('docker/docker-compose.yml: missing');
    else {
      errors.push(...composeErrors(composeFile, root));
      composeVariables(composeFile).forEach((v) => usedEnv.add(v));
      notes.push('docker/docker-compose.yml: checked against the Compose specification schema');
    }

    // Dockerfiles
    for (const req of ['docker/Dockerfile', 'docker/spark/Dockerfile']) if (!existsSync(join(root, req))) errors.push(`${req}: missing`);
    const dockerfiles = (existsSync(join(root, 'docker')) ? readdirSync(join(root, 'docker'), { recursive: true, encoding: 'utf8' }) : [])
      .filter((f) => /(^|\/)Dockerfile$|\.Dockerfile$/.test(f)).sort().map((f) => `docker/${f}`);
    if (dockerfiles.length > 0) {
      const h = run('hadolint', ['--no-color', '--config', 'docker/.hadolint.yaml', ...dockerfiles], root);
      errors.push(...(h.status !== 0 && lines(h.out).length === 0 ? [`exited with ${h.status}`] : lines(h.out)).map((l) => `hadolint: ${l}`));
      for (const f of dockerfiles) errors.push(...dockerfileRules(join(root, f), f));
    }
    notes.push(`${dockerfiles.length} Dockerfile(s) linted by hadolint`);

    // .env.example and READMEs
    errors.push(...envExampleErrors(root, usedEnv), ...readmePathErrors(root, README_FILES));
    notes.push('.env.example and the deploy READMEs checked');
    return { errors, notes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
