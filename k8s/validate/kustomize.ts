/**
 * The subset of kustomize that k8s/ uses, so that overlays render without a kustomize binary:
 * resources (files and directories holding a kustomization), namespace, labels (without
 * selectors), commonAnnotations, images, and patches (strategic merge, or JSON 6902 with a
 * target). A kustomization using anything else is an error, not silently half-rendered.
 *
 * Transformers run in kustomize's order: patches, namespace, labels, annotations, images.
 */
import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  containersOf,
  groupVersion,
  idOf,
  isNamespaced,
  kindOf,
  metadata,
  nameOf,
  namespaceOf,
  parseImage,
  formatImage,
  podTemplates,
  str,
  type Resource,
} from './objects.js';
import { CheckError, clone, isObject, readYamlObject, readYamlStream, parseYamlStream, type Json, type JsonObject } from './yaml-io.js';

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'commonAnnotations', 'images', 'patches']);

export function kustomizationFile(dir: string): string | undefined {
  for (const f of KUSTOMIZATION_FILES) {
    const p = join(dir, f);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Renders the kustomization in `dir`; `root` only shortens file names in messages. */
export function renderKustomization(dir: string, root: string): Resource[] {
  return render(resolve(dir), resolve(root), []);
}

function render(dir: string, root: string, stack: string[]): Resource[] {
  const rel = (p: string): string => relative(root, p) || '.';
  if (stack.includes(dir)) throw new CheckError(`${rel(dir)}: kustomization cycle: ${[...stack, dir].map(rel).join(' -> ')}`);
  const file = kustomizationFile(dir);
  if (file === undefined) throw new CheckError(`${rel(dir)}: no kustomization.yaml`);
  const k = readYamlObject(file, rel(file));
  const where = rel(file);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED_FIELDS.has(key)) {
      throw new CheckError(`${where}: field "${key}" is not supported by deploy:check's kustomize subset (k8s/validate/kustomize.ts)`);
    }
  }
  if (k['kind'] !== undefined && k['kind'] !== 'Kustomization') throw new CheckError(`${where}: kind must be Kustomization`);

  // resources
  const out: Resource[] = [];
  const resources = k['resources'] ?? [];
  if (!Array.isArray(resources)) throw new CheckError(`${where}: resources must be a list`);
  for (const entry of resources) {
    if (typeof entry !== 'string') throw new CheckError(`${where}: resources entries must be paths`);
    if (/^[a-z]+:\/\//i.test(entry) || entry.startsWith('git@')) throw new CheckError(`${where}: remote resource ${entry} is not allowed (offline)`);
    const p = resolve(dir, entry);
    if (!existsSync(p)) throw new CheckError(`${where}: resource ${entry} does not exist`);
    if (statSync(p).isDirectory()) {
      out.push(...render(p, root, [...stack, dir]));
      continue;
    }
    for (const doc of readYamlStream(p, rel(p))) {
      if (!isObject(doc) || typeof doc['apiVersion'] !== 'string' || typeof doc['kind'] !== 'string' || nameOf(doc) === '?') {
        throw new CheckError(`${rel(p)}: every document must be a Kubernetes object with apiVersion, kind and metadata.name`);
      }
      if (doc['kind'] === 'List') throw new CheckError(`${rel(p)}: List objects are not supported; write the items as documents`);
      out.push({ obj: doc, source: rel(p) });
    }
  }
  const seen = new Map<string, string>();
  for (const r of out) {
    const [group] = groupVersion(r.obj);
    const id = `${group}|${idOf(r.obj)}`;
    const prev = seen.get(id);
    if (prev !== undefined) throw new CheckError(`${where}: ${idOf(r.obj)} is defined twice (${prev} and ${r.source})`);
    seen.set(id, r.source);
  }

  let resourcesOut = out;
  // patches
  const patches = k['patches'] ?? [];
  if (!Array.isArray(patches)) throw new CheckError(`${where}: patches must be a list`);
  for (const [i, p] of patches.entries()) {
    if (!isObject(p)) throw new CheckError(`${where}: patches[${i}] must be a mapping`);
    resourcesOut = applyPatchEntry(resourcesOut, p, dir, `${where}: patches[${i}]`, rel);
  }

  // namespace
  const ns = k['namespace'];
  if (ns !== undefined) {
    if (typeof ns !== 'string' || ns === '') throw new CheckError(`${where}: namespace must be a non-empty string`);
    for (const r of resourcesOut) setNamespace(r.obj, ns);
  }

  // labels
  const labels = k['labels'] ?? [];
  if (!Array.isArray(labels)) throw new CheckError(`${where}: labels must be a list`);
  for (const [i, l] of labels.entries()) {
    if (!isObject(l) || !isObject(l['pairs'])) throw new CheckError(`${where}: labels[${i}] needs pairs`);
    if (l['includeSelectors'] === true) throw new CheckError(`${where}: labels[${i}].includeSelectors: true is not supported (selectors are immutable)`);
    for (const key of Object.keys(l)) {
      if (!['pairs', 'includeSelectors', 'includeTemplates'].includes(key)) throw new CheckError(`${where}: labels[${i}].${key} is not supported`);
    }
    const pairs = stringMap(l['pairs'], `${where}: labels[${i}].pairs`);
    for (const r of resourcesOut) {
      addTo(metadata(r.obj), 'labels', pairs);
      if (l['includeTemplates'] === true) {
        for (const t of podTemplates(r.obj)) addTo(t.meta, 'labels', pairs);
        const jt = isObject(r.obj['spec']) ? r.obj['spec']['jobTemplate'] : undefined;
        if (kindOf(r.obj) === 'CronJob' && isObject(jt)) {
          if (!isObject(jt['metadata'])) jt['metadata'] = {};
          addTo(jt['metadata'] as JsonObject, 'labels', pairs);
        }
      }
    }
  }

  // commonAnnotations
  if (k['commonAnnotations'] !== undefined) {
    const ann = stringMap(k['commonAnnotations'], `${where}: commonAnnotations`);
    for (const r of resourcesOut) {
      addTo(metadata(r.obj), 'annotations', ann);
      for (const t of podTemplates(r.obj)) addTo(t.meta, 'annotations', ann);
    }
  }

  // images
  const images = k['images'] ?? [];
  if (!Array.isArray(images)) throw new CheckError(`${where}: images must be a list`);
  for (const [i, img] of images.entries()) {
    if (!isObject(img) || typeof img['name'] !== 'string') throw new CheckError(`${where}: images[${i}] needs a name`);
    for (const key of Object.keys(img)) {
      if (!['name', 'newName', 'newTag', 'digest'].includes(key)) throw new CheckError(`${where}: images[${i}].${key} is not supported`);
    }
    for (const r of resourcesOut) {
      for (const t of podTemplates(r.obj)) {
        for (const { c } of containersOf(t.spec)) {
          const image = str(c['image']);
          if (image === undefined) continue;
          const ref = parseImage(image);
          if (ref.name !== img['name']) continue;
          if (typeof img['newName'] === 'string') ref.name = img['newName'];
          if (img['newTag'] !== undefined) {
            ref.tag = String(img['newTag']);
            delete ref.digest;
          }
          if (typeof img['digest'] === 'string') {
            ref.digest = img['digest'];
            delete ref.tag;
          }
          c['image'] = formatImage(ref);
        }
      }
    }
  }
  return resourcesOut;
}

function stringMap(v: Json | undefined, where: string): Record<string, string> {
  if (!isObject(v)) throw new CheckError(`${where} must be a mapping`);
  const out: Record<string, string> = {};
  for (const [key, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw new CheckError(`${where}.${key} must be a string (quote it)`);
    out[key] = val;
  }
  return out;
}

function addTo(meta: JsonObject, field: 'labels' | 'annotations', pairs: Record<string, string>): void {
  const cur = isObject(meta[field]) ? (meta[field] as JsonObject) : {};
  meta[field] = { ...cur, ...pairs };
}

/** kustomize's NamespaceTransformer with setRoleBindingSubjects: defaultOnly. */
function setNamespace(obj: JsonObject, ns: string): void {
  const kind = kindOf(obj);
  if (isNamespaced(kind)) metadata(obj)['namespace'] = ns;
  if (kind === 'RoleBinding' || kind === 'ClusterRoleBinding') {
    const subjects = obj['subjects'];
    if (Array.isArray(subjects)) {
      for (const s of subjects) {
        if (isObject(s) && s['kind'] === 'ServiceAccount' && (s['namespace'] === undefined || s['namespace'] === 'default')) {
          s['namespace'] = ns;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// patches

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

function matches(obj: JsonObject, t: Target): boolean {
  const [group, version] = groupVersion(obj);
  if (t.group !== undefined && t.group !== group) return false;
  if (t.version !== undefined && t.version !== version) return false;
  if (t.kind !== undefined && t.kind !== kindOf(obj)) return false;
  if (t.name !== undefined && t.name !== nameOf(obj)) return false;
  if (t.namespace !== undefined && t.namespace !== (namespaceOf(obj) ?? '')) return false;
  return true;
}

function parseTarget(v: Json | undefined, where: string): Target | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw new CheckError(`${where}: target must be a mapping`);
  const t: Target = {};
  for (const [key, val] of Object.entries(v)) {
    if (!['group', 'version', 'kind', 'name', 'namespace'].includes(key)) {
      throw new CheckError(`${where}: target.${key} is not supported`);
    }
    if (typeof val !== 'string') throw new CheckError(`${where}: target.${key} must be a string`);
    (t as Record<string, string>)[key] = val;
  }
  return t;
}

function applyPatchEntry(
  resources: Resource[],
  entry: JsonObject,
  dir: string,
  where: string,
  rel: (p: string) => string,
): Resource[] {
  for (const key of Object.keys(entry)) {
    if (!['path', 'patch', 'target'].includes(key)) throw new CheckError(`${where}: ${key} is not supported`);
  }
  const target = parseTarget(entry['target'], where);
  let docs: Json[];
  let label = where;
  if (typeof entry['path'] === 'string') {
    const p = resolve(dir, entry['path']);
    label = `${where} (${rel(p)})`;
    docs = readYamlStream(p, rel(p));
  } else if (typeof entry['patch'] === 'string') {
    docs = parseYamlStream(entry['patch'], where);
  } else {
    throw new CheckError(`${where}: needs path or patch`);
  }

  if (docs.length === 1 && Array.isArray(docs[0])) {
    if (target === undefined) throw new CheckError(`${label}: a JSON 6902 patch needs a target`);
    const ops = docs[0];
    const hit = resources.filter((r) => matches(r.obj, target));
    if (hit.length === 0) throw new CheckError(`${label}: target ${JSON.stringify(target)} matches no resource`);
    for (const r of hit) r.obj = applyJson6902(r.obj, ops, label) as JsonObject;
    return resources;
  }

  let out = resources;
  for (const doc of docs) {
    if (!isObject(doc)) throw new CheckError(`${label}: a strategic-merge patch must be a mapping`);
    const t: Target = target ?? {
      kind: str(doc['kind']),
      name: nameOf(doc) === '?' ? undefined : nameOf(doc),
      ...(namespaceOf(doc) !== undefined ? { namespace: namespaceOf(doc) } : {}),
    };
    if (t.kind === undefined || t.name === undefined) throw new CheckError(`${label}: a strategic-merge patch needs kind and metadata.name (or a target)`);
    if (target === undefined && typeof doc['apiVersion'] === 'string') {
      const [g, v] = groupVersion(doc);
      t.group = g;
      t.version = v;
    }
    const hit = out.filter((r) => matches(r.obj, t));
    if (hit.length === 0) throw new CheckError(`${label}: no resource matches ${t.kind}/${t.namespace ? t.namespace + '/' : ''}${t.name}`);
    if (target === undefined && hit.length > 1) throw new CheckError(`${label}: ${t.kind}/${t.name} matches ${hit.length} resources`);
    if (doc['$patch'] === 'delete') {
      out = out.filter((r) => !hit.includes(r));
      continue;
    }
    for (const r of hit) {
      const patch = clone(doc);
      // identity fields of the patch never rename the target
      if (isObject(patch['metadata'])) {
        delete patch['metadata']['name'];
        delete patch['metadata']['namespace'];
      }
      delete patch['apiVersion'];
      delete patch['kind'];
      r.obj = strategicMerge(r.obj, patch, '') as JsonObject;
    }
  }
  return out;
}

/** Patch merge keys of the Kubernetes lists that k8s/ patches (by field name). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  hostAliases: 'ip',
};

function mergeKeyFor(field: string, items: Json[]): string | undefined {
  if (field === 'ports') {
    return items.some((i) => isObject(i) && i['containerPort'] !== undefined) ? 'containerPort' : 'port';
  }
  return MERGE_KEYS[field];
}

/** Kubernetes strategic merge: maps merge, null deletes, lists with a merge key merge by it. */
export function strategicMerge(base: Json | undefined, patch: Json, field: string): Json {
  if (isObject(patch)) {
    if (patch['$patch'] === 'replace') {
      const p = clone(patch);
      delete p['$patch'];
      return p;
    }
    if (!isObject(base)) return stripDirectives(clone(patch));
    const out: JsonObject = { ...base };
    for (const [key, val] of Object.entries(patch)) {
      if (key.startsWith('$')) continue;
      if (val === null) {
        delete out[key];
      } else {
        out[key] = strategicMerge(out[key], val, key);
      }
    }
    return out;
  }
  if (Array.isArray(patch) && Array.isArray(base)) {
    const key = mergeKeyFor(field, [...base, ...patch]);
    if (key === undefined) return patch.map((p) => stripDirectives(clone(p)));
    const out = [...base];
    for (const item of patch) {
      if (!isObject(item) || item[key] === undefined) throw new CheckError(`strategic merge: items of ${field} need ${key}`);
      const at = out.findIndex((b) => isObject(b) && b[key] === item[key]);
      if (item['$patch'] === 'delete') {
        if (at >= 0) out.splice(at, 1);
        continue;
      }
      if (at >= 0) out[at] = strategicMerge(out[at], item, '');
      else out.push(stripDirectives(clone(item)));
    }
    return out;
  }
  return clone(patch);
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const [k, val] of Object.entries(v)) if (!k.startsWith('$')) out[k] = stripDirectives(val);
    return out;
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// JSON 6902

function pointer(path: string, where: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new CheckError(`${where}: JSON pointer ${path} must start with /`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, tokens: string[], where: string, path: string): Json {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)] as Json;
    else if (isObject(cur)) cur = cur[t] as Json;
    else cur = undefined as unknown as Json;
    if (cur === undefined || cur === null) throw new CheckError(`${where}: path ${path} does not exist`);
  }
  return cur;
}

function getAt(doc: Json, path: string, where: string): Json {
  const tokens = pointer(path, where);
  if (tokens.length === 0) return doc;
  const parent = parentOf(doc, tokens, where, path);
  const last = tokens[tokens.length - 1]!;
  const v = Array.isArray(parent) ? parent[Number(last)] : isObject(parent) ? parent[last] : undefined;
  if (v === undefined) throw new CheckError(`${where}: path ${path} does not exist`);
  return v;
}

function removeAt(doc: Json, path: string, where: string): Json {
  const tokens = pointer(path, where);
  const parent = parentOf(doc, tokens, where, path);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) throw new CheckError(`${where}: path ${path} does not exist`);
    return parent.splice(i, 1)[0] as Json;
  }
  if (!isObject(parent) || !(last in parent)) throw new CheckError(`${where}: path ${path} does not exist`);
  const v = parent[last] as Json;
  delete parent[last];
  return v;
}

function addAt(doc: Json, path: string, value: Json, where: string, replace: boolean): Json {
  const tokens = pointer(path, where);
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens, where, path);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    if (last === '-' && !replace) {
      parent.push(value);
      return doc;
    }
    const i = Number(last);
    const max = replace ? parent.length - 1 : parent.length;
    if (!Number.isInteger(i) || i < 0 || i > max) throw new CheckError(`${where}: index ${last} out of range in ${path}`);
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
    return doc;
  }
  if (!isObject(parent)) throw new CheckError(`${where}: parent of ${path} is not a container`);
  if (replace && !(last in parent)) throw new CheckError(`${where}: path ${path} does not exist`);
  parent[last] = value;
  return doc;
}

