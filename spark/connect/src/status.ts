/**
 * A failed gRPC call as a SparkError: Spark Connect attaches a google.rpc.Status with an
 * ErrorInfo to the `grpc-status-details-bin` trailer; its metadata carries Spark's error
 * class, SQLSTATE, message parameters and exception classes.
 */
import * as grpc from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import { ErrorInfoSchema, StatusSchema } from './gen/google/rpc/status_pb.js';
import {
  SparkAnalysisError,
  SparkConnectionError,
  SparkError,
  SparkExecutionError,
  SparkInterruptedError,
  SparkTimeoutError,
  type SparkErrorOptions,
} from './errors.js';

/** What Spark said about a failure, read from the call's trailers (empty when it said nothing). */
export function errorDetails(err: grpc.ServiceError): Omit<SparkErrorOptions, 'grpcCode' | 'cause'> & { readonly reason?: string } {
  const detailsBin = err.metadata?.get('grpc-status-details-bin')[0];
  if (!(detailsBin instanceof Buffer)) return {};
  try {
    const status = fromBinary(StatusSchema, detailsBin);
    for (const any of status.details) {
      if (!any.typeUrl.endsWith('/google.rpc.ErrorInfo')) continue;
      const info = fromBinary(ErrorInfoSchema, any.value);
      const md = info.metadata;
      const strings = (json: string | undefined): unknown => {
        try {
          return JSON.parse(json ?? 'null');
        } catch {
          return null; // informative only
        }
      };
      const classes = strings(md['classes']);
      const params = strings(md['messageParameters']);
      return {
        reason: info.reason,
        ...(md['errorClass'] ? { errorClass: md['errorClass'] } : {}),
        ...(md['sqlState'] ? { sqlState: md['sqlState'] } : {}),
        exceptionClasses: Array.isArray(classes) ? classes.filter((c): c is string => typeof c === 'string') : [],
        ...(params !== null && typeof params === 'object' && !Array.isArray(params)
          ? { messageParameters: Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => typeof e[1] === 'string')) }
          : {}),
      };
    }
  } catch {
    // Undecodable details: fall back to the status text.
  }
  return {};
}

/** A gRPC failure of a call to `remote` as a SparkError with the server's own message and error class. */
export function toSparkError(err: grpc.ServiceError, remote: string): SparkError {
  const { reason, ...details } = errorDetails(err);
  // Spark appends the analyzed plan after the first line: keep the message, drop the plan.
  const text = (err.details || err.message).split('\n')[0]!;
  const opts: SparkErrorOptions = { ...details, grpcCode: err.code, cause: err };
  const names = [reason ?? '', ...(details.exceptionClasses ?? [])];
  if (err.code === grpc.status.UNAVAILABLE) return new SparkConnectionError(`cannot reach the Spark Connect server at ${remote}: ${text}`, opts);
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return new SparkTimeoutError(`Spark call to ${remote} timed out: ${text}`, opts);
  if (err.code === grpc.status.CANCELLED || details.errorClass === 'OPERATION_CANCELED') return new SparkInterruptedError(`Spark operation interrupted: ${text}`, opts);
  if (names.some((n) => /AnalysisException|ParseException/.test(n))) return new SparkAnalysisError(`Spark analysis error: ${text}`, opts);
  return new SparkExecutionError(`Spark error: ${text}`, opts);
}
