/**
 * deploy:check passes on the repository's docker/ and k8s/, and fails on broken copies of them
 * (kustomize, kubernetes-validate and hadolint from the cache, installed on first use).
 * Runs the TypeScript sources directly (vitest), plus the compiled CLI once for its exit codes.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runDeployCheck, tools } from './check.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tmps: string[] = [];

/** A copy of what deploy:check reads, to break. */
function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deploy-check-'));
  tmps.push(dir);
  for (const p of ['k8s/base', 'k8s/overlays', 'docker']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  return dir;
}

function edit(root: string, file: string, from: string | RegExp, to: string): void {
  const text = readFileSync(join(root, file), 'utf8');
  const next = text.replace(from, to);
  expect(next, `edit of ${file} changed nothing`).not.toBe(text);
  writeFileSync(join(root, file), next);
}

beforeAll(() => {
  tools(); // a first run installs them (about a minute or two)
});

afterAll(() => {
  for (const d of tmps) rmSync(d, { recursive: true, force: true });
});

/** An overlay as kustomize renders it. */
function render(overlay: string): any[] {
  const r = spawnSync(join(tools(), 'kustomize'), ['build', join(ROOT, 'k8s/overlays', overlay)], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return parseAllDocuments(r.stdout).map((d) => d.toJS());
}

const find = (rs: any[], kind: string, name: string) => rs.find((o) => o.kind === kind && o.metadata.name === name);

describe('deploy:check on the repository', () => {
  it('passes', async () => {
    const report = await runDeployCheck(ROOT);
    expect(report.errors).toEqual([]);
    const notes = report.notes.join('\n');
    for (const o of ['aws', 'local']) expect(notes).toMatch(new RegExp(`k8s/overlays/${o}: kustomize build: \\d+ objects \\+ the executor pod template`));
    expect(notes).toMatch(/kubernetes-validate --strict/);
    expect(notes).toMatch(/2 Dockerfile\(s\) linted by hadolint/);
    // The CronJob of each overlay and the three Compose services of the mr image.
    expect(notes).toMatch(/\b5 mr command lines checked against mr's own --help/);
  });

  it('kustomize renders both overlays with the namespaces, labels, images and patches applied', () => {
    const [local, aws] = [render('local'), render('aws')];
    // Applying an overlay never bills by itself (decision 22): a Job in it would run again at every apply after its TTL.
    for (const rs of [local, aws]) expect(rs.filter((o) => o.kind === 'Job').map((o) => o.metadata.name)).toEqual([]);
    // A killed pod's lock is taken over by another host's run once 2 minutes old (decision 52); the Job controller waits
    // 10 s, doubled each time, between attempts: with a margin of one, the attempt before the last must start later
    // than that (the waits before attempt n: 10 + 20 + ... + 10 * 2^(n-2) s).
    const waits = (attempt: number) => Array.from({ length: attempt - 1 }, (_, k) => 10 * 2 ** k).reduce((a, b) => a + b, 0);
    for (const rs of [local, aws]) expect(waits(find(rs, 'CronJob', 'billing-aggregation').spec.jobTemplate.spec.backoffLimit)).toBeGreaterThan(120);
    const cronAws = find(aws, 'CronJob', 'billing-aggregation');
    expect([cronAws.metadata.namespace, cronAws.metadata.labels['app.kubernetes.io/part-of']]).toEqual(['billing', 'mr']);
    const pod = cronAws.spec.jobTemplate.spec.template.spec;
    expect(pod.containers[0].image).toBe('123456789012.dkr.ecr.us-east-2.amazonaws.com/mr:0.1.0');
    expect(pod.initContainers).toBeUndefined(); // no copy from S3: the Spark pods read s3a:// themselves
    expect(pod.containers[0].args.slice(0, 2)).toEqual(['aggregate', '$(LOG_SOURCE_PATH_AWS)']);
    expect(find(local, 'CronJob', 'billing-aggregation').spec.jobTemplate.spec.template.spec.containers[0].image).toBe('mr:0.1.0');
    expect(find(local, 'PersistentVolumeClaim', 'billing-data').spec.volumeName).toBe('billing-data-local');
    // The local driver's heap fits its container (an explicit env entry wins over the Secret's envFrom).
    const localConnect = find(local, 'Deployment', 'spark-connect').spec.template.spec.containers[0];
    expect(localConnect.env.find((e: any) => e.name === 'SPARK_DRIVER_MEMORY')?.value).toBe('1g');
    expect(localConnect.resources.limits.memory).toBe('1536Mi');
    expect(localConnect.env.map((e: any) => e.name)).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE', 'SPARK_EXECUTOR_IMAGE']));
    expect(find(aws, 'DaemonSet', 'fluent-bit').metadata.namespace).toBe('logging');
    expect(find(aws, 'ConfigMap', 'fluent-bit-config').data['output.conf']).toContain('/kubernetes/fluent-bit-logs');
    expect(find(aws, 'RoleBinding', 'fluent-bit-pod-reader').subjects[0].namespace).toBe('logging');
  });

  it.each(['aws', 'local'])('%s: the Connect server\'s start script, run with the Secret\'s settings, unsets the empty AWS ones and gives S3A an endpoint only when one is set', (overlay) => {
    const container = find(render(overlay), 'Deployment', 'spark-connect').spec.template.spec.containers[0];
    expect(container.args.slice(0, 2)).toEqual(['bash', '-c']);
    const dir = mkdtempSync(join(tmpdir(), 'connect-script-'));
    tmps.push(dir);
    // spark-submit stands in as a script that records what it was started with: its environment and arguments.
    const submit = join(dir, 'spark-submit');
    writeFileSync(submit, `#!/bin/bash\nenv > ${dir}/env\nprintf '%s\\n' "$@" > ${dir}/args\n`, { mode: 0o755 });
    const start = (env: Record<string, string>) => {
      const r = spawnSync('bash', ['-c', String(container.args[2]).replace('/opt/spark/bin/spark-submit', submit)], {
        env: { PATH: process.env['PATH'] ?? '', POD_NAME: 'p', POD_NAMESPACE: 'billing', SPARK_EXECUTOR_IMAGE: 'mr-spark', SPARK_REMOTE: 'sc://spark-connect:15002', ...env },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      const vars = readFileSync(join(dir, 'env'), 'utf8').split('\n').map((l) => l.slice(0, l.indexOf('=')));
      return { vars, args: readFileSync(join(dir, 'args'), 'utf8').split('\n') };
    };
    // .env.example's settings for AWS S3: the endpoint and the keys empty (IRSA gives the credentials).
    const aws = start({ AWS_ENDPOINT_URL: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_REGION: 'eu-west-1' });
    expect(aws.vars.filter((v) => v.startsWith('AWS_') || v === 'SPARK_REMOTE')).toEqual(['AWS_REGION']);
    expect(aws.args.filter((a) => a.includes('fs.s3a.endpoint='))).toEqual([]);
    const store = start({ AWS_ENDPOINT_URL: 'http://s3:5000', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'eu-west-1' });
    expect(store.vars.filter((v) => v.startsWith('AWS_')).sort()).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_SECRET_ACCESS_KEY']);
    expect(store.args).toContain('spark.hadoop.fs.s3a.endpoint=http://s3:5000');
  });

  it('the compiled CLI exits 0 on the tree, 1 on a broken copy and 2 on a bad argument', () => {
    // npm test builds before it runs the tests; the CLI is the compiled one users run.
    const cli = join(ROOT, 'dist/k8s/validate/cli.js');
    expect(existsSync(cli)).toBe(true);
    const ok = spawnSync(process.execPath, [cli], { cwd: ROOT, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('deploy:check: OK');
    const broken = copyTree();
    edit(broken, 'k8s/base/pipeline/spark-connect.yaml', '  type: ClusterIP', '  type: NodePort');
    const bad = spawnSync(process.execPath, [cli, '--root', broken], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/✗ k8s\/overlays\/(aws|local): Service\/billing\/spark-connect: type must be ClusterIP[\s\S]*deploy:check: FAILED, 2 problem\(s\)/);
    expect(spawnSync(process.execPath, [cli, '--rot'], { encoding: 'utf8' }).status).toBe(2);
  });
});

describe('deploy:check on broken copies', () => {
  it('the unbroken copy passes', async () => {
    expect((await runDeployCheck(copyTree())).errors).toEqual([]);
  });

  const pipeline = (f: string) => `k8s/base/pipeline/${f}.yaml`;
  // [what breaks, file, from, to, the error it must give]
  const cases: [string, string, string | RegExp, string, RegExp][] = [
    // kubernetes-validate (schemas of KUBERNETES_VERSION) on what kustomize renders
    ['an unknown field in a manifest', pipeline('billing-cronjob'), '  concurrencyPolicy: Forbid', '  concurrencyPolicy: Forbid\n  concurencyLimit: 1',
      /k8s\/overlays\/(local|aws): did not validate for resource cronjob\/billing-aggregation .*spec: Additional properties are not allowed \('concurencyLimit' was unexpected\)/],
    ['a misspelt container field', pipeline('billing-cronjob'), '              imagePullPolicy: IfNotPresent', '              imagePullPolicyy: IfNotPresent',
      /cronjob\/billing-aggregation .*containers\.0: Additional properties are not allowed \('imagePullPolicyy' was unexpected\)/],
    ['a wrong type', pipeline('billing-cronjob'), '      backoffLimit: 6', '      backoffLimit: three', /spec\.jobTemplate\.spec\.backoffLimit: 'three' is not of type 'integer'/],
    ['an unknown kind', pipeline('networkpolicy'), 'kind: NetworkPolicy', 'kind: NetworkPolicee', /Couldn't find schema for kind NetworkPolicee with api version networking\.k8s\.io\/v1/],
    ['a bad field in the embedded executor pod template', pipeline('spark-executor-template'), '      automountServiceAccountToken: false', '      automountServiceAccountToken: false\n      hostNetwerk: true',
      /data\.executor-pod\.yaml: did not validate .*spec: Additional properties are not allowed \('hostNetwerk' was unexpected\)/],
    // kustomize
    ['a patch whose target is gone', 'k8s/overlays/local/billing-data-pvc.yaml', 'name: billing-data\n', 'name: billing-dat\n',
      /k8s\/overlays\/local: kustomize build: .*no resource matches strategic merge patch "PersistentVolumeClaim.*billing-dat/],
    // policy.ts: non-root and hardened
    ['a container running as root', pipeline('billing-cronjob'), '            runAsNonRoot: true\n            runAsUser: 1000', '            runAsNonRoot: false\n            runAsUser: 0',
      /CronJob\/billing\/billing-aggregation: .*runAsNonRoot must be true[\s\S]*CronJob\/billing\/billing-aggregation: .*runAsUser 0 is root/],
    ['a writable root filesystem', pipeline('spark-connect'), '            readOnlyRootFilesystem: true', '            readOnlyRootFilesystem: false', /Deployment\/billing\/spark-connect: .*readOnlyRootFilesystem must be true/],
    ['privilege escalation allowed in the executor template', pipeline('spark-executor-template'), '            allowPrivilegeEscalation: false', '            allowPrivilegeEscalation: true',
      /ConfigMap\/billing\/spark-executor-template: data\.executor-pod\.yaml spec\.containers\[0\].*allowPrivilegeEscalation must be false/],
    // policy.ts: requests and limits
    ['missing limits', 'k8s/base/logging/fluent-bit-daemonset.yaml', /            limits:\n              cpu: 500m\n              memory: 256Mi\n/, '', /DaemonSet\/logging\/fluent-bit: .*resources\.limits\.cpu is not set/],
    ['a bad quantity', pipeline('billing-cronjob'), '                  memory: 1Gi', '                  memory: 1 gig', /resources\.(requests|limits)\.memory "1 gig" is not a Kubernetes quantity/],
    // policy.ts: Spark Connect bound inside the cluster
    ['the Spark Connect Service exposed outside the cluster', pipeline('spark-connect'), '  type: ClusterIP', '  type: LoadBalancer', /Service\/billing\/spark-connect: type must be ClusterIP/],
    ['the Spark Connect pod on the host network', pipeline('spark-connect'), '      enableServiceLinks: false', '      enableServiceLinks: false\n      hostNetwork: true',
      /Deployment\/billing\/spark-connect: hostNetwork is not allowed/],
    ['the Connect server started with the app-env Secret\'s SPARK_REMOTE', pipeline('spark-connect'), '              unset SPARK_REMOTE\n', '',
      /Deployment\/billing\/spark-connect: spec\.containers\[0\] \(spark-connect\): starts spark-submit with settings that may hold SPARK_REMOTE/],
    ['a NetworkPolicy opening the Connect server to every pod', pipeline('networkpolicy'), '        - podSelector:\n            matchLabels:\n              app.kubernetes.io/component: billing-job\n', '        - podSelector: {}\n',
      /NetworkPolicy: Deployment\/billing\/spark-connect may reach the Spark Connect server/],
    // compose.ts
    ['a compose file with an invalid key', 'docker/docker-compose.yml', '    hostname: spark-master\n', '    hostname: spark-master\n    restart_policy: always\n',
      /docker-compose\.yml: \/services\/spark-master must NOT have additional properties \(restart_policy\)/],
    ['a compose health check with a bad duration', 'docker/docker-compose.yml', /interval: 10s/, 'interval: ten seconds', /healthcheck\/interval must match format "duration"/],
    ['the Connect port published beyond 127.0.0.1', 'docker/docker-compose.yml', '"127.0.0.1:15002:15002"', '"15002:15002"', /services\.spark-connect: port "15002:15002" is published beyond 127\.0\.0\.1/],
    ['the Spark containers given the billing .env', 'docker/docker-compose.yml', '    dockerfile: docker/spark/Dockerfile\n', '    dockerfile: docker/spark/Dockerfile\n  env_file: ../.env\n',
      /services\.spark-connect: runs Spark and takes env_file/],
    ['a compose Spark daemon with SPARK_REMOTE', 'docker/docker-compose.yml', '      SPARK_WORKER_DIR: /tmp/spark-worker\n', '      SPARK_WORKER_DIR: /tmp/spark-worker\n      SPARK_REMOTE: sc://spark-connect:15002\n',
      /services\.spark-worker: runs Spark with SPARK_REMOTE set/],
    ['a compose service as root', 'docker/docker-compose.yml', '    hostname: spark-master\n', '    hostname: spark-master\n    user: root\n', /services\.spark-master: runs privileged or as root/],
    // commands.ts: the mr command lines against mr's own help
    ['a flag mr does not have, in the CronJob', pipeline('billing-cronjob'), 'args: ["aggregate", "/data/logs", "--engine", "spark"]', 'args: ["aggregate", "/data/logs", "--engine", "spark", "--remote-url", "sc://x"]',
      /k8s\/overlays\/local: CronJob\/billing-aggregation: `mr aggregate` has no option --remote-url/],
    ['an engine mr does not have, in Compose', 'docker/docker-compose.yml', '"--engine", "parallel",', '"--engine", "paralel",',
      /docker\/docker-compose\.yml: services\.billing-parallel: --engine paralel is not one of parallel, naive, spark/],
    ['a command mr does not have, in Compose', 'docker/docker-compose.yml', 'command: ["aggregate", "s3://', 'command: ["aggregat", "s3://',
      /docker\/docker-compose\.yml: services\.billing-s3: `mr aggregat` is not a command of mr/],
    ['a short flag mr does not have, in the CronJob', pipeline('billing-cronjob'), 'args: ["aggregate", "/data/logs", "--engine", "spark"]', 'args: ["aggregate", "/data/logs", "-e", "spark"]',
      /CronJob\/billing-aggregation: `mr aggregate` has no option -e/],
    ['a value given to a flag that takes none, in Compose', 'docker/docker-compose.yml', '"--out", "/data/s3/billing.txt"]', '"--out", "/data/s3/billing.txt", "--allow-empty=yes"]',
      /services\.billing-s3: --allow-empty takes no value/],
    ['--out in the CronJob, which billing-period sets', pipeline('billing-cronjob'), 'args: ["aggregate", "/data/logs", "--engine", "spark"]', 'args: ["aggregate", "/data/logs", "--engine", "spark", "--out", "/data/x.txt"]',
      /CronJob\/billing-aggregation: --out is set by billing-period, which refuses it in its arguments/],
    ['an option without its value, in Compose', 'docker/docker-compose.yml', '"--out", "/data/s3/billing.txt"]', '"--out"]', /services\.billing-s3: --out needs a value/],
    // hadolint, and the final USER
    ['a Dockerfile running as root', 'docker/Dockerfile', 'USER 1000:1000', 'USER root', /hadolint: docker\/Dockerfile:\d+ DL3002 warning: Last USER should not be root/],
    ['a Dockerfile without USER', 'docker/spark/Dockerfile', 'USER 185:185\n', '', /docker\/spark\/Dockerfile:\d+: final stage has no USER/],
    ['a Dockerfile on latest', 'docker/Dockerfile', 'FROM node:20.20.2-bookworm-slim AS runtime', 'FROM node:latest AS runtime', /hadolint: docker\/Dockerfile:\d+ DL3007 /],
    ['a Dockerfile syntax error', 'docker/spark/Dockerfile', 'EXPOSE 7077', 'EXPOSE seven', /hadolint: docker\/spark\/Dockerfile:\d+:\d+ unexpected 's'/],
  ];

  for (const [name, file, from, to, want] of cases) {
    it(`fails on ${name}`, async () => {
      const root = copyTree();
      edit(root, file, from, to);
      const { errors } = await runDeployCheck(root);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.join('\n')).toMatch(want);
    });
  }
});

describe("deploy:check's reading of mr command lines", () => {
  it('reads what follows `--` as paths, as mr does, and what comes before as options', async () => {
    const { commandErrors } = await import('./commands.js');
    const cli = join(ROOT, 'dist/cli/main.js');
    expect(commandErrors([{ where: 'w', args: ['aggregate', '/data/logs', '--engine', 'naive', '--', '-odd.log', '--engine'] }], cli)).toEqual([]);
    expect(commandErrors([{ where: 'w', args: ['aggregate', '/data/logs', '-odd.log', '--', '--engine'] }], cli)).toEqual(['w: `mr aggregate` has no option -odd.log']);
    // A command that takes no argument (generate): one given, before or after `--`, is an error mr would exit 2 on.
    expect(commandErrors([{ where: 'w', args: ['generate', '--out', 'x.log', '--lines', '1'] }], cli)).toEqual([]);
    expect(commandErrors([{ where: 'w', args: ['generate', '--out', 'x.log', 'extra'] }], cli)).toEqual(['w: `mr generate` takes no argument, and is given extra']);
    expect(commandErrors([{ where: 'w', args: ['generate', '--out', 'x.log', '--', '--size'] }], cli)).toEqual(['w: `mr generate` takes no argument, and is given --size']);
  });
});
