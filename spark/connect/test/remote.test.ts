/** Connection strings: sc://host[:port][/;key=value;…], and which one a client uses. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_REMOTE, parseRemote, redactRemote, resolveRemote } from '../src/remote.js';
import { SparkError } from '../src/errors.js';

describe('parseRemote', () => {
  it('reads host, port and parameters', () => {
    expect(parseRemote('sc://spark.example:443/;use_ssl=true;token=a%3Bb;user_id=ana')).toEqual({
      host: 'spark.example',
      port: 443,
      params: { use_ssl: 'true', token: 'a;b', user_id: 'ana' },
    });
    expect(parseRemote('sc://spark-connect')).toEqual({ host: 'spark-connect', port: 15002, params: {} });
    expect(parseRemote('sc://[::1]:15003')).toEqual({ host: '[::1]', port: 15003, params: {} });
  });

  it('refuses what is not a Spark Connect address', () => {
    for (const bad of ['http://x:1', 'sc://', 'sc://h:0', 'sc://h:65536', 'sc://h/;novalue']) {
      expect(() => parseRemote(bad), bad).toThrow(SparkError);
    }
  });
});

describe('resolveRemote', () => {
  it('takes the explicit remote, else SPARK_REMOTE, else the local default', () => {
    expect(resolveRemote('sc://a:1', { SPARK_REMOTE: 'sc://b:2' })).toBe('sc://a:1');
    expect(resolveRemote(undefined, { SPARK_REMOTE: 'sc://b:2' })).toBe('sc://b:2');
    expect(resolveRemote('', { SPARK_REMOTE: '' })).toBe(DEFAULT_REMOTE);
    expect(DEFAULT_REMOTE).toBe('sc://127.0.0.1:15002');
  });
});

describe('redactRemote', () => {
  it('hides the token, keeps the rest', () => {
    expect(redactRemote('sc://h:443/;user_id=ana;token=s3cr3t;use_ssl=true')).toBe('sc://h:443/;user_id=ana;token=[REDACTED];use_ssl=true');
    expect(redactRemote('sc://h/;TOKEN=s3cr3t')).toBe('sc://h/;TOKEN=[REDACTED]');
    // A percent-encoded name is the same parameter to parseRemote, so it is hidden too.
    const encoded = 'sc://h:443/;use_ssl=true;%74oken=s3cr3t;user_id=ana';
    expect(parseRemote(encoded).params['token']).toBe('s3cr3t');
    expect(redactRemote(encoded)).toBe('sc://h:443/;use_ssl=true;%74oken=[REDACTED];user_id=ana');
    expect(redactRemote('sc://h/;%E0=x;token=s3cr3t')).toBe('sc://h/;%E0=x;token=[REDACTED]');
    expect(redactRemote('sc://h:15002')).toBe('sc://h:15002');
  });

  it('parseRemote names a bad address without its token', () => {
    for (const bad of ['sc://h:99999/;%74oken=s3cr3t', 'sc://h:1/;token=s3cr3t;x', 'http://h/;token=s3cr3t']) {
      const err = (() => {
        try {
          parseRemote(bad);
        } catch (e) {
          return e as Error;
        }
        return null;
      })();
      expect(err?.message).toMatch(/Spark Connect address/);
      expect(err?.message).not.toContain('s3cr3t');
    }
  });
});
