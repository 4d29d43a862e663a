/**
 * Checks on a rendered overlay beyond the schemas: the hardening the deployment promises
 * (non-root, read-only root filesystems, no privilege escalation, resource requests and limits,
 * pinned images, least-privilege RBAC), references that must resolve (service accounts,
 * ConfigMaps, Secrets, claims, Service selectors and ports, role bindings), and the shape the
 * billing pipeline needs (Spark Connect with dynamic allocation, the CronJob, the Job, the
 * NetworkPolicy in front of the Connect server, Fluent Bit's output).
 */
import {
  containersOf,
  idOf,
  isNamespaced,
  kindOf,
  nameOf,
  namespaceOf,
  parseImage,
  podTemplates,
  selects,
  str,
  type PodTemplate,
  type Resource,
} from './objects.js';
import { isObject, parseYamlStream, type Json, type JsonObject } from './yaml-io.js';

/** Secrets created outside the manifests (`kubectl create secret generic app-env --from-env-file=.env`). */
export const EXTERNAL_SECRETS = new Set(['app-env']);
export const ALLOW_ROOT_ANNOTATION = 'deploy-check.mr/allow-root';
export const SPARK_APP_LABEL = ['spark-app', 'billing-aggregation'] as const;
export const EXECUTOR_TEMPLATE_KEY = 'executor-pod.yaml';

export interface OverlayExpectations {
  /** Fluent Bit output plugin the overlay must configure. */
  fluentBitOutput: 'stdout' | 'cloudwatch_logs';
}

interface Pod {
  owner: JsonObject;
  ns: string;
  template: PodTemplate;
  where: string;
}

/** The embedded executor pod template of the Spark Connect server, if any. */
export function executorTemplates(resources: Resource[]): { res: Resource; pod: JsonObject }[] {
  const out: { res: Resource; pod: JsonObject }[] = [];
  for (const r of resources) {
    if (kindOf(r.obj) !== 'ConfigMap' || !isObject(r.obj['data'])) continue;
    const text = r.obj['data'][EXECUTOR_TEMPLATE_KEY];
    if (typeof text !== 'string') continue;
    const docs = parseYamlStream(text, `${idOf(r.obj)} data.${EXECUTOR_TEMPLATE_KEY}`);
    const pod = docs[0];
    if (docs.length !== 1 || !isObject(pod)) throw new Error(`${idOf(r.obj)}: ${EXECUTOR_TEMPLATE_KEY} must hold one Pod`);
    out.push({ res: r, pod });
  }
  return out;
}

