/** Reading YAML documents with errors that name the file. */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export class CheckError extends Error {}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every non-empty document of a YAML stream; a syntax error or a duplicate key throws. */
export function parseYamlStream(text: string, file: string, opts: { merge?: boolean } = {}): Json[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true, merge: opts.merge === true });
  const out: Json[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      throw new CheckError(`${file}: YAML error: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    const value = doc.toJS({ maxAliasCount: 100 }) as Json | undefined;
    if (value === null || value === undefined) continue;
    out.push(value);
  }
  return out;
}

export function readYamlStream(file: string, label: string = file): Json[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CheckError(`${label}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseYamlStream(text, label);
}

export function readYamlObject(file: string, label: string = file): JsonObject {
  const docs = readYamlStream(file, label);
  if (docs.length !== 1 || !isObject(docs[0])) {
    throw new CheckError(`${label}: expected exactly one YAML mapping, found ${docs.length} document(s)`);
  }
  return docs[0];
}

export function clone<T extends Json>(v: T): T {
  return structuredClone(v);
}
