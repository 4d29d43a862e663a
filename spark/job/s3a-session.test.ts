/** The S3A settings a spark run gives its session, and the scheme its objects are read through (README decision 29). */
import { describe, expect, it } from 'vitest';
import type { InputFile } from '../../engine/core/input/discover.js';
import { s3aSession, withS3aScheme } from './s3a-session.js';
import { clusterPathOf } from './run.js';

const object = (endpoint?: string): InputFile[] => [
  { path: 's3://b/k.log', format: 'space', gzip: false, size: 1, s3: { region: 'eu-west-1', bucket: 'b', key: 'k.log', size: 1, ...(endpoint === undefined ? {} : { endpoint }) } },
];

describe('s3aSession', () => {
  it('no S3 input: nothing', () => {
    expect(s3aSession([{ path: 'a.log', format: 'space', gzip: false, size: 1 }], {})).toEqual({ conf: {}, scheme: 's3a' });
  });

  it("AWS with the cluster's own identity (IRSA): the region only, s3a:// and Hadoop's cached instances", () => {
    expect(s3aSession(object(), {})).toEqual({ conf: { 'fs.s3a.endpoint.region': 'eu-west-1' }, scheme: 's3a' });
  });

  it('an endpoint or keys of its own: a scheme of those settings, S3A under another name, so no instance serves other settings', () => {
    const store = s3aSession(object('http://127.0.0.1:9000'), {});
    expect(store.scheme).toMatch(/^mrs3a-[0-9a-f]{16}$/);
    expect(store.conf).toEqual({
      'fs.s3a.endpoint.region': 'eu-west-1',
      'fs.s3a.endpoint': 'http://127.0.0.1:9000',
      'fs.s3a.path.style.access': 'true',
      'fs.s3a.connection.ssl.enabled': 'false',
      [`fs.${store.scheme}.impl`]: 'org.apache.hadoop.fs.s3a.S3AFileSystem',
    });
    const keys = s3aSession(object(), { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' });
    expect(keys.conf).toEqual({
      'fs.s3a.endpoint.region': 'eu-west-1',
      'fs.s3a.access.key': 'id',
      'fs.s3a.secret.key': 'secret',
      'fs.s3a.aws.credentials.provider': 'org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider',
      [`fs.${keys.scheme}.impl`]: 'org.apache.hadoop.fs.s3a.S3AFileSystem',
    });
    // Its objects' paths take the scheme.
    expect(clusterPathOf(object()[0]!, keys.scheme)).toBe(`${keys.scheme}://b/k.log`);
    // The scheme says nothing of the secret it is derived from.
    expect(keys.scheme).not.toContain('secret');
  });

  it('the same settings, the same scheme (their instances shared); any setting changed, another', () => {
    const env = { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' };
    const a = s3aSession(object('http://127.0.0.1:9000'), env).scheme;
    expect(s3aSession(object('http://127.0.0.1:9000'), { ...env }).scheme).toBe(a);
    const others = [
      s3aSession(object('http://127.0.0.1:9001'), env),
      s3aSession(object('http://127.0.0.1:9000'), { ...env, AWS_SECRET_ACCESS_KEY: 'secreT' }),
      s3aSession(object('http://127.0.0.1:9000'), { ...env, AWS_ACCESS_KEY_ID: 'id2' }),
      s3aSession(object('http://127.0.0.1:9000'), { ...env, AWS_SESSION_TOKEN: 'token' }),
      s3aSession(object('http://127.0.0.1:9000'), {}),
      s3aSession(object(), env),
    ].map((s) => s.scheme);
    expect(new Set([a, ...others]).size).toBe(others.length + 1);
  });

  it("the cluster's messages name its paths as S3A's", () => {
    expect(withS3aScheme('cannot open mrs3a-0123456789abcdef://b/k.log: x; mrs3a-01://b stays')).toBe('cannot open s3a://b/k.log: x; mrs3a-01://b stays');
  });
});