export function policyErrors(resources: Resource[], expect: OverlayExpectations): string[] {
  const errors: string[] = [];
  const err = (r: { obj: JsonObject } | JsonObject, msg: string): void => {
    const obj = 'obj' in r && isObject(r.obj) ? r.obj : (r as JsonObject);
    errors.push(`${idOf(obj)}: ${msg}`);
  };
  const byKind = (kind: string): JsonObject[] => resources.filter((r) => kindOf(r.obj) === kind).map((r) => r.obj);
  const find = (kind: string, ns: string | undefined, name: string): JsonObject | undefined =>
    byKind(kind).find((o) => nameOf(o) === name && (ns === undefined || namespaceOf(o) === ns));

  // namespaces
  for (const r of resources) {
    const ns = namespaceOf(r.obj);
    if (isNamespaced(kindOf(r.obj))) {
      if (ns === undefined) err(r, 'has no namespace after rendering');
      else if (!find('Namespace', undefined, ns)) err(r, `namespace ${ns} is not created by the manifests`);
    }
  }

  // pods: workload templates plus the embedded executor template
  const pods: Pod[] = [];
  for (const r of resources) {
    for (const t of podTemplates(r.obj)) pods.push({ owner: r.obj, ns: namespaceOf(r.obj) ?? '', template: t, where: t.path });
  }
  const executorPods: Pod[] = [];
  for (const { res, pod } of executorTemplates(resources)) {
    const t = podTemplates(pod)[0];
    if (t === undefined) {
      err(res, `${EXECUTOR_TEMPLATE_KEY} has no pod spec`);
      continue;
    }
    const p = { owner: res.obj, ns: namespaceOf(res.obj) ?? '', template: t, where: `data.${EXECUTOR_TEMPLATE_KEY}` };
    pods.push(p);
    executorPods.push(p);
  }

  for (const p of pods) {
    const isExecutorTemplate = executorPods.includes(p);
    const at = (s: string): string => `${p.where ? p.where + '.' : ''}${s}`;
    const spec = p.template.spec;
    const podSc = isObject(spec['securityContext']) ? spec['securityContext'] : {};
    const ann = isObject(p.owner['metadata']) && isObject(p.owner['metadata']['annotations']) ? p.owner['metadata']['annotations'] : {};
    const rootReason = str(ann[ALLOW_ROOT_ANNOTATION]);
    const sa = str(spec['serviceAccountName']);
    if (sa === undefined) err(p.owner, `${at('spec.serviceAccountName')} is not set (the default account is not used)`);
    else if (!find('ServiceAccount', p.ns, sa)) err(p.owner, `${at('spec.serviceAccountName')}: ServiceAccount ${p.ns}/${sa} does not exist`);
    if (isObject(podSc['seccompProfile']) === false) err(p.owner, `${at('spec.securityContext.seccompProfile')} is not set`);

    for (const { field, index, c } of containersOf(spec)) {
      const cw = at(`spec.${field}[${index}] (${str(c['name']) ?? '?'})`);
      const sc = isObject(c['securityContext']) ? c['securityContext'] : {};
      const nonRoot = sc['runAsNonRoot'] ?? podSc['runAsNonRoot'];
      const uid = sc['runAsUser'] ?? podSc['runAsUser'];
      if (rootReason === undefined || rootReason.trim() === '') {
        if (nonRoot !== true) err(p.owner, `${cw}: runAsNonRoot must be true (or annotate ${ALLOW_ROOT_ANNOTATION} with a reason)`);
        if (uid === 0) err(p.owner, `${cw}: runAsUser 0 is root`);
      }
      if (sc['readOnlyRootFilesystem'] !== true) err(p.owner, `${cw}: securityContext.readOnlyRootFilesystem must be true`);
      if (sc['allowPrivilegeEscalation'] !== false) err(p.owner, `${cw}: securityContext.allowPrivilegeEscalation must be false`);
      if (sc['privileged'] === true) err(p.owner, `${cw}: privileged containers are not allowed`);
      const drop = isObject(sc['capabilities']) ? sc['capabilities']['drop'] : undefined;
      if (!Array.isArray(drop) || !drop.includes('ALL')) err(p.owner, `${cw}: securityContext.capabilities.drop must include ALL`);
      if (isObject(sc['capabilities']) && Array.isArray(sc['capabilities']['add']) && sc['capabilities']['add'].length > 0) {
        err(p.owner, `${cw}: adds capabilities`);
      }
      if (!isExecutorTemplate) {
        // Spark sets the executors' image and resources itself.
        const image = str(c['image']);
        if (image === undefined) err(p.owner, `${cw}: no image`);
        else {
          const ref = parseImage(image);
          if (ref.digest === undefined && (ref.tag === undefined || ref.tag === 'latest')) {
            err(p.owner, `${cw}: image ${image} must be pinned to a tag other than latest, or a digest`);
          }
        }
        const res = isObject(c['resources']) ? c['resources'] : {};
        for (const kind of ['requests', 'limits'] as const) {
          const m = isObject(res[kind]) ? res[kind] : {};
          for (const r of ['cpu', 'memory']) if (m[r] === undefined) err(p.owner, `${cw}: resources.${kind}.${r} is not set`);
        }
      }
      // references from the container
      const envFrom = Array.isArray(c['envFrom']) ? c['envFrom'] : [];
      for (const e of envFrom) {
        if (!isObject(e)) continue;
        if (isObject(e['secretRef'])) checkSecret(str(e['secretRef']['name']), p, cw);
        if (isObject(e['configMapRef']) && e['configMapRef']['optional'] !== true) checkConfigMap(str(e['configMapRef']['name']), p, cw);
      }
      const mounts = Array.isArray(c['volumeMounts']) ? c['volumeMounts'] : [];
      const volumes = Array.isArray(spec['volumes']) ? spec['volumes'] : [];
      for (const m of mounts) {
        if (isObject(m) && !volumes.some((v) => isObject(v) && v['name'] === m['name'])) {
          err(p.owner, `${cw}: volumeMount ${String(m['name'])} has no volume`);
        }
      }
    }
    const volumes = Array.isArray(spec['volumes']) ? spec['volumes'] : [];
    for (const v of volumes) {
      if (!isObject(v)) continue;
      if (isObject(v['configMap']) && v['configMap']['optional'] !== true) checkConfigMap(str(v['configMap']['name']), p, at('spec.volumes'));
      if (isObject(v['secret']) && v['secret']['optional'] !== true) checkSecret(str(v['secret']['secretName']), p, at('spec.volumes'));
      if (isObject(v['persistentVolumeClaim'])) {
        const claim = str(v['persistentVolumeClaim']['claimName']);
        if (claim === undefined || !find('PersistentVolumeClaim', p.ns, claim)) err(p.owner, `${at('spec.volumes')}: claim ${String(claim)} does not exist`);
      }
      if (v['hostPath'] !== undefined && (rootReason === undefined || rootReason.trim() === '')) {
        err(p.owner, `${at('spec.volumes')}: hostPath volume ${String(v['name'])} outside the annotated log collector`);
      }
    }
  }

  function checkSecret(name: string | undefined, p: Pod, where: string): void {
    if (name === undefined) return void err(p.owner, `${where}: Secret reference without a name`);
    if (EXTERNAL_SECRETS.has(name)) return;
    if (!find('Secret', p.ns, name)) err(p.owner, `${where}: Secret ${p.ns}/${name} does not exist`);
  }
  function checkConfigMap(name: string | undefined, p: Pod, where: string): void {
    if (name === undefined || !find('ConfigMap', p.ns, name)) err(p.owner, `${where}: ConfigMap ${p.ns}/${String(name)} does not exist`);
  }

  // Services select pods and name their ports
  for (const svc of byKind('Service')) {
    const spec = isObject(svc['spec']) ? svc['spec'] : {};
    const selected = pods.filter((p) => p.ns === namespaceOf(svc) && selects(spec['selector'], p.template.meta['labels']));
    if (selected.length === 0) err(svc, 'selects no pod');
    for (const port of Array.isArray(spec['ports']) ? spec['ports'] : []) {
      if (!isObject(port) || typeof port['targetPort'] !== 'string') continue;
      const name = port['targetPort'];
      const ok = selected.every((p) =>
        containersOf(p.template.spec).some(({ c }) => Array.isArray(c['ports']) && c['ports'].some((cp) => isObject(cp) && cp['name'] === name)),
      );
      if (!ok) err(svc, `targetPort ${name} is not a named port of the selected pods`);
    }
  }

  // RBAC: bindings resolve; no wildcards
  for (const kind of ['RoleBinding', 'ClusterRoleBinding']) {
    for (const b of byKind(kind)) {
      const ref = isObject(b['roleRef']) ? b['roleRef'] : {};
      const roleKind = str(ref['kind']) ?? '';
      const role = find(roleKind, roleKind === 'Role' ? namespaceOf(b) : undefined, str(ref['name']) ?? '');
      if (!role) err(b, `roleRef ${roleKind}/${String(ref['name'])} does not exist`);
      for (const s of Array.isArray(b['subjects']) ? b['subjects'] : []) {
        if (isObject(s) && s['kind'] === 'ServiceAccount' && !find('ServiceAccount', str(s['namespace']), str(s['name']) ?? '')) {
          err(b, `subject ServiceAccount ${String(s['namespace'])}/${String(s['name'])} does not exist`);
        }
      }
    }
  }
  for (const role of [...byKind('Role'), ...byKind('ClusterRole')]) {
    for (const rule of Array.isArray(role['rules']) ? role['rules'] : []) {
      if (!isObject(rule)) continue;
      for (const f of ['apiGroups', 'resources', 'verbs']) {
        if (Array.isArray(rule[f]) && rule[f].includes('*')) err(role, `rules use "*" in ${f} (least privilege)`);
      }
      if (Array.isArray(rule['resources']) && rule['resources'].some((x) => x === 'secrets')) err(role, 'grants access to secrets');
    }
  }
  if (byKind('ClusterRoleBinding').length > 0) errors.push('ClusterRoleBinding: the deployment needs no cluster-wide permissions');

  pipelineShape(resources, pods, executorPods, expect, errors);
  return errors;
}

