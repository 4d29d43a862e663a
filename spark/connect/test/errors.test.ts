/**
 * A failed call's status as a SparkError: the trailer Spark Connect sends
 * (grpc-status-details-bin: a google.rpc.Status with an ErrorInfo) decoded into Spark's
 * error class, SQLSTATE, message parameters and exception classes.
 */
import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { ErrorInfoSchema, StatusSchema } from '../src/gen/google/rpc/status_pb.js';
import { causeChain, toSparkError } from '../src/status.js';
import { FetchErrorDetailsResponseSchema } from '../src/gen/spark/connect/base_pb.js';
import { SparkAnalysisError, SparkConnectionError, SparkError, SparkExecutionError, SparkInterruptedError, SparkTimeoutError } from '../src/errors.js';

function failure(code: grpc.status, details: string, info?: { reason: string; metadata: Record<string, string> }): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  if (info !== undefined) {
    const status = create(StatusSchema, {
      code,
      message: details,
      details: [{ typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: toBinary(ErrorInfoSchema, create(ErrorInfoSchema, { ...info, domain: 'org.apache.spark' })) }],
    });
    metadata.set('grpc-status-details-bin', Buffer.from(toBinary(StatusSchema, status)));
  }
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
}

const REMOTE = 'sc://127.0.0.1:15002';

describe('toSparkError', () => {
  it('an analysis failure: Spark’s error class, SQLSTATE and parameters, the first line of the message', () => {
    const err = toSparkError(
      failure(grpc.status.INTERNAL, '[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `nope` cannot be resolved.\n== Analyzed plan ==\nProject', {
        reason: 'org.apache.spark.sql.catalyst.ExtendedAnalysisException',
        metadata: {
          errorClass: 'UNRESOLVED_COLUMN.WITH_SUGGESTION',
          sqlState: '42703',
          messageParameters: JSON.stringify({ objectName: '`nope`', proposal: '`id`' }),
          classes: JSON.stringify(['org.apache.spark.sql.catalyst.ExtendedAnalysisException', 'org.apache.spark.sql.AnalysisException']),
        },
      }),
      REMOTE,
    );
    expect(err).toBeInstanceOf(SparkAnalysisError);
    expect(err.message).toBe('Spark analysis error: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `nope` cannot be resolved.');
    expect(err.errorClass).toBe('UNRESOLVED_COLUMN.WITH_SUGGESTION');
    expect(err.sqlState).toBe('42703');
    expect(err.messageParameters).toEqual({ objectName: '`nope`', proposal: '`id`' });
    expect(err.exceptionClasses).toEqual(['org.apache.spark.sql.catalyst.ExtendedAnalysisException', 'org.apache.spark.sql.AnalysisException']);
    expect(err.grpcCode).toBe(grpc.status.INTERNAL);
    expect(err.errorId).toBeUndefined();
    expect(err.causes).toEqual([]);
  });

  it('keeps the id under which the server holds the failure\'s details', () => {
    const err = toSparkError(failure(grpc.status.INTERNAL, '[FAILED_READ_FILE.NO_HINT] x', { reason: 'org.apache.spark.SparkException', metadata: { errorClass: 'FAILED_READ_FILE.NO_HINT', errorId: 'e-1' } }), REMOTE);
    expect(err.errorId).toBe('e-1');
  });

  it('a parse error is an analysis error too', () => {
    const err = toSparkError(failure(grpc.status.INTERNAL, '[PARSE_SYNTAX_ERROR] Syntax error', { reason: 'org.apache.spark.sql.catalyst.parser.ParseException', metadata: { errorClass: 'PARSE_SYNTAX_ERROR' } }), REMOTE);
    expect(err).toBeInstanceOf(SparkAnalysisError);
    expect(err.errorClass).toBe('PARSE_SYNTAX_ERROR');
  });

  it('other server failures are execution errors, with or without readable details', () => {
    const withInfo = toSparkError(failure(grpc.status.INTERNAL, '[DIVIDE_BY_ZERO] Division by zero', { reason: 'org.apache.spark.SparkArithmeticException', metadata: { errorClass: 'DIVIDE_BY_ZERO', sqlState: '22012' } }), REMOTE);
    expect(withInfo).toBeInstanceOf(SparkExecutionError);
    expect([withInfo.errorClass, withInfo.sqlState]).toEqual(['DIVIDE_BY_ZERO', '22012']);
    const garbled = failure(grpc.status.UNKNOWN, 'executor lost');
    garbled.metadata.set('grpc-status-details-bin', Buffer.from([0xff, 0xff, 0xff]));
    const plain = toSparkError(garbled, REMOTE);
    expect(plain).toBeInstanceOf(SparkExecutionError);
    expect(plain.message).toBe('Spark error: executor lost');
    expect(plain.errorClass).toBeUndefined();
    expect(plain.messageParameters).toEqual({});
  });

  it('transport outcomes: unreachable, past the deadline, cancelled or interrupted by the server', () => {
    const unavailable = toSparkError(failure(grpc.status.UNAVAILABLE, 'No connection established'), REMOTE);
    expect(unavailable).toBeInstanceOf(SparkConnectionError);
    expect(unavailable.message).toBe(`cannot reach the Spark Connect server at ${REMOTE}: No connection established`);
    expect(toSparkError(failure(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'), REMOTE)).toBeInstanceOf(SparkTimeoutError);
    expect(toSparkError(failure(grpc.status.CANCELLED, 'Cancelled on client'), REMOTE)).toBeInstanceOf(SparkInterruptedError);
    const byServer = toSparkError(failure(grpc.status.INTERNAL, '[OPERATION_CANCELED] Operation has been canceled.', { reason: 'org.apache.spark.SparkException', metadata: { errorClass: 'OPERATION_CANCELED' } }), REMOTE);
    expect(byServer).toBeInstanceOf(SparkInterruptedError);
    for (const e of [unavailable, byServer]) {
      expect(e).toBeInstanceOf(SparkError);
      expect(e.cause).toBeDefined();
    }
  });
});

describe('causeChain', () => {
  const error = (message: string, causeIdx?: number) => ({ errorTypeHierarchy: [`x.${message}Exception`, 'java.lang.Throwable'], message, ...(causeIdx === undefined ? {} : { causeIdx }) });

  it('runs from the error reported (root_error_idx) through each cause, whatever their order in the list', () => {
    const response = create(FetchErrorDetailsResponseSchema, { rootErrorIdx: 2, errors: [error('deepest'), error('middle', 0), error('top', 1)] });
    expect(causeChain(response).map((c) => c.message)).toEqual(['top', 'middle', 'deepest']);
    expect(causeChain(response)[0]!.classes).toEqual(['x.topException', 'java.lang.Throwable']);
  });

  it('starts at the first error when no root is named, and ends at an index out of range or met twice', () => {
    expect(causeChain(create(FetchErrorDetailsResponseSchema, { errors: [error('a', 1), error('b')] })).map((c) => c.message)).toEqual(['a', 'b']);
    expect(causeChain(create(FetchErrorDetailsResponseSchema, { errors: [error('a', 5)] })).map((c) => c.message)).toEqual(['a']);
    expect(causeChain(create(FetchErrorDetailsResponseSchema, { errors: [error('a', 1), error('b', 0)] })).map((c) => c.message)).toEqual(['a', 'b']);
    expect(causeChain(create(FetchErrorDetailsResponseSchema, { rootErrorIdx: 3, errors: [error('a')] }))).toEqual([]);
    expect(causeChain(create(FetchErrorDetailsResponseSchema, {}))).toEqual([]);
  });
});
