/**
 * Rules no installed tool has, on one overlay's `kustomize build` output: hardening (non-root
 * unless annotated deploy-check.mr/allow-root with a reason, read-only root, no escalation,
 * capabilities dropped, pinned images, requests and limits); values kubernetes-validate's
 * schemas leave open (quantities, imagePullPolicy); Spark Connect bound inside the cluster
 * (ClusterIP, no host network or ports, only the billing jobs reach 15002 through the
 * NetworkPolicies); least-privilege RBAC; the pipeline's shape.
 */
/** A rendered object as parsed from kustomize's YAML: any shape, checked field by field. */
export type Obj = Record<string, any>;

export const ALLOW_ROOT_ANNOTATION = 'deploy-check.mr/allow-root';
export const EXECUTOR_TEMPLATE_KEY = 'executor-pod.yaml';
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$/;
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const CONNECT_PORT = 15002;

type Pod = { owner: Obj; meta: Obj; spec: Obj; executor: boolean };

const id = (o: Obj): string => `${o['kind']}/${o['metadata']?.['namespace'] ? o['metadata']['namespace'] + '/' : ''}${o['metadata']?.['name']}`;
const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);
const selects = (sel: Obj | undefined, labels: Obj | undefined): boolean =>
  sel !== undefined && sel['matchExpressions'] === undefined && Object.entries(sel['matchLabels'] ?? {}).every(([k, v]) => labels?.[k] === v);
const envValue = (c: Obj, name: string): unknown => list(c['env']).find((e) => e['name'] === name)?.['value'];