function envValue(c: JsonObject, name: string): string | undefined {
  const env = Array.isArray(c['env']) ? c['env'] : [];
  for (const e of env) if (isObject(e) && e['name'] === name) return str(e['value']);
  return undefined;
}

function allowedPeers(policies: JsonObject[], target: Pod, port: number, pods: Pod[]): Pod[] | 'any' {
  const applicable = policies.filter(
    (np) => namespaceOf(np) === target.ns && isObject(np['spec']) && selects(np['spec']['podSelector'] ?? {}, target.template.meta['labels']),
  );
  if (applicable.length === 0) return 'any';
  const allowed = new Set<Pod>();
  for (const np of applicable) {
    const spec = np['spec'] as JsonObject;
    for (const rule of Array.isArray(spec['ingress']) ? spec['ingress'] : []) {
      if (!isObject(rule)) continue;
      const ports = Array.isArray(rule['ports']) ? rule['ports'] : undefined;
      if (ports !== undefined && !ports.some((pp) => isObject(pp) && (pp['port'] === port || pp['port'] === undefined))) continue;
      const from = Array.isArray(rule['from']) ? rule['from'] : undefined;
      if (from === undefined || from.length === 0) return 'any';
      for (const peer of from) {
        if (!isObject(peer)) continue;
        if (peer['ipBlock'] !== undefined || peer['namespaceSelector'] !== undefined) return 'any';
        for (const p of pods) if (p.ns === target.ns && selects(peer['podSelector'], p.template.meta['labels'])) allowed.add(p);
      }
    }
  }
  return [...allowed];
}

