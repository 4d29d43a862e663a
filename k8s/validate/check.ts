/**
 * `npm run deploy:check`, offline, with the tools tools.sh installs into the cache: `kustomize
 * build` of every overlay; `kubernetes-validate --strict` of every rendered object and of the
 * embedded executor pod template against the Kubernetes KUBERNETES_VERSION schemas; policy.ts
 * on kustomize's output; compose.ts; hadolint (docker/.hadolint.yaml) on the Dockerfiles, plus
 * the rule it lacks: the final stage runs as a named non-root USER; commands.ts on the `mr`
 * command lines of both, against the built CLI's help.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { builtCli, commandErrors, composeCommandLines, kubernetesCommandLines, type CommandLine } from './commands.js';
import { checkCompose } from './compose.js';
import { EXECUTOR_TEMPLATE_KEY, policyErrors, type Obj } from './policy.js';

/** The Kubernetes version the manifests target (EKS and Kind both offer it). */
export const KUBERNETES_VERSION = '1.33.0';

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

/** Runs a tool; its output as lines, or one line with its exit status when it failed silently. */
function run(tool: string, args: string[], cwd?: string): { ok: boolean; stdout: string; lines: string[] } {
  const r = spawnSync(join(tools(), tool), args, { encoding: 'utf8', cwd, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  const lines = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return { ok: r.status === 0, stdout: r.stdout, lines: r.status !== 0 && lines.length === 0 ? [`${tool} exited with ${r.status}`] : lines };
}

export async function runDeployCheck(root: string): Promise<CheckReport> {
  const errors: string[] = [];
  const notes: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'deploy-check-'));
  try {
    const overlaysDir = join(root, 'k8s', 'overlays');
    const overlays = readdirSync(overlaysDir).filter((d) => existsSync(join(overlaysDir, d, 'kustomization.yaml'))).sort();
    const rendered = new Map<string, string>(); // temporary file -> label in messages
    const commandLines: CommandLine[] = [];
    for (const overlay of overlays) {
      const where = `k8s/overlays/${overlay}`;
      const built = run('kustomize', ['build', join(overlaysDir, overlay)]);
      if (!built.ok) {
        errors.push(...built.lines.map((l) => `${where}: kustomize build: ${l}`));
        continue;
      }
      writeFileSync(join(work, `${overlay}.yaml`), built.stdout);
      rendered.set(join(work, `${overlay}.yaml`), where);
      const objs = parseAllDocuments(built.stdout).map((d) => d.toJS() as Obj).filter((o) => o !== null);
      const holder = objs.find((o) => o['kind'] === 'ConfigMap' && typeof o['data']?.[EXECUTOR_TEMPLATE_KEY] === 'string');
      const executorPod = holder === undefined ? undefined : (parse(holder['data'][EXECUTOR_TEMPLATE_KEY]) as Obj);
      if (holder !== undefined) {
        // Spark names each executor pod; kubernetes-validate needs a name to report one.
        writeFileSync(join(work, `${overlay}-executor-pod.yaml`), stringify({ ...executorPod, metadata: { name: 'executor', ...executorPod?.['metadata'] } }));
        rendered.set(join(work, `${overlay}-executor-pod.yaml`), `${where}: ConfigMap ${holder['metadata']['name']} data.${EXECUTOR_TEMPLATE_KEY}`);
      }
      errors.push(...policyErrors(objs, executorPod).map((e) => `${where}: ${e}`));
      commandLines.push(...kubernetesCommandLines(objs, where));
      notes.push(`${where}: kustomize build: ${objs.length} objects${executorPod ? ' + the executor pod template' : ''}`);
    }
    if (rendered.size > 0) {
      // WARN lines (a kind without a schema) are errors too: the manifests use no custom resources.
      const v = run('kubernetes-validate', ['--strict', '--quiet', '-k', KUBERNETES_VERSION, ...rendered.keys()]);
      errors.push(...v.lines.map((l) => `kubernetes-validate: ${[...rendered].reduce((s, [file, label]) => s.replace(` ${file} `, ` ${label}: `), l)}`));
      notes.push(`kubernetes-validate --strict: every object checked against the Kubernetes ${KUBERNETES_VERSION} schemas`);
    }

    const compose = checkCompose(join(root, 'docker', 'docker-compose.yml'), root);
    errors.push(...compose.errors);
    notes.push('docker/docker-compose.yml: checked against the Compose specification schema');
    if (compose.compose !== undefined) commandLines.push(...composeCommandLines(compose.compose, 'docker/docker-compose.yml'));
    const cli = builtCli();
    if (cli === undefined) errors.push('mr is not built (dist/cli/main.js): its command lines in the deploy files cannot be checked; run npm run build');
    else {
      errors.push(...commandErrors(commandLines, cli));
      notes.push(`${commandLines.length} mr command lines checked against mr's own --help`);
    }

    const dockerfiles = readdirSync(join(root, 'docker'), { recursive: true, encoding: 'utf8' }).filter((f) => /(^|\/)Dockerfile$/.test(f)).sort().map((f) => `docker/${f}`);
    const h = run('hadolint', ['--no-color', '--config', 'docker/.hadolint.yaml', ...dockerfiles], root);
    errors.push(...h.lines.map((l) => `hadolint: ${l}`));
    for (const f of dockerfiles) {
      const ins = readFileSync(join(root, f), 'utf8').split('\n').map((l, i) => ({ line: i + 1, word: l.trim().split(/\s+/)[0]!.toUpperCase() }));
      const lastFrom = ins.filter((i) => i.word === 'FROM').pop();
      if (lastFrom !== undefined && !ins.some((i) => i.line > lastFrom.line && i.word === 'USER')) errors.push(`${f}:${lastFrom.line}: final stage has no USER: the image would run as root`);
    }
    notes.push(`${dockerfiles.length} Dockerfile(s) linted by hadolint`);
    return { errors, notes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
