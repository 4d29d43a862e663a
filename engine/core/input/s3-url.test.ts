import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { s3SettingsFrom } from './s3-url.js';

function usageError(endpoint: string): UsageError {
  try {
    s3SettingsFrom({}, endpoint);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`${endpoint} was accepted`);
}

describe('the S3 endpoint setting', () => {
  it('takes an http(s) URL, from --s3-endpoint first, then AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL', () => {
    expect(s3SettingsFrom({ AWS_REGION: 'eu-west-1' }, 'http://127.0.0.1:9000')).toEqual({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000' });
    expect(s3SettingsFrom({ AWS_ENDPOINT_URL_S3: 'https://a', AWS_ENDPOINT_URL: 'https://b' })).toEqual({ region: 'us-east-1', endpoint: 'https://a' });
    expect(s3SettingsFrom({ AWS_ENDPOINT_URL: 'https://b' })).toEqual({ region: 'us-east-1', endpoint: 'https://b' });
  });

  it('refuses a bad endpoint with a usage error that never shows credentials written into it', () => {
    for (const [endpoint, message] of [
      ['ftp://AKIAEXAMPLE:s3cr3tPass@127.0.0.1:9000', /must not carry credentials/],
      ['http://AKIAEXAMPLE:s3cr3tPass@127.0.0.1:9000', /must not carry credentials/],
      ['ftp://127.0.0.1:9000', /"ftp:\/\/127\.0\.0\.1:9000" is not an http\(s\) URL/],
      ['//user:s3cr3tPass@ host', /"\[REDACTED\]@ host" is not a URL/],
      // A secret with `/`, `#` or `@` in it, in a URL that does not parse: everything up to the last `@` goes.
      ['http://AKIAEXAMPLE:s3/cr3t#Pass@127.0.0.1:9', /"http:\/\/\[REDACTED\]@127\.0\.0\.1:9" is not a URL/],
      ['ftp://AKIAEXAMPLE:s3@cr3t%2FPass@127.0.0.1:9', /must not carry credentials/],
    ] as const) {
      const err = usageError(endpoint);
      expect(err.message).toMatch(message);
      expect(err.message).not.toMatch(/s3cr3tPass|cr3t|Pass/);
      expect(err.message).not.toContain('AKIAEXAMPLE');
    }
  });
});