function pipelineShape(resources: Resource[], pods: Pod[], executorPods: Pod[], expect: OverlayExpectations, errors: string[]): void {
  const objs = resources.map((r) => r.obj);
  const [labelKey, labelValue] = SPARK_APP_LABEL;

  // Spark Connect server
  const connect = pods.find((p) => kindOf(p.owner) === 'Deployment' && nameOf(p.owner) === 'spark-connect');
  if (connect === undefined) {
    errors.push('Deployment/spark-connect: missing');
  } else {
    const c = containersOf(connect.template.spec).find((x) => x.field === 'containers')?.c ?? {};
    const script = (Array.isArray(c['args']) ? c['args'] : []).concat(Array.isArray(c['command']) ? c['command'] : []).join(' ');
    for (const needle of [
      'org.apache.spark.sql.connect.service.SparkConnectServer',
      '--master k8s://https://kubernetes.default.svc:443',
      'spark.dynamicAllocation.enabled=true',
      'spark.dynamicAllocation.shuffleTracking.enabled=true',
      'spark.dynamicAllocation.minExecutors=',
      'spark.dynamicAllocation.initialExecutors=',
      'spark.dynamicAllocation.maxExecutors=',
      'spark.dynamicAllocation.executorIdleTimeout=',
      'spark.executor.memory=',
      'spark.executor.cores=',
      `spark.kubernetes.executor.label.${labelKey}=${labelValue}`,
      'spark.kubernetes.authenticate.executor.serviceAccountName=',
      'spark.connect.grpc.binding.port=15002',
    ]) {
      if (!script.includes(needle)) errors.push(`Deployment/spark-connect: launch command lacks ${needle}`);
    }
    if (connect.template.meta['labels'] === undefined || (connect.template.meta['labels'] as JsonObject)[labelKey] !== labelValue) {
      errors.push(`Deployment/spark-connect: driver pod lacks label ${labelKey}=${labelValue}`);
    }
    const execImage = envValue(c, 'SPARK_EXECUTOR_IMAGE');
    if (execImage !== c['image']) {
      errors.push(`Deployment/spark-connect: SPARK_EXECUTOR_IMAGE (${String(execImage)}) differs from the container image (${String(c['image'])})`);
    }
  }
  if (executorPods.length !== 1) errors.push(`ConfigMap with ${EXECUTOR_TEMPLATE_KEY}: expected one executor pod template, found ${executorPods.length}`);
  for (const e of executorPods) {
    const labels = isObject(e.template.meta['labels']) ? e.template.meta['labels'] : {};
    if (labels[labelKey] !== labelValue) errors.push(`${idOf(e.owner)}: executor pods lack label ${labelKey}=${labelValue}`);
  }

  // billing jobs
  const cron = objs.filter((o) => kindOf(o) === 'CronJob');
  const jobs = objs.filter((o) => kindOf(o) === 'Job');
  if (cron.length !== 1) errors.push(`CronJob: expected one billing CronJob, found ${cron.length}`);
  if (jobs.length < 1) errors.push('Job: expected an on-demand billing Job');
  for (const cj of cron) {
    const spec = isObject(cj['spec']) ? cj['spec'] : {};
    if (spec['concurrencyPolicy'] !== 'Forbid') errors.push(`${idOf(cj)}: concurrencyPolicy must be Forbid (no overlapping bills)`);
    if (typeof spec['schedule'] !== 'string') errors.push(`${idOf(cj)}: no schedule`);
    const js = isObject(spec['jobTemplate']) && isObject(spec['jobTemplate']['spec']) ? spec['jobTemplate']['spec'] : {};
    if (typeof js['backoffLimit'] !== 'number' || js['backoffLimit'] < 1) errors.push(`${idOf(cj)}: jobTemplate.spec.backoffLimit must allow retries`);
  }
  const billingPods = pods.filter((p) => kindOf(p.owner) === 'CronJob' || kindOf(p.owner) === 'Job');
  const connectSvc = objs.find((o) => kindOf(o) === 'Service' && nameOf(o) === 'spark-connect');
  for (const p of billingPods) {
    const mr = containersOf(p.template.spec).find((x) => x.field === 'containers' && x.c['name'] === 'mr')?.c;
    if (mr === undefined) {
      errors.push(`${idOf(p.owner)}: no container named mr`);
      continue;
    }
    const args = (Array.isArray(mr['args']) ? mr['args'] : []).map(String);
    if (args[0] !== 'aggregate' || args[args.indexOf('--engine') + 1] !== 'spark' || !args.includes('--engine')) {
      errors.push(`${idOf(p.owner)}: mr must run "aggregate ... --engine spark"`);
    }
    const remote = envValue(mr, 'SPARK_REMOTE') ?? args[args.indexOf('--remote') + 1];
    const m = /^sc:\/\/([a-z0-9-]+):(\d+)$/.exec(remote ?? '');
    if (m === null || m[1] !== 'spark-connect' || m[2] !== '15002' || connectSvc === undefined) {
      errors.push(`${idOf(p.owner)}: SPARK_REMOTE must be sc://spark-connect:15002 (the spark-connect Service), got ${String(remote)}`);
    }
    const envFrom = Array.isArray(mr['envFrom']) ? mr['envFrom'] : [];
    if (!envFrom.some((e) => isObject(e) && isObject(e['secretRef']) && e['secretRef']['name'] === 'app-env')) {
      errors.push(`${idOf(p.owner)}: mr is not configured from the app-env Secret`);
    }
  }

  // only the billing jobs reach the Connect server
  const policies = objs.filter((o) => kindOf(o) === 'NetworkPolicy');
  if (connect !== undefined) {
    const peers = allowedPeers(policies, connect, 15002, pods);
    if (peers === 'any') errors.push('NetworkPolicy: the Spark Connect port 15002 is open to any pod; only the billing jobs may reach it');
    else {
      for (const p of peers) if (!billingPods.includes(p)) errors.push(`NetworkPolicy: ${idOf(p.owner)} may reach the Spark Connect server`);
      for (const p of billingPods) if (!peers.includes(p)) errors.push(`NetworkPolicy: ${idOf(p.owner)} cannot reach the Spark Connect server`);
    }
    for (const e of executorPods) {
      const toDriver = allowedPeers(policies, connect, 7078, pods);
      if (toDriver !== 'any' && !toDriver.includes(e)) errors.push('NetworkPolicy: executors cannot reach the driver port 7078');
    }
  }

  // Fluent Bit
  const fbConfig = objs.find((o) => kindOf(o) === 'ConfigMap' && nameOf(o) === 'fluent-bit-config');
  const fb = objs.find((o) => kindOf(o) === 'DaemonSet' && nameOf(o) === 'fluent-bit');
  if (fb === undefined) errors.push('DaemonSet/fluent-bit: missing');
  if (fbConfig === undefined || !isObject(fbConfig['data'])) {
    errors.push('ConfigMap/fluent-bit-config: missing');
  } else {
    const conf = Object.values(fbConfig['data']).filter((v): v is string => typeof v === 'string').join('\n');
    const outputs = [...conf.matchAll(/\[OUTPUT\][^[]*?^\s*Name\s+(\S+)/gim)].map((m) => m[1]);
    if (outputs.length !== 1 || outputs[0] !== expect.fluentBitOutput) {
      errors.push(`ConfigMap/fluent-bit-config: expected one ${expect.fluentBitOutput} output, found ${JSON.stringify(outputs)}`);
    }
    if (expect.fluentBitOutput === 'cloudwatch_logs' && !/log_group_name\s+\/kubernetes\/fluent-bit-logs\b/.test(conf)) {
      errors.push('ConfigMap/fluent-bit-config: CloudWatch log group must be /kubernetes/fluent-bit-logs');
    }
    if (!/Merge_Log\s+On/i.test(conf)) errors.push('ConfigMap/fluent-bit-config: the kubernetes filter must parse JSON logs (Merge_Log On)');
    if (!/^\s*Format\s+json\b/im.test(conf)) errors.push('ConfigMap/fluent-bit-config: no JSON parser defined');
  }
}

export type { Json };
