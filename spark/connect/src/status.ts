/**
 * A failed gRPC call as a SparkError: Spark Connect attaches a google.rpc.Status with an
 * ErrorInfo to the `grpc-status-details-bin` trailer; its metadata carries Spark's error
 * class, SQLSTATE, message parameters and exception classes.
 */
import * as grpc from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import { ErrorInfoSchema, StatusSchema } from './gen/google/rpc/status_pb.js';
import type { FetchErrorDetailsResponse, FetchErrorDetailsResponse_Error } from './gen/spark/connect/base_pb.js';
import {
  SparkAnalysisError,
  SparkConnectionError,
  SparkError,
  SparkExecutionError,
  SparkInterruptedError,
  SparkTimeoutError,
  type SparkErrorCause,
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
        ...(md['errorId'] ? { errorId: md['errorId'] } : {}),
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

/**
 * A FetchErrorDetails response as a cause chain: the error it reports (root_error_idx, else
 * the first), then each one's cause (cause_idx) in turn. An index out of range or met twice
 * ends the chain.
 */
export function causeChain(response: FetchErrorDetailsResponse): SparkErrorCause[] {
  const chain: SparkErrorCause[] = [];
  const seen = new Set<number>();
  let i: number | undefined = response.rootErrorIdx ?? 0;
  while (i !== undefined && i >= 0 && i < response.errors.length && !seen.has(i)) {
    seen.add(i);
    const e: FetchErrorDetailsResponse_Error = response.errors[i]!;
    chain.push({ classes: [...e.errorTypeHierarchy], message: e.message });
    i = e.causeIdx;
  }
  return chain;
}