/** Pod templates of the workloads, plus the executor template the Connect server mounts. */
export function podsOf(objs: Obj[], executorPod: Obj | undefined): Pod[] {
  const pods: Pod[] = [];
  for (const o of objs) {
    const t = o['kind'] === 'CronJob' ? o['spec']?.['jobTemplate']?.['spec']?.['template'] : o['spec']?.['template'];
    if (['Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'CronJob'].includes(o['kind']) && t?.['spec']) {
      pods.push({ owner: o, meta: t['metadata'] ?? {}, spec: t['spec'], executor: false });
    }
  }
  const holder = objs.find((o) => o['kind'] === 'ConfigMap' && typeof o['data']?.[EXECUTOR_TEMPLATE_KEY] === 'string');
  if (holder && executorPod?.['spec']) pods.push({ owner: holder, meta: executorPod['metadata'] ?? {}, spec: executorPod['spec'], executor: true });
  return pods;
}

export function policyErrors(objs: Obj[], executorPod: Obj | undefined, fluentBitOutput: string): string[] {
  const errors: string[] = [];
  const pods = podsOf(objs, executorPod);
  const of = (kind: string): Obj[] => objs.filter((o) => o['kind'] === kind);

  for (const p of pods) {
    const where = (s: string): string => `${id(p.owner)}: ${p.executor ? `data.${EXECUTOR_TEMPLATE_KEY} ` : ''}${s}`;
    const podSc: Obj = p.spec['securityContext'] ?? {};
    const rootReason = String(p.owner['metadata']?.['annotations']?.[ALLOW_ROOT_ANNOTATION] ?? '').trim();
    if (p.spec['hostNetwork'] === true) errors.push(where('hostNetwork is not allowed'));
    for (const [field, cs] of [['initContainers', p.spec['initContainers']], ['containers', p.spec['containers']]] as const) {
      list(cs).forEach((c, i) => {
        const cw = (s: string): string => where(`spec.${field}[${i}] (${c['name']}): ${s}`);
        const sc: Obj = c['securityContext'] ?? {};
        if (rootReason === '' && (sc['runAsNonRoot'] ?? podSc['runAsNonRoot']) !== true) errors.push(cw(`runAsNonRoot must be true (or annotate ${ALLOW_ROOT_ANNOTATION})`));
        if (rootReason === '' && (sc['runAsUser'] ?? podSc['runAsUser']) === 0) errors.push(cw('runAsUser 0 is root'));
        if (sc['readOnlyRootFilesystem'] !== true) errors.push(cw('securityContext.readOnlyRootFilesystem must be true'));
        if (sc['allowPrivilegeEscalation'] !== false) errors.push(cw('securityContext.allowPrivilegeEscalation must be false'));
        if (sc['privileged'] === true) errors.push(cw('privileged containers are not allowed'));
        if (!list(sc['capabilities']?.['drop']).includes('ALL')) errors.push(cw('securityContext.capabilities.drop must include ALL'));
        if (list(sc['capabilities']?.['add']).length > 0) errors.push(cw('adds capabilities'));
        if (list(c['ports']).some((port) => port['hostPort'] !== undefined)) errors.push(cw('hostPort is not allowed'));
        if (!PULL_POLICIES.includes(c['imagePullPolicy'] ?? 'Always')) errors.push(cw(`imagePullPolicy ${c['imagePullPolicy']} is not one of ${PULL_POLICIES.join(', ')}`));
        for (const kind of ['requests', 'limits']) {
          for (const [r, q] of Object.entries(c['resources']?.[kind] ?? {})) if (!QUANTITY.test(String(q))) errors.push(cw(`resources.${kind}.${r} "${q}" is not a Kubernetes quantity`));
          if (p.executor) continue; // Spark sets the executors' image and resources
          for (const r of ['cpu', 'memory']) if (c['resources']?.[kind]?.[r] === undefined) errors.push(cw(`resources.${kind}.${r} is not set`));
        }
        const image = String(c['image'] ?? '');
        const pinned = image.includes('@') || (/:[^/]+$/.test(image) && !image.endsWith(':latest'));
        if (!p.executor && !pinned) errors.push(cw(`image "${image}" must be pinned to a tag other than latest, or a digest`));
      });
    }
  }

  // RBAC: least privilege
  for (const role of [...of('Role'), ...of('ClusterRole')]) {
    for (const rule of list(role['rules'])) {
      for (const f of ['apiGroups', 'resources', 'verbs']) if (list(rule[f]).includes('*')) errors.push(`${id(role)}: rules use "*" in ${f} (least privilege)`);
      if (list(rule['resources']).includes('secrets')) errors.push(`${id(role)}: grants access to secrets`);
    }
  }
  if (of('ClusterRoleBinding').length > 0) errors.push('ClusterRoleBinding: the deployment needs no cluster-wide permissions');

  // Spark Connect: dynamic allocation, executors like the driver, reachable inside the cluster only
  const connect = pods.find((p) => p.owner['kind'] === 'Deployment' && p.owner['metadata']?.['name'] === 'spark-connect');
  const billing = pods.filter((p) => ['CronJob', 'Job'].includes(p.owner['kind']));
  if (connect === undefined) errors.push('Deployment/spark-connect: missing');
  else {
    const c: Obj = list(connect.spec['containers'])[0] ?? {};
    const script = [...list(c['command']), ...list(c['args'])].join(' ');
    for (const needle of ['org.apache.spark.sql.connect.service.SparkConnectServer', '--master k8s://https://kubernetes.default.svc:443',
      `spark.connect.grpc.binding.port=${CONNECT_PORT}`, 'spark.dynamicAllocation.enabled=true', 'spark.dynamicAllocation.shuffleTracking.enabled=true',
      'spark.kubernetes.executor.label.spark-app=billing-aggregation']) {
      if (!script.includes(needle)) errors.push(`Deployment/spark-connect: launch command lacks ${needle}`);
    }
    const executorImage = envValue(c, 'SPARK_EXECUTOR_IMAGE');
    if (executorImage !== c['image']) errors.push(`Deployment/spark-connect: SPARK_EXECUTOR_IMAGE (${String(executorImage)}) differs from the container image (${c['image']})`);
    const svc = of('Service').find((s) => s['metadata']?.['name'] === 'spark-connect');
    if (!svc) errors.push('Service/spark-connect: missing (the billing jobs use sc://spark-connect:15002)');
    else if ((svc['spec']?.['type'] ?? 'ClusterIP') !== 'ClusterIP') errors.push(`${id(svc)}: type must be ClusterIP (Spark Connect stays inside the cluster)`);
    const peers = allowedPeers(of('NetworkPolicy'), connect, CONNECT_PORT, pods);
    if (peers === 'any') errors.push(`NetworkPolicy: the Spark Connect port ${CONNECT_PORT} is open to any pod; only the billing jobs may reach it`);
    else {
      for (const p of peers) if (!billing.includes(p)) errors.push(`NetworkPolicy: ${id(p.owner)} may reach the Spark Connect server`);
      for (const p of billing) if (!peers.includes(p)) errors.push(`NetworkPolicy: ${id(p.owner)} cannot reach the Spark Connect server`);
    }
  }
  const executor = pods.find((p) => p.executor);
  if (executor === undefined) errors.push(`ConfigMap with ${EXECUTOR_TEMPLATE_KEY}: no executor pod template`);
  else if (executor.meta['labels']?.['spark-app'] !== 'billing-aggregation') errors.push(`${id(executor.owner)}: executor pods lack label spark-app=billing-aggregation`);

  // the billing CronJob and Job
  if (of('CronJob').length !== 1 || of('Job').length < 1) errors.push('expected one billing CronJob and an on-demand Job');
  for (const cj of of('CronJob')) {
    if (cj['spec']?.['concurrencyPolicy'] !== 'Forbid') errors.push(`${id(cj)}: concurrencyPolicy must be Forbid (no overlapping bills)`);
    if (!(cj['spec']?.['jobTemplate']?.['spec']?.['backoffLimit'] >= 1)) errors.push(`${id(cj)}: jobTemplate.spec.backoffLimit must allow retries`);
  }
  for (const p of billing) {
    const mr = list(p.spec['containers']).find((c) => c['name'] === 'mr');
    const args = list(mr?.['args']).map(String);
    if (args[0] !== 'aggregate' || args[args.indexOf('--engine') + 1] !== 'spark') errors.push(`${id(p.owner)}: mr must run "aggregate ... --engine spark"`);
    if (mr === undefined || envValue(mr, 'SPARK_REMOTE') !== `sc://spark-connect:${CONNECT_PORT}`) {
      errors.push(`${id(p.owner)}: SPARK_REMOTE must be sc://spark-connect:${CONNECT_PORT}`);
    }
    if (!list(mr?.['envFrom']).some((e) => e['secretRef']?.['name'] === 'app-env')) errors.push(`${id(p.owner)}: mr is not configured from the app-env Secret`);
  }

  // Fluent Bit: one output per overlay, JSON parsed
  const conf = Object.values(of('ConfigMap').find((o) => o['metadata']?.['name'] === 'fluent-bit-config')?.['data'] ?? {}).join('\n');
  const outputs = [...conf.matchAll(/\[OUTPUT\][^[]*?^\s*Name\s+(\S+)/gim)].map((m) => m[1]);
  if (of('DaemonSet').every((d) => d['metadata']?.['name'] !== 'fluent-bit')) errors.push('DaemonSet/fluent-bit: missing');
  if (outputs.length !== 1 || outputs[0] !== fluentBitOutput) {
    errors.push(`ConfigMap/fluent-bit-config: expected one ${fluentBitOutput} output, found ${JSON.stringify(outputs)}`);
  }
  if (fluentBitOutput === 'cloudwatch_logs' && !/log_group_name\s+\/kubernetes\/fluent-bit-logs\b/.test(conf)) {
    errors.push('ConfigMap/fluent-bit-config: CloudWatch log group must be /kubernetes/fluent-bit-logs');
  }
  if (!/Merge_Log\s+On/i.test(conf)) errors.push('ConfigMap/fluent-bit-config: the kubernetes filter must parse JSON logs (Merge_Log On)');
  return errors;
}

/** Pods that the NetworkPolicies let reach `target` on `port` ('any' when unrestricted). */
function allowedPeers(policies: Obj[], target: Pod, port: number, pods: Pod[]): Pod[] | 'any' {
  const ns = (o: Obj): unknown => o['metadata']?.['namespace'];
  const applicable = policies.filter((np) => ns(np) === ns(target.owner) && selects(np['spec']?.['podSelector'] ?? {}, target.meta['labels']));
  if (applicable.length === 0) return 'any';
  const allowed = new Set<Pod>();
  for (const rule of applicable.flatMap((np) => list(np['spec']?.['ingress']))) {
    const ports = rule['ports'] === undefined ? undefined : list(rule['ports']);
    if (ports !== undefined && !ports.some((pp) => pp['port'] === port || pp['port'] === undefined)) continue;
    const from = list(rule['from']);
    if (from.length === 0 || from.some((peer) => peer['ipBlock'] !== undefined || peer['namespaceSelector'] !== undefined)) return 'any';
    for (const peer of from) for (const p of pods) if (ns(p.owner) === ns(target.owner) && selects(peer['podSelector'], p.meta['labels'])) allowed.add(p);
  }
  return [...allowed];
}