export function applyJson6902(doc: Json, ops: Json[], where: string): Json {
  let out = clone(doc);
  for (const [i, op] of ops.entries()) {
    const w = `${where}: op ${i}`;
    if (!isObject(op) || typeof op['op'] !== 'string' || typeof op['path'] !== 'string') throw new CheckError(`${w}: needs op and path`);
    const path = op['path'];
    switch (op['op']) {
      case 'add':
        if (op['value'] === undefined) throw new CheckError(`${w}: add needs a value`);
        out = addAt(out, path, clone(op['value']), w, false);
        break;
      case 'replace':
        if (op['value'] === undefined) throw new CheckError(`${w}: replace needs a value`);
        out = addAt(out, path, clone(op['value']), w, true);
        break;
      case 'remove':
        removeAt(out, path, w);
        break;
      case 'test':
        if (JSON.stringify(getAt(out, path, w)) !== JSON.stringify(op['value'])) throw new CheckError(`${w}: test failed at ${path}`);
        break;
      case 'copy':
      case 'move': {
        if (typeof op['from'] !== 'string') throw new CheckError(`${w}: ${op['op']} needs from`);
        const v = op['op'] === 'move' ? removeAt(out, op['from'], w) : clone(getAt(out, op['from'], w));
        out = addAt(out, path, v, w, false);
        break;
      }
      default:
        throw new CheckError(`${w}: unknown op ${String(op['op'])}`);
    }
  }
  return out;
}
