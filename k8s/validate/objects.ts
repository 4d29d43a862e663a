/** Helpers over rendered Kubernetes objects: identity, pod templates, containers, images. */
import { isObject, type Json, type JsonObject } from './yaml-io.js';

/** A rendered object and the file it came from (relative to the checked tree). */
export interface Resource {
  obj: JsonObject;
  source: string;
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'CustomResourceDefinition',
  'PriorityClass',
  'Node',
  'IngressClass',
  'RuntimeClass',
  'CSIDriver',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

export function isNamespaced(kind: string): boolean {
  return !CLUSTER_SCOPED.has(kind);
}

export function str(v: Json | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function metadata(obj: JsonObject): JsonObject {
  if (!isObject(obj['metadata'])) obj['metadata'] = {};
  return obj['metadata'] as JsonObject;
}

export function kindOf(obj: JsonObject): string {
  return str(obj['kind']) ?? '?';
}

export function nameOf(obj: JsonObject): string {
  return str(isObject(obj['metadata']) ? obj['metadata']['name'] : undefined) ?? '?';
}

export function namespaceOf(obj: JsonObject): string | undefined {
  return str(isObject(obj['metadata']) ? obj['metadata']['namespace'] : undefined);
}

/** "apps/v1" -> ["apps", "v1"]; "v1" -> ["", "v1"]. */
export function groupVersion(obj: JsonObject): [string, string] {
  const av = str(obj['apiVersion']) ?? '';
  const i = av.lastIndexOf('/');
  return i < 0 ? ['', av] : [av.slice(0, i), av.slice(i + 1)];
}

/** kind/namespace/name, as in messages. */
export function idOf(obj: JsonObject): string {
  const ns = namespaceOf(obj);
  return `${kindOf(obj)}/${ns === undefined ? '' : ns + '/'}${nameOf(obj)}`;
}

export interface PodTemplate {
  /** JSON path of the template, for messages: "spec.template". */
  path: string;
  meta: JsonObject;
  spec: JsonObject;
}

function templateAt(holder: Json | undefined, path: string): PodTemplate | undefined {
  if (!isObject(holder)) return undefined;
  const t = holder['template'];
  if (!isObject(t)) return undefined;
  if (!isObject(t['metadata'])) t['metadata'] = {};
  if (!isObject(t['spec'])) return undefined;
  return { path: `${path}.template`, meta: t['metadata'] as JsonObject, spec: t['spec'] as JsonObject };
}

/** The pod templates an object carries (none for kinds without pods). */
export function podTemplates(obj: JsonObject): PodTemplate[] {
  const spec = obj['spec'];
  switch (kindOf(obj)) {
    case 'Deployment':
    case 'DaemonSet':
    case 'StatefulSet':
    case 'ReplicaSet':
    case 'Job': {
      const t = templateAt(spec, 'spec');
      return t ? [t] : [];
    }
    case 'CronJob': {
      if (!isObject(spec) || !isObject(spec['jobTemplate'])) return [];
      const t = templateAt(spec['jobTemplate']['spec'], 'spec.jobTemplate.spec');
      return t ? [t] : [];
    }
    case 'Pod':
      return isObject(spec) ? [{ path: '', meta: metadata(obj), spec }] : [];
    default:
      return [];
  }
}

export interface ContainerRef {
  field: 'containers' | 'initContainers';
  index: number;
  c: JsonObject;
}

export function containersOf(podSpec: JsonObject): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const field of ['initContainers', 'containers'] as const) {
    const list = podSpec[field];
    if (!Array.isArray(list)) continue;
    list.forEach((c, index) => {
      if (isObject(c)) out.push({ field, index, c });
    });
  }
  return out;
}

export interface ImageRef {
  name: string;
  tag?: string;
  digest?: string;
}

/** Splits "registry:5000/a/b:tag@sha256:..." into name, tag and digest. */
export function parseImage(image: string): ImageRef {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  const slash = rest.lastIndexOf('/');
  if (colon > slash) {
    return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), ...(digest ? { digest } : {}) };
  }
  return { name: rest, ...(digest ? { digest } : {}) };
}

export function formatImage(ref: ImageRef): string {
  return `${ref.name}${ref.tag !== undefined ? ':' + ref.tag : ''}${ref.digest !== undefined ? '@' + ref.digest : ''}`;
}

/** Does a label selector's matchLabels (or a plain map) select these labels? */
export function selects(selector: Json | undefined, labels: Json | undefined): boolean {
  if (!isObject(selector)) return false;
  const match = isObject(selector['matchLabels']) ? selector['matchLabels'] : selector;
  if (isObject(selector['matchLabels']) && selector['matchExpressions'] !== undefined) return false;
  const l = isObject(labels) ? labels : {};
  return Object.entries(match).every(([k, v]) => l[k] === v);
}
