/**
 * Errors of the Spark Connect client, each with a message a person can act on. They are
 * run failures (exit 1) for the CLI.
 */
import { RunFailure } from '../../engine/core/errors.js';

export class SparkError extends RunFailure {
  override name = 'SparkError';
  /** Spark's error class (e.g. `UNRESOLVED_COLUMN.WITH_SUGGESTION`) when the server sent one. */
  readonly errorClass: string | undefined;
  /** gRPC status code of the failed call, when there was one. */
  readonly grpcCode: number | undefined;

  constructor(message: string, options: { errorClass?: string; grpcCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.errorClass = options.errorClass;
    this.grpcCode = options.grpcCode;
  }
}

/** The Connect server cannot be reached (nothing listening, refused, reset). */
export class SparkConnectionError extends SparkError {
  override name = 'SparkConnectionError';
}

/** A call ran past its deadline. */
export class SparkTimeoutError extends SparkError {
  override name = 'SparkTimeoutError';
}

/** The query is wrong for the data: unknown column, bad SQL, type errors (Spark's AnalysisException, ParseException). */
export class SparkAnalysisError extends SparkError {
  override name = 'SparkAnalysisError';
}

/** The operation was interrupted (Ctrl-C, abort signal). */
export class SparkInterruptedError extends SparkError {
  override name = 'SparkInterruptedError';
}

/** Any other failure the server reported while running the query (executor failure, I/O error, …). */
export class SparkExecutionError extends SparkError {
  override name = 'SparkExecutionError';
}
