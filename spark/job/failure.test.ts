/** The client's errors as the product reports them: exit 1, Spark's message and error class, a hint when the server is unreachable. */
import { describe, expect, it } from 'vitest';
import { SparkAnalysisError, SparkConnectionError, SparkExecutionError, SparkHandshakeError, SparkInterruptedError } from '@mr/spark-connect';
import { InputError, exitCodeOf } from '../../engine/core/errors.js';
import { SparkRunFailure, START_HINT, asRunFailure, asRunFailures, deepestCause, withoutInternalNames } from './failure.js';

describe('asRunFailure', () => {
  it('keeps the message (less Spark\'s internal names) and error class of a Spark error, with exit code 1', () => {
    const spark = new SparkAnalysisError('Spark analysis error: [UNRESOLVED_COLUMN.WITHOUT_SUGGESTION] x', { errorClass: 'UNRESOLVED_COLUMN.WITHOUT_SUGGESTION' });
    const err = asRunFailure(spark) as SparkRunFailure;
    expect(err).toBeInstanceOf(SparkRunFailure);
    expect(exitCodeOf(err)).toBe(1);
    expect(err.message).toBe('Spark analysis error: x');
    const read = new SparkExecutionError('Spark error: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file file:///tmp/a b/cut.log.gz.  SQLSTATE: KD001', {
      errorClass: 'FAILED_READ_FILE.NO_HINT',
    });
    // Named as the other engines name a file they cannot read.
    expect((asRunFailure(read) as Error).message).toBe('cannot read /tmp/a b/cut.log.gz: the cluster could not read it (a corrupt or truncated gzip stream?)');
    expect(withoutInternalNames('Spark error: Encountered error while reading file s3a://b/logs/a.log.')).toBe('cannot read s3a://b/logs/a.log: the cluster could not read it');
    // As the local cluster words a truncated .gz.
    expect(withoutInternalNames('Spark error: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file file:///tmp/sg/trunc.log.gz.  SQLSTATE: KD001')).toBe(
      'cannot read /tmp/sg/trunc.log.gz: the cluster could not read it (a corrupt or truncated gzip stream?)',
    );
    // A task's failure as Spark 4.1 words it (a java_method call that throws, on the local cluster).
    expect(
      withoutInternalNames(
        'Spark error: Job aborted due to stage failure: Task 3 in stage 279.0 failed 4 times, most recent failure: Lost task 3.3 in stage 279.0 (TID 1542) (127.0.0.1 executor 0): java.lang.reflect.InvocationTargetException',
      ),
    ).toBe('Spark error: a task failed 4 times (the last on 127.0.0.1 executor 0): java.lang.reflect.InvocationTargetException');
    expect(withoutInternalNames('Job aborted due to stage failure: Task 0 in stage 1.0 failed 1 time, most recent failure: Lost task 0.0 in stage 1.0 (TID 0) (h executor driver): boom')).toBe(
      'a task failed 1 time (the last on h executor driver): boom',
    );
    // S3A refusing an object (a user allowed to list, not to read), as the S3 audit saw it from moto with IAM on.
    expect(
      withoutInternalNames(
        'Spark error: s3a://audit/c7/logs/a.log: getFileStatus on s3a://audit/c7/logs/a.log: software.amazon.awssdk.services.s3.model.S3Exception: FORBIDDEN (Service: S3, Status Code: 403, Request ID: 8aF3):null',
      ),
    ).toBe('cannot read s3a://audit/c7/logs/a.log: access denied');
    // Brackets of other kinds, and text that only looks like a state, are the message's own.
    expect(withoutInternalNames('Spark error: [x] in [1, 2] a SQLSTATE-like word')).toBe('Spark error: [x] in [1, 2] a SQLSTATE-like word');
    expect(err.errorClass).toBe('UNRESOLVED_COLUMN.WITHOUT_SUGGESTION');
    expect(err.sparkError).toBe(spark);
    expect(err.cause).toBe(spark);
  });

  it('says what the deepest cause of the failure says, where Spark\'s message does not', () => {
    const withCauses = (message: string, ...causes: string[]) => {
      const err = new SparkExecutionError(message);
      err.causes = causes.map((m) => ({ classes: ['java.lang.Exception', 'java.lang.Throwable'], message: m }));
      return err;
    };
    // The reason a file could not be read, in place of "the cluster could not read it" (as Spark 4.1 reported a truncated gzip).
    const cut = withCauses('Spark error: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file file:///tmp/a b/cut.log.gz.  SQLSTATE: KD001', '[FAILED_READ_FILE.NO_HINT] Encountered error while reading file file:///tmp/a b/cut.log.gz.  SQLSTATE: KD001', 'Unexpected end of input stream');
    expect((asRunFailure(cut) as Error).message).toBe('cannot read /tmp/a b/cut.log.gz: Unexpected end of input stream (a corrupt or truncated gzip stream?)');
    // Class names the cause leads with, a second line, a long text and Spark's names go.
    expect(deepestCause(withCauses('x', 'y', 'org.apache.hadoop.fs.s3a.AWSClientIOException: java.net.ConnectException: Connect to 127.0.0.1:9 failed: Connection refused\n\tat x'))).toBe(
      'Connect to 127.0.0.1:9 failed: Connection refused',
    );
    expect(deepestCause(withCauses('x', 'y', `[SOME_CLASS] ${'z'.repeat(400)} SQLSTATE: 12345`))).toBe(`${'z'.repeat(300)}…`);
    // No cause, or one that says nothing: the message as it was.
    expect(deepestCause(withCauses('x'))).toBeUndefined();
    expect(deepestCause(withCauses('x', 'y'))).toBeUndefined();
    expect(deepestCause(withCauses('x', 'x', 'y'))).toBe('y');
    expect(deepestCause(withCauses('x', 'x', 'java.io.EOFException'))).toBeUndefined();
    expect(deepestCause(withCauses('x', 'y', 'null'))).toBeUndefined();
    expect(deepestCause(withCauses('x', 'y', 'java.lang.NullPointerException: '))).toBeUndefined();
    expect((asRunFailure(withCauses('Spark error: Encountered error while reading file s3a://b/a.log.', 'y', '')) as Error).message).toBe('cannot read s3a://b/a.log: the cluster could not read it');
    // A bare exception class at the end is replaced by what the cause says; other messages get it added, once.
    const task = 'Spark error: Job aborted due to stage failure: Task 3 in stage 279.0 failed 4 times, most recent failure: Lost task 3.3 in stage 279.0 (TID 1542) (127.0.0.1 executor 0): java.lang.reflect.InvocationTargetException';
    expect(withoutInternalNames(task, 'the rate is not a number')).toBe('Spark error: a task failed 4 times (the last on 127.0.0.1 executor 0): the rate is not a number');
    expect(withoutInternalNames('Spark error: boom', 'disk full')).toBe('Spark error: boom (disk full)');
    expect(withoutInternalNames('Spark error: boom: disk full', 'disk full')).toBe('Spark error: boom: disk full');
    // S3A's refusal found in the cause only.
    expect(withoutInternalNames('Spark error: Encountered error while reading file s3a://b/a.log.', 's3a://b/a.log: open s3a://b/a.log at 0 on s3a://b/a.log: software.amazon.awssdk.services.s3.model.S3Exception: Access Denied (Service: S3, Status Code: 403)')).toBe(
      'cannot read s3a://b/a.log: access denied',
    );
  });

  it('says how to start the local cluster when the server cannot be reached, and only then', () => {
    const unreachable = asRunFailure(new SparkConnectionError('cannot reach the Spark Connect server at sc://127.0.0.1:1')) as Error;
    expect(unreachable.message).toBe(`cannot reach the Spark Connect server at sc://127.0.0.1:1: ${START_HINT}`);
    expect(START_HINT).toContain('mr spark up');
    expect((asRunFailure(new SparkInterruptedError('Spark operation interrupted')) as Error).message).toBe('Spark operation interrupted');
    // Something listens there but no session came up (TLS asked of a plain server): starting a cluster is not the way out.
    const handshake = 'the server at sc://127.0.0.1:15002/;use_ssl=true accepts connections but no Spark Connect session came up within 5000 ms: the address asks for TLS';
    expect((asRunFailure(new SparkHandshakeError(handshake)) as Error).message).toBe(handshake);
  });

  it('leaves every other error as it is', () => {
    const input = new InputError('cannot read a.log: ENOENT');
    expect(asRunFailure(input)).toBe(input);
    expect(asRunFailure('text')).toBe('text');
  });
});

describe('asRunFailures', () => {
  it('passes the items through, maps a Spark error of the source, and stops the source when the consumer stops', async () => {
    let stopped = false;
    async function* source(fail: boolean) {
      try {
        yield 1;
        yield 2;
        if (fail) throw new SparkInterruptedError('Spark operation interrupted');
        yield 3;
      } finally {
        stopped = true;
      }
    }
    const all: number[] = [];
    for await (const x of asRunFailures(source(false))) all.push(x);
    expect(all).toEqual([1, 2, 3]);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const x of asRunFailures(source(true))) seen.push(x);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([1, 2]);
    expect(err).toBeInstanceOf(SparkRunFailure);
    stopped = false;
    for await (const x of asRunFailures(source(false))) if (x === 1) break;
    expect(stopped).toBe(true);
  });
});
