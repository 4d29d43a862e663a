/** Spark Connect connection strings: `sc://host[:port][/;key=value;…]`. */
import { SparkError } from './errors.js';

export const DEFAULT_PORT = 15002;
export const DEFAULT_REMOTE = `sc://127.0.0.1:${DEFAULT_PORT}`;

export interface RemoteAddress {
  readonly host: string;
  readonly port: number;
  /** `;key=value` parameters of the connection string (user_id, token, use_ssl, …). */
  readonly params: Readonly<Record<string, string>>;
}

/** Parses a Spark Connect connection string `sc://host[:port][/;key=value;…]`. */
export function parseRemote(remote: string): RemoteAddress {
  const m = /^sc:\/\/(\[[^\]]+\]|[^:/;]+)(?::(\d+))?\/?(;.*)?$/.exec(remote.trim());
  if (m === null) throw new SparkError(`invalid Spark Connect address ${JSON.stringify(redactRemote(remote))}: expected sc://HOST[:PORT][/;key=value…]`);
  const port = m[2] === undefined ? DEFAULT_PORT : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SparkError(`invalid port in Spark Connect address ${JSON.stringify(redactRemote(remote))}`);
  const params: Record<string, string> = {};
  for (const part of (m[3] ?? '').split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new SparkError(`invalid parameter ${JSON.stringify(part)} in Spark Connect address ${JSON.stringify(redactRemote(remote))}`);
    params[decodeURIComponent(part.slice(0, eq))] = decodeURIComponent(part.slice(eq + 1));
  }
  return { host: m[1]!, port, params };
}

/** The remote to use: an explicit one, else SPARK_REMOTE, else sc://127.0.0.1:15002. */
export function resolveRemote(explicit: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const fromEnv = env['SPARK_REMOTE'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_REMOTE;
}

/**
 * The connection string as it may appear in messages and logs: the `token` parameter's value
 * hidden, however its name is written (any case, percent-encoded: parseRemote decodes names).
 */
export function redactRemote(remote: string): string {
  return remote.replace(/;([^;=]*)=[^;]*/g, (param: string, name: string) => (decodedName(name).toLowerCase() === 'token' ? `;${name}=[REDACTED]` : param));
}

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}
