/**
 * The policy rules no installed tool has, on one overlay's `kustomize build` output: pods run
 * as non-root (unless annotated deploy-check.mr/allow-root with a reason) and hardened
 * (read-only root, no escalation, no privilege, capabilities dropped); every container has
 * cpu and memory requests and limits, as Kubernetes quantities (the schemas leave them open);
 * Spark Connect is bound inside the cluster: a ClusterIP Service, no host network or ports,
 * and NetworkPolicies that let only the billing jobs reach port 15002.
 */
/** A rendered object as parsed from kustomize's YAML: any shape, checked field by field. */
export type Obj = Record<string, any>;

export const ALLOW_ROOT_ANNOTATION = 'deploy-check.mr/allow-root';
export const EXECUTOR_TEMPLATE_KEY = 'executor-pod.yaml';
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$/;
const CONNECT_PORT = 15002;

type Pod = { owner: Obj; meta: Obj; spec: Obj; executor: boolean };

const id = (o: Obj): string => `${o['kind']}/${o['metadata']?.['namespace'] ? o['metadata']['namespace'] + '/' : ''}${o['metadata']?.['name']}`;
const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);
const selects = (sel: Obj | undefined, labels: Obj | undefined): boolean =>
  sel !== undefined && sel['matchExpressions'] === undefined && Object.entries(sel['matchLabels'] ?? {}).every(([k, v]) => labels?.[k] === v);

