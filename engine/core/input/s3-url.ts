/**
 * S3 URLs as input paths (`s3://bucket/prefix`, `s3a://…`) and the settings to reach them, with
 * no AWS SDK: a local run checks its paths without loading it (engine/core/input/s3.ts reads).
 */
import { UsageError } from '../errors.js';

/** Where the objects are, without any credential: passed to worker threads with each shard. */
export interface S3Settings {
  readonly region: string;
  /** An S3-compatible store's endpoint (path-style access); none for AWS itself. */
  readonly endpoint?: string;
}

/** One object to read. */
export interface S3Object extends S3Settings {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** The ETag at listing: every read is pinned to it. */
  readonly etag?: string;
  /**
   * Other keys of the listing lie under this key as a folder (`a.log` beside `a.log/b.log`):
   * Hadoop's S3A then reads the key as that folder, not as the object (the spark engine refuses it).
   */
  readonly keysBelow?: true;
}

export interface S3Url {
  readonly bucket: string;
  /** The key or key prefix after the bucket (may be empty). */
  readonly prefix: string;
}

export const S3_URL = /^s3a?:\/\//i;

/** Whether an input path is an S3 URL (`s3://` or `s3a://`). */
export function isS3Url(path: string): boolean {
  return S3_URL.test(path);
}

export function parseS3Url(path: string): S3Url {
  const rest = path.replace(S3_URL, '');
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError(`${path}: not an S3 URL with a valid bucket name (s3://bucket/prefix)`);
  }
  return { bucket, prefix };
}

/** The S3 settings of a run from the environment (and env file) and `--s3-endpoint`. */
export function s3SettingsFrom(env: Readonly<Record<string, string | undefined>>, endpointFlag?: string): S3Settings {
  const region = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || 'us-east-1';
  const endpoint = endpointFlag ?? (env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'] || undefined);
  if (endpoint !== undefined) {
    // Messages name the endpoint without what may be credentials in it (`//user:password@`, up to
    // the last `@`, since a secret may hold `/`, `?` or `#` and the URL may not parse).
    const named = JSON.stringify(endpoint.includes('@') ? endpoint.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?[^]*@/, '$1[REDACTED]@') : endpoint);
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new UsageError(`the S3 endpoint ${named} is not a URL such as http://127.0.0.1:9000`);
    }
    if (url.username !== '' || url.password !== '') throw new UsageError('the S3 endpoint must not carry credentials: use the AWS credential chain');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`the S3 endpoint ${named} is not an http(s) URL`);
  }
  return endpoint === undefined ? { region } : { region, endpoint };
}


/**
 * AWS settings from the env file for the SDK's default credential chain, which reads the process
 * environment (in every worker thread too): each AWS_ variable the environment lacks (or has
 * empty, decision 20) is set from the merged settings. Values are never logged.
 */
export function useAwsEnv(env: Readonly<Record<string, string | undefined>>, target: Record<string, string | undefined> = process.env): void {
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('AWS_') && v !== undefined && v !== '' && (target[k] === undefined || target[k] === '')) target[k] = v;
  }
}
