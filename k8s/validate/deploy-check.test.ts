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
  for (const p of ['k8s/base', 'k8s/overlays', 'k8s/README.md', 'k8s/tsconfig.json', 'docker', '.env.example']) {
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  }
  // names the READMEs cite outside the copied parts
  cpSync(join(ROOT, 'k8s/validate'), join(dir, 'k8s/validate'), { recursive: true });
  return dir;
}

function edit(root: string, file: string, from: string | RegExp, to: string): void {
  const p = join(root, file);
  const text = readFileSync(p, 'utf8');
  const next = text.replace(from, to);
  expect(next, `edit of ${file} changed nothing`).not.toBe(text);
  writeFileSync(p, next);
}

async function errorsOf(root: string): Promise<string[]> {
  return (await runDeployCheck(root)).errors;
}

beforeAll(() => {
  tools(); // a first run installs them (about a minute or two)
});

afterAll(() => {
  for (const d of tmps) rmSync(d, { recursive: true, force: true });
});

describe('deploy:check on the repository', () => {
  it('passes', async () => {
    const report = await runDeployCheck(ROOT);
    expect(report.errors).toEqual([]);
    expect(report.notes.join('\n')).toMatch(/k8s\/overlays\/aws: kustomize build: \d+ objects/);
    expect(report.notes.join('\n')).toMatch(/k8s\/overlays\/local: kustomize build: \d+ objects/);
    expect(report.notes.join('\n')).toMatch(/kubernetes-validate --strict/);
    expect(report.notes.join('\n')).toMatch(/2 Dockerfile\(s\) linted by hadolint/);
  });

  it('kustomize renders both overlays with the namespaces, labels, images and patches applied', () => {
    const render = (o: string) => {
      const r = spawnSync(join(tools(), 'kustomize'), ['build', join(ROOT, 'k8s/overlays', o)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return parseAllDocuments(r.stdout).map((d) => d.toJS());
    };
    const local = render('local');
    const aws = render('aws');
    const find = (rs: any[], kind: string, name: string) => rs.find((o) => o.kind === kind && o.metadata.name === name);
    const cronAws = find(aws, 'CronJob', 'billing-aggregation');
    expect(cronAws.metadata.namespace).toBe('billing');
    expect(cronAws.metadata.labels['app.kubernetes.io/part-of']).toBe('mr');
    const pod = cronAws.spec.jobTemplate.spec.template.spec;
    expect(pod.containers[0].image).toBe('123456789012.dkr.ecr.us-east-2.amazonaws.com/mr:0.1.0');
    expect(pod.initContainers).toBeUndefined(); // no copy from S3: the Spark pods read s3a:// themselves
    expect(pod.containers[0].args.slice(0, 2)).toEqual(['aggregate', '$(LOG_SOURCE_PATH_AWS)']);
    expect(find(local, 'CronJob', 'billing-aggregation').spec.jobTemplate.spec.template.spec.containers[0].image).toBe('mr:0.1.0');
    expect(find(local, 'PersistentVolumeClaim', 'billing-data').spec.volumeName).toBe('billing-data-local');
    expect(find(aws, 'DaemonSet', 'fluent-bit').metadata.namespace).toBe('logging');
    expect(find(aws, 'ConfigMap', 'fluent-bit-config').data['output.conf']).toContain('/kubernetes/fluent-bit-logs');
    expect(find(aws, 'RoleBinding', 'fluent-bit-pod-reader').subjects[0].namespace).toBe('logging');
  });

  it('the compiled CLI exits 0 on the tree and 1 on a broken copy', () => {
    // npm test builds before it runs the tests; the CLI is the compiled one users run.
    const cli = join(ROOT, 'dist/k8s/validate/cli.js');
    expect(existsSync(cli)).toBe(true);
    const ok = spawnSync(process.execPath, [cli], { cwd: ROOT, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('deploy:check: OK');
    const broken = copyTree();
    edit(broken, 'k8s/base/pipeline/spark-connect.yaml', 'imagePullPolicy: IfNotPresent', 'imagePullPolicy: Sometimes');
    const bad = spawnSync(process.execPath, [cli, '--root', broken], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/imagePullPolicy Sometimes is not one of Always, IfNotPresent, Never/);
  });
});

describe('deploy:check on broken copies', () => {
  let base: string;
  beforeAll(() => {
    base = copyTree();
  });

  it('the unbroken copy passes', async () => {
    expect(await errorsOf(base)).toEqual([]);
  });

  const cases: { name: string; file: string; from: string | RegExp; to: string; want: RegExp }[] = [
    {
      name: 'an unknown field in a manifest',
      file: 'k8s/base/pipeline/billing-cronjob.yaml',
      from: '  concurrencyPolicy: Forbid',
      to: '  concurrencyPolicy: Forbid\n  concurencyLimit: 1',
      want: /k8s\/overlays\/(local|aws): did not validate for resource cronjob\/billing-aggregation .*spec: Additional properties are not allowed \('concurencyLimit' was unexpected\)/,
    },
    {
      name: 'a misspelt container field',
      file: 'k8s/base/pipeline/billing-job.yaml',
      from: '          imagePullPolicy: IfNotPresent',
      to: '          imagePullPolicyy: IfNotPresent',
      want: /job\/billing-aggregation-once .*containers\.0: Additional properties are not allowed \('imagePullPolicyy' was unexpected\)/,
    },
    {
      name: 'a wrong type',
      file: 'k8s/base/pipeline/billing-cronjob.yaml',
      from: '      backoffLimit: 3',
      to: '      backoffLimit: three',
      want: /spec\.jobTemplate\.spec\.backoffLimit: 'three' is not of type 'integer'/,
    },
    {
      name: 'a bad quantity',
      file: 'k8s/base/pipeline/billing-job.yaml',
      from: '              memory: 1Gi',
      to: '              memory: 1 gig',
      want: /resources\.(requests|limits)\.memory "1 gig" is not a Kubernetes quantity/,
    },
    {
      name: 'an unknown kind',
      file: 'k8s/base/pipeline/networkpolicy.yaml',
      from: 'kind: NetworkPolicy',
      to: 'kind: NetworkPolicee',
      want: /Couldn't find schema for kind NetworkPolicee with api version networking\.k8s\.io\/v1/,
    },
    {
      name: 'a bad field in the embedded executor pod template',
      file: 'k8s/base/pipeline/spark-executor-template.yaml',
      from: '      automountServiceAccountToken: false',
      to: '      automountServiceAccountToken: false\n      hostNetwerk: true',
      want: /data\.executor-pod\.yaml: did not validate .*spec: Additional properties are not allowed \('hostNetwerk' was unexpected\)/,
    },
    {
      name: 'a container running as root',
      file: 'k8s/base/pipeline/billing-job.yaml',
      from: '        runAsNonRoot: true\n        runAsUser: 1000',
      to: '        runAsNonRoot: false\n        runAsUser: 0',
      want: /Job\/billing\/billing-aggregation-once: .*runAsNonRoot must be true/,
    },
    {
      name: 'a writable root filesystem',
      file: 'k8s/base/pipeline/spark-connect.yaml',
      from: '            readOnlyRootFilesystem: true',
      to: '            readOnlyRootFilesystem: false',
      want: /readOnlyRootFilesystem must be true/,
    },
    {
      name: 'missing limits',
      file: 'k8s/base/logging/fluent-bit-daemonset.yaml',
      from: /            limits:\n              cpu: 500m\n              memory: 256Mi\n/,
      to: '',
      want: /resources\.limits\.cpu is not set/,
    },
    {
      name: 'an overlapping CronJob',
      file: 'k8s/base/pipeline/billing-cronjob.yaml',
      from: 'concurrencyPolicy: Forbid',
      to: 'concurrencyPolicy: Allow',
      want: /concurrencyPolicy must be Forbid/,
    },
    {
      name: 'a NetworkPolicy opening the Connect server to every pod',
      file: 'k8s/base/pipeline/networkpolicy.yaml',
      from: '        - podSelector:\n            matchLabels:\n              app.kubernetes.io/component: billing-job\n',
      to: '        - podSelector: {}\n',
      want: /may reach the Spark Connect server/,
    },
    {
      name: 'dynamic allocation switched off',
      file: 'k8s/base/pipeline/spark-connect.yaml',
      from: 'spark.dynamicAllocation.enabled=true',
      to: 'spark.dynamicAllocation.enabled=false',
      want: /lacks spark\.dynamicAllocation\.enabled=true/,
    },
    {
      name: 'an executor image that differs from the driver image',
      file: 'k8s/overlays/aws/spark-connect.yaml',
      from: 'value: 123456789012.dkr.ecr.us-east-2.amazonaws.com/mr-spark:4.1.1',
      to: 'value: mr-spark:4.1.0',
      want: /k8s\/overlays\/aws: .*SPARK_EXECUTOR_IMAGE \(mr-spark:4\.1\.0\) differs/,
    },
    {
      name: 'a patch whose target is gone',
      file: 'k8s/overlays/local/billing-data-pvc.yaml',
      from: 'name: billing-data\n',
      to: 'name: billing-dat\n',
      want: /k8s\/overlays\/local: kustomize build: .*no resource matches strategic merge patch "PersistentVolumeClaim.*billing-dat/,
    },
    {
      name: 'a Role with a wildcard',
      file: 'k8s/base/pipeline/spark-rbac.yaml',
      from: 'resources: ["configmaps"]',
      to: 'resources: ["*"]',
      want: /rules use "\*" in resources/,
    },
    {
      name: 'Fluent Bit not sending to CloudWatch on AWS',
      file: 'k8s/overlays/aws/fluent-bit-cloudwatch.yaml',
      from: 'Name                      cloudwatch_logs',
      to: 'Name                      stdout',
      want: /expected one cloudwatch_logs output/,
    },
    {
      name: 'the Spark Connect Service exposed outside the cluster',
      file: 'k8s/base/pipeline/spark-connect.yaml',
      from: '  type: ClusterIP',
      to: '  type: LoadBalancer',
      want: /Service\/billing\/spark-connect: type must be ClusterIP/,
    },
    {
      name: 'the Spark Connect pod on the host network',
      file: 'k8s/base/pipeline/spark-connect.yaml',
      from: '      enableServiceLinks: false',
      to: '      enableServiceLinks: false\n      hostNetwork: true',
      want: /Deployment\/billing\/spark-connect: hostNetwork is not allowed/,
    },
    {
      name: 'privilege escalation allowed in the executor template',
      file: 'k8s/base/pipeline/spark-executor-template.yaml',
      from: '            allowPrivilegeEscalation: false',
      to: '            allowPrivilegeEscalation: true',
      want: /ConfigMap\/billing\/spark-executor-template: data\.executor-pod\.yaml spec\.containers\[0\].*allowPrivilegeEscalation must be false/,
    },
    {
      name: 'an unpinned image',
      file: 'k8s/base/kustomization.yaml',
      from: '  - name: mr\n    newTag: "0.1.0"',
      to: '  - name: mr\n    newTag: latest',
      want: /k8s\/overlays\/local: .*image "mr:latest" must be pinned/,
    },
    {
      name: 'a compose file with an invalid key',
      file: 'docker/docker-compose.yml',
      from: '    hostname: spark-master\n',
      to: '    hostname: spark-master\n    restart_policy: always\n',
      want: /docker-compose\.yml: \/services\/spark-master must NOT have additional properties \(restart_policy\)/,
    },
    {
      name: 'a compose health check with a bad duration',
      file: 'docker/docker-compose.yml',
      from: '      interval: 10s\n      timeout: 5s\n      retries: 12\n      start_period: 20s\n\n  spark-worker',
      to: '      interval: ten seconds\n      timeout: 5s\n      retries: 12\n      start_period: 20s\n\n  spark-worker',
      want: /healthcheck\/interval must match format "duration"/,
    },
    {
      name: 'a compose job that does not wait for the Connect server to be healthy',
      file: 'docker/docker-compose.yml',
      from: '      spark-connect:\n        condition: service_healthy',
      to: '      spark-connect:\n        condition: service_started',
      want: /services\.billing: depends_on spark-connect must wait for condition service_healthy/,
    },
    {
      name: 'a Dockerfile running as root',
      file: 'docker/Dockerfile',
      from: 'USER 1000:1000',
      to: 'USER root',
      want: /hadolint: docker\/Dockerfile:\d+ DL3002 warning: Last USER should not be root/,
    },
    {
      name: 'a Dockerfile without USER',
      file: 'docker/spark/Dockerfile',
      from: 'USER 185:185\n',
      to: '',
      want: /docker\/spark\/Dockerfile:\d+: final stage has no USER/,
    },
    {
      name: 'a Dockerfile on latest that ADDs a URL',
      file: 'docker/Dockerfile',
      from: 'FROM node:20.20.2-bookworm-slim AS runtime',
      to: 'FROM node:latest AS runtime\nADD https://example.invalid/x.tgz /tmp/',
      want: /docker\/Dockerfile:\d+ DL3007 [\s\S]*docker\/Dockerfile:\d+: ADD: use COPY/,
    },
    {
      name: 'a Dockerfile syntax error',
      file: 'docker/spark/Dockerfile',
      from: 'EXPOSE 7077',
      to: 'EXPOSE seven',
      want: /hadolint: docker\/spark\/Dockerfile:\d+:\d+ unexpected 's'/,
    },
    {
      name: 'an undocumented setting',
      file: '.env.example',
      from: /^SPARK_EXECUTOR_CORES=2\n/m,
      to: '',
      want: /\.env\.example: SPARK_EXECUTOR_CORES is not documented/,
    },
    {
      name: 'a README naming a file that does not exist',
      file: 'docker/README.md',
      from: '## Checking',
      to: 'See `docker/entrypoint.sh`.\n\n## Checking',
      want: /docker\/README\.md: names docker\/entrypoint\.sh, which does not exist/,
    },
  ];

  for (const c of cases) {
    it(`fails on ${c.name}`, async () => {
      const root = copyTree();
      edit(root, c.file, c.from, c.to);
      const errors = await errorsOf(root);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.join('\n')).toMatch(c.want);
    });
  }
});
