/**
 * Validation of Kubernetes objects against the Kubernetes OpenAPI schemas, through the
 * `kubernetes-models` package (one model class per apiVersion/kind):
 *
 * 1. `model.validate()`: the package's compiled JSON-schema validators (types, enums, required
 *    fields, formats such as quantities).
 * 2. Unknown fields, as `kubectl apply --validate=strict` rejects them: the schema validators
 *    accept any extra property, so every field of the object is looked up in the package's
 *    TypeScript declarations of the same schemas (through the TypeScript compiler API).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { isObject, type Json, type JsonObject } from './yaml-io.js';

const require = createRequire(import.meta.url);
const MODELS_DIR = dirname(require.resolve('kubernetes-models'));

interface ModelClass {
  new (data: JsonObject): { validate(): void };
}

function modelPath(apiVersion: string, kind: string): string | undefined {
  if (!/^[a-z0-9.-]*\/?v[0-9a-z]+$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
  const rel = `${apiVersion}/${kind}`;
  return existsSync(join(MODELS_DIR, `${rel}.d.ts`)) ? rel : undefined;
}

/** Schema errors of one object ([] when valid). */
export async function schemaErrors(obj: JsonObject): Promise<string[]> {
  const apiVersion = typeof obj['apiVersion'] === 'string' ? obj['apiVersion'] : '';
  const kind = typeof obj['kind'] === 'string' ? obj['kind'] : '';
  const rel = modelPath(apiVersion, kind);
  if (rel === undefined) return [`unknown apiVersion/kind ${apiVersion} ${kind} (not in the Kubernetes API schemas)`];
  const mod = (await import(`kubernetes-models/${rel}`)) as Record<string, ModelClass>;
  const Model = mod[kind];
  if (Model === undefined) return [`kubernetes-models has no model ${rel}`];
  try {
    new Model(structuredClone(obj)).validate();
    return [];
  } catch (err) {
    return String((err as Error).message)
      .split(/, (?=data)/)
      .map((m) => m.replace(/^data\/?/, '/').trim());
  }
}

/** Finds fields that the Kubernetes schema of the object's kind does not define. */
export class UnknownFieldChecker {
  private readonly program: ts.Program;
  private readonly checker: ts.TypeChecker;
  private readonly types = new Map<string, ts.Type>();

  constructor(kinds: Iterable<[apiVersion: string, kind: string]>) {
    const virtualPath = join(MODELS_DIR, '__deploy_check_types__.ts');
    const lines: string[] = [];
    const keys: string[] = [];
    let i = 0;
    for (const [apiVersion, kind] of kinds) {
      const rel = modelPath(apiVersion, kind);
      if (rel === undefined) continue;
      const key = `${apiVersion} ${kind}`;
      if (keys.includes(key)) continue;
      keys.push(key);
      lines.push(`import type { I${kind} as T${i} } from "./${rel}";`, `export type X${i} = T${i};`);
      i++;
    }
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
    };
    const host = ts.createCompilerHost(options);
    const text = lines.join('\n') + '\n';
    const source = ts.createSourceFile(virtualPath, text, ts.ScriptTarget.ES2022, true);
    const { getSourceFile, fileExists, readFile } = host;
    host.getSourceFile = (f, lang, onError, create) => (f === virtualPath ? source : getSourceFile.call(host, f, lang, onError, create));
    host.fileExists = (f) => f === virtualPath || fileExists.call(host, f);
    host.readFile = (f) => (f === virtualPath ? text : readFile.call(host, f));
    this.program = ts.createProgram([virtualPath], options, host);
    this.checker = this.program.getTypeChecker();
    const sf = this.program.getSourceFile(virtualPath);
    if (sf === undefined) throw new Error('deploy:check: cannot load the kubernetes-models declarations');
    let j = 0;
    for (const st of sf.statements) {
      if (ts.isTypeAliasDeclaration(st)) {
        this.types.set(keys[j]!, this.checker.getTypeFromTypeNode(st.type));
        j++;
      }
    }
  }

  /** "spec.template.spec.containers[0].imagePullPolicyy: unknown field" lines. */
  check(obj: JsonObject): string[] {
    const key = `${String(obj['apiVersion'])} ${String(obj['kind'])}`;
    const type = this.types.get(key);
    if (type === undefined) return [];
    const errors: string[] = [];
    this.walk(obj, type, '', errors);
    return errors;
  }

  private walk(value: Json, type: ts.Type, path: string, errors: string[]): void {
    if (value === null || typeof value !== 'object') return;
    const c = this.checker;
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
    let t = c.getNonNullableType(type);
    if (t.isUnion()) {
      const members = t.types.filter((m) => (m.flags & ts.TypeFlags.Object) !== 0);
      const wanted = members.filter((m) => (c.getIndexInfoOfType(m, ts.IndexKind.Number) !== undefined) === Array.isArray(value));
      if (wanted.length === 0) return;
      t = wanted[0]!;
    }
    if (Array.isArray(value)) {
      const el = c.getIndexTypeOfType(t, ts.IndexKind.Number);
      if (el === undefined) return;
      value.forEach((v, i) => this.walk(v, el, `${path}[${i}]`, errors));
      return;
    }
    const index = c.getIndexTypeOfType(t, ts.IndexKind.String);
    if (index !== undefined) {
      for (const [k, v] of Object.entries(value)) this.walk(v, index, `${path}.${k}`, errors);
      return;
    }
    const props = c.getPropertiesOfType(t);
    if (props.length === 0) return;
    for (const [k, v] of Object.entries(value)) {
      const p = t.getProperty(k);
      const at = path === '' ? k : `${path}.${k}`;
      if (p === undefined) {
        errors.push(`${at}: unknown field "${k}"`);
        continue;
      }
      this.walk(v, c.getTypeOfSymbol(p), at, errors);
    }
  }
}

const checkers = new Map<string, UnknownFieldChecker>();

/** One checker per set of kinds (building the TypeScript program takes about a second). */
export function unknownFieldChecker(kinds: Iterable<[string, string]>): UnknownFieldChecker {
  const list = [...kinds];
  const key = [...new Set(list.map(([a, k]) => `${a} ${k}`))].sort().join('|');
  let c = checkers.get(key);
  if (c === undefined) {
    c = new UnknownFieldChecker(list);
    checkers.set(key, c);
  }
  return c;
}

export function apiVersionKind(obj: Json): [string, string] | undefined {
  if (!isObject(obj) || typeof obj['apiVersion'] !== 'string' || typeof obj['kind'] !== 'string') return undefined;
  return [obj['apiVersion'], obj['kind']];
}
