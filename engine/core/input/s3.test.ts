import { describe, expect, it } from 'vitest';
import { classify } from './s3.js';

describe('classify: an S3 failure in words, and whether to try again', () => {
  const error = (name: string, message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { name }, extra);

  it('a rewrite told by the answer itself (another ETag or size) is a change, never retried', () => {
    expect(classify(error('ChangedObject', 'ETag "b", listed "a"'))).toEqual({
      why: 'the object changed while it was read (its ETag no longer matches); nothing was written: run again once it is complete',
      retry: false,
    });
  });

  it('a bare Error is named by its message, not by the word Error', () => {
    expect(classify(error('Error', 'Checksum mismatch: expected "x", but received "y" in response header "x-amz-checksum-crc32".\nmore'))).toEqual({
      why: 'request failed (Checksum mismatch: expected "x", but received "y" in response header "x-amz-checksum-crc32".)',
      retry: false,
    });
    expect(classify(error('Weird', 'ignored')).why).toBe('request failed (Weird)');
    expect(classify(error('Error', '')).why).toBe('request failed (unknown error)');
  });

  it('a 404 or 403 with a code of the store\'s own says the code; one with none is no such key or access denied', () => {
    const http = (status: number) => ({ $metadata: { httpStatusCode: status } });
    expect(classify(error('XAdminUserNotFound', 'x', http(404)))).toEqual({ why: 'no such key (the store answered HTTP 404, XAdminUserNotFound)', retry: false });
    expect(classify(error('UnknownError', 'x', http(404))).why).toBe('no such key');
    expect(classify(error('NoSuchKey', 'x', http(404))).why).toBe('no such key');
    expect(classify(error('QuotaExceeded', 'x', http(403))).why).toBe('access denied (the store answered HTTP 403, QuotaExceeded)');
  });
});