/** Pod templates of the workloads, plus the executor template the Connect server mounts. */
function podsOf(objs: Obj[], executorPod: Obj | undefined): Pod[] {
  const pods: Pod[] = [];
  for (const o of objs) {
    const t = o['kind'] === 'CronJob' ? o['spec']?.['jobTemplate']?.['spec']?.['template'] : o['spec']?.['template'];
    if (['Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'CronJob'].includes(o['kind']) && t?.['spec']) pods.push({ owner: o, meta: t['metadata'] ?? {}, spec: t['spec'], executor: false });
  }
  const holder = objs.find((o) => o['kind'] === 'ConfigMap' && typeof o['data']?.[EXECUTOR_TEMPLATE_KEY] === 'string');
  if (holder && executorPod?.['spec']) pods.push({ owner: holder, meta: executorPod['metadata'] ?? {}, spec: executorPod['spec'], executor: true });
  return pods;
}

export function policyErrors(objs: Obj[], executorPod: Obj | undefined): string[] {
  const errors: string[] = [];
  const pods = podsOf(objs, executorPod);
  for (const p of pods) {
    const where = (s: string): string => `${id(p.owner)}: ${p.executor ? `data.${EXECUTOR_TEMPLATE_KEY} ` : ''}${s}`;
    const podSc: Obj = p.spec['securityContext'] ?? {};
    const mayBeRoot = String(p.owner['metadata']?.['annotations']?.[ALLOW_ROOT_ANNOTATION] ?? '').trim() !== '';
    if (p.spec['hostNetwork'] === true) errors.push(where('hostNetwork is not allowed'));
    for (const [field, cs] of [['initContainers', p.spec['initContainers']], ['containers', p.spec['containers']]] as const) {
      list(cs).forEach((c, i) => {
        const cw = (s: string): string => where(`spec.${field}[${i}] (${c['name']}): ${s}`);
        const sc: Obj = c['securityContext'] ?? {};
        if (!mayBeRoot && (sc['runAsNonRoot'] ?? podSc['runAsNonRoot']) !== true) errors.push(cw(`runAsNonRoot must be true (or annotate ${ALLOW_ROOT_ANNOTATION})`));
        if (!mayBeRoot && (sc['runAsUser'] ?? podSc['runAsUser']) === 0) errors.push(cw('runAsUser 0 is root'));
        if (sc['readOnlyRootFilesystem'] !== true) errors.push(cw('securityContext.readOnlyRootFilesystem must be true'));
        if (sc['allowPrivilegeEscalation'] !== false) errors.push(cw('securityContext.allowPrivilegeEscalation must be false'));
        if (sc['privileged'] === true) errors.push(cw('privileged containers are not allowed'));
        if (!list(sc['capabilities']?.['drop']).includes('ALL')) errors.push(cw('securityContext.capabilities.drop must include ALL'));
        if (list(c['ports']).some((port) => port['hostPort'] !== undefined)) errors.push(cw('hostPort is not allowed'));
        // spark-submit refuses a remote beside --master: a container starting it with settings
        // from a Secret (the billing jobs' SPARK_REMOTE among them) unsets it first.
        const script = [...list(c['command']), ...list(c['args'])].map(String).join('\n');
        const submits = script.lastIndexOf('spark-submit');
        const remoteSet = list(c['envFrom']).length > 0 || list(c['env']).some((e) => e['name'] === 'SPARK_REMOTE');
        if (submits >= 0 && remoteSet && !script.slice(0, submits).includes('unset SPARK_REMOTE')) {
          errors.push(cw('starts spark-submit with settings that may hold SPARK_REMOTE: unset it first (spark-submit refuses a remote beside --master)'));
        }
        for (const kind of ['requests', 'limits']) {
          for (const [r, q] of Object.entries(c['resources']?.[kind] ?? {})) if (!QUANTITY.test(String(q))) errors.push(cw(`resources.${kind}.${r} "${q}" is not a Kubernetes quantity`));
          if (p.executor) continue; // Spark sets the executors' resources
          for (const r of ['cpu', 'memory']) if (c['resources']?.[kind]?.[r] === undefined) errors.push(cw(`resources.${kind}.${r} is not set`));
        }
      });
    }
  }

  const connect = pods.find((p) => p.owner['kind'] === 'Deployment' && p.owner['metadata']?.['name'] === 'spark-connect');
  if (connect === undefined) return [...errors, 'Deployment/spark-connect: missing'];
  const svc = objs.find((s) => s['kind'] === 'Service' && s['metadata']?.['name'] === 'spark-connect');
  if (!svc) errors.push('Service/spark-connect: missing (the billing jobs use sc://spark-connect:15002)');
  else if ((svc['spec']?.['type'] ?? 'ClusterIP') !== 'ClusterIP') errors.push(`${id(svc)}: type must be ClusterIP (Spark Connect stays inside the cluster)`);
  const billing = pods.filter((p) => ['CronJob', 'Job'].includes(p.owner['kind']));
  const peers = allowedPeers(objs.filter((o) => o['kind'] === 'NetworkPolicy'), connect, pods);
  if (peers === 'any') return [...errors, `NetworkPolicy: the Spark Connect port ${CONNECT_PORT} is open to any pod; only the billing jobs may reach it`];
  for (const p of peers) if (!billing.includes(p)) errors.push(`NetworkPolicy: ${id(p.owner)} may reach the Spark Connect server`);
  for (const p of billing) if (!peers.includes(p)) errors.push(`NetworkPolicy: ${id(p.owner)} cannot reach the Spark Connect server`);
  return errors;
}

/** Pods that the NetworkPolicies let reach the Connect port of `target` ('any' when unrestricted). */
function allowedPeers(policies: Obj[], target: Pod, pods: Pod[]): Pod[] | 'any' {
  const ns = (o: Obj): unknown => o['metadata']?.['namespace'];
  const applicable = policies.filter((np) => ns(np) === ns(target.owner) && selects(np['spec']?.['podSelector'] ?? {}, target.meta['labels']));
  if (applicable.length === 0) return 'any';
  const allowed = new Set<Pod>();
  for (const rule of applicable.flatMap((np) => list(np['spec']?.['ingress']))) {
    if (rule['ports'] !== undefined && !list(rule['ports']).some((pp) => pp['port'] === CONNECT_PORT || pp['port'] === undefined)) continue;
    const from = list(rule['from']);
    if (from.length === 0 || from.some((peer) => peer['ipBlock'] !== undefined || peer['namespaceSelector'] !== undefined)) return 'any';
    for (const peer of from) for (const p of pods) if (ns(p.owner) === ns(target.owner) && selects(peer['podSelector'], p.meta['labels'])) allowed.add(p);
  }
  return [...allowed];
}
