/**
 * How a spark run's session reads S3 objects through Hadoop's S3A connector: its settings, and
 * the URI scheme of the paths it gives the cluster (README decision 29).
 */
import { createHash } from 'node:crypto';
import type { InputFile } from '../../engine/core/input/discover.js';

/** How a run's session reads its S3 objects: the S3A settings it sets, and the URI scheme its paths take. */
export interface S3aSession {
  readonly conf: Record<string, string>;
  /** `s3a`, or for a session with an endpoint or keys of its own, a scheme of its settings' own (S3A under another name). */
  readonly scheme: string;
}

/** The scheme a session with its own S3A settings reads through: this, then 16 hex digits of their digest. */
const OWN_SCHEME = 'mrs3a-';
const DIGEST_HEX = 16;
const OWN_SCHEME_URI = new RegExp(`\\b${OWN_SCHEME}[0-9a-f]{${DIGEST_HEX}}://`, 'g');

/** `text` (a message from the cluster) with a session's own scheme named as S3A's: the scheme is mr's internal name. */
export function withS3aScheme(text: string): string {
  return text.replace(OWN_SCHEME_URI, 's3a://');
}

/**
 * Session settings for S3A when inputs are S3 objects: the endpoint with path-style access for
 * an S3-compatible store, the region, and the run's static credentials when it has some (from
 * the environment or the env file; else the cluster's own chain, e.g. IRSA on EKS). They go to
 * the session only, by a Config call (configureSession) that neither mr nor Spark logs.
 *
 * Hadoop caches a FileSystem per scheme, bucket and user, whatever the settings it was made
 * with: a session with an endpoint or keys of its own must neither take another's instance nor
 * leave its own to the next. Such a session reads through a scheme of its own, `mrs3a-` and
 * 16 hex digits of a SHA-256 of its S3A settings (README decision 29), which it maps to S3A:
 * sessions with the same settings share the cached instances, others never do. Turning the
 * cache off instead (`fs.s3a.impl.disable.cache`) made an instance, with its thread pools and
 * HTTP client, per object opened: 200 small objects took twice as long. Runs that read AWS
 * with the cluster's own identity keep `s3a`, whose instances any such session may share.
 */
export function s3aSession(files: readonly InputFile[], env: Readonly<Record<string, string | undefined>> = process.env): S3aSession {
  const s3 = files.find((f) => f.s3 !== undefined)?.s3;
  if (s3 === undefined) return { conf: {}, scheme: 's3a' };
  const conf: Record<string, string> = { 'fs.s3a.endpoint.region': s3.region };
  if (s3.endpoint !== undefined) {
    conf['fs.s3a.endpoint'] = s3.endpoint;
    conf['fs.s3a.path.style.access'] = 'true';
    conf['fs.s3a.connection.ssl.enabled'] = String(s3.endpoint.startsWith('https:'));
  }
  const id = env['AWS_ACCESS_KEY_ID'];
  const secret = env['AWS_SECRET_ACCESS_KEY'];
  if (id && secret) {
    conf['fs.s3a.access.key'] = id;
    conf['fs.s3a.secret.key'] = secret;
    const token = env['AWS_SESSION_TOKEN'];
    if (token) {
      conf['fs.s3a.session.token'] = token;
      conf['fs.s3a.aws.credentials.provider'] = 'org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider';
    } else conf['fs.s3a.aws.credentials.provider'] = 'org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider';
  }
  if (s3.endpoint === undefined && conf['fs.s3a.access.key'] === undefined) return { conf, scheme: 's3a' };
  const settings = JSON.stringify(Object.entries(conf).sort(([a], [b]) => (a < b ? -1 : 1)));
  const scheme = `${OWN_SCHEME}${createHash('sha256').update(`mr s3a scheme v1\n${settings}`).digest('hex').slice(0, DIGEST_HEX)}`;
  conf[`fs.${scheme}.impl`] = 'org.apache.hadoop.fs.s3a.S3AFileSystem';
  return { conf, scheme };
}
