/** The S3A settings a spark run gives its session (README decision 29). */
import { describe, expect, it } from 'vitest';
import type { InputFile } from '../../engine/core/input/discover.js';
import { s3aSessionConf } from './run.js';

const object = (endpoint?: string): InputFile[] => [
  { path: 's3://b/k.log', format: 'space', gzip: false, size: 1, s3: { region: 'eu-west-1', bucket: 'b', key: 'k.log', size: 1, ...(endpoint === undefined ? {} : { endpoint }) } },
];

describe('s3aSessionConf', () => {
  it('no S3 input: nothing', () => {
    expect(s3aSessionConf([{ path: 'a.log', format: 'space', gzip: false, size: 1 }], {})).toEqual({});
  });

  it("AWS with the cluster's own identity (IRSA): the region only, Hadoop's FileSystem cache kept (S3A never closes an uncached instance)", () => {
    expect(s3aSessionConf(object(), {})).toEqual({ 'fs.s3a.endpoint.region': 'eu-west-1' });
  });

  it('an endpoint or keys of its own: instances of its own, never shared with another session', () => {
    const store = s3aSessionConf(object('http://127.0.0.1:9000'), {});
    expect(store['fs.s3a.impl.disable.cache']).toBe('true');
    expect(store['fs.s3a.endpoint']).toBe('http://127.0.0.1:9000');
    expect(store['fs.s3a.connection.ssl.enabled']).toBe('false');
    const keys = s3aSessionConf(object(), { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' });
    expect(keys).toEqual({
      'fs.s3a.endpoint.region': 'eu-west-1',
      'fs.s3a.access.key': 'id',
      'fs.s3a.secret.key': 'secret',
      'fs.s3a.aws.credentials.provider': 'org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider',
      'fs.s3a.impl.disable.cache': 'true',
    });
  });
});
