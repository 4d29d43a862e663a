/**
 * Errors of the Spark Connect client. Every failure is a SparkError; the subclass says what
 * kind of failure it is, and `errorClass` / `sqlState` / `messageParameters` carry what the
 * server reported (Spark's own error class, e.g. `UNRESOLVED_COLUMN.WITH_SUGGESTION`).
 */

export interface SparkErrorOptions {
  /** Spark's error class, when the server sent one. */
  readonly errorClass?: string;
  /** The SQLSTATE of Spark's error class, when the server sent one. */
  readonly sqlState?: string;
  /** The parameters of Spark's error message, when the server sent them. */
  readonly messageParameters?: Readonly<Record<string, string>>;
  /** The exception classes the server reported, most specific first (e.g. org.apache.spark.sql.AnalysisException). */
  readonly exceptionClasses?: readonly string[];
  /** gRPC status code of the failed call, when there was one. */
  readonly grpcCode?: number;
  /** The server's id of the failure's details (its cause chain), when it keeps them. */
  readonly errorId?: string;
  readonly cause?: unknown;
}

/** One exception of a failure's cause chain, as the server reported it. */
export interface SparkErrorCause {
  /** The exception's class and its superclasses, most specific first. */
  readonly classes: readonly string[];
  readonly message: string;
}

export class SparkError extends Error {
  override name = 'SparkError';
  readonly errorClass: string | undefined;
  readonly sqlState: string | undefined;
  readonly messageParameters: Readonly<Record<string, string>>;
  readonly exceptionClasses: readonly string[];
  readonly grpcCode: number | undefined;
  readonly errorId: string | undefined;
  /**
   * The failure's exceptions on the server, from the one reported down to its deepest cause
   * (FetchErrorDetails; the client asks for them when an operation fails): empty when the
   * server keeps no details or could not be asked.
   */
  causes: readonly SparkErrorCause[] = [];

  constructor(message: string, options: SparkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.errorClass = options.errorClass;
    this.sqlState = options.sqlState;
    this.messageParameters = options.messageParameters ?? {};
    this.exceptionClasses = options.exceptionClasses ?? [];
    this.grpcCode = options.grpcCode;
    this.errorId = options.errorId;
  }
}

/** The Connect server cannot be reached (nothing listening, refused, reset). */
export class SparkConnectionError extends SparkError {
  override name = 'SparkConnectionError';
}

/**
 * A connection failure where something accepts TCP connections at the address but no Spark
 * Connect session comes up over them: TLS asked of a server without it (or the reverse), a
 * proxy that hangs, or not a Spark Connect server. Starting a cluster is not the way out.
 */
export class SparkHandshakeError extends SparkConnectionError {
  override name = 'SparkHandshakeError';
}

/** A call ran past its deadline. */
export class SparkTimeoutError extends SparkError {
  override name = 'SparkTimeoutError';
}

/** The query is wrong for the data: unknown column, bad SQL, type errors (Spark's AnalysisException, ParseException). */
export class SparkAnalysisError extends SparkError {
  override name = 'SparkAnalysisError';
}

/** The operation was interrupted (abort signal, `interrupt()`, or by the server). */
export class SparkInterruptedError extends SparkError {
  override name = 'SparkInterruptedError';
}

/** Any other failure the server reported while running the query (executor failure, I/O error, …). */
export class SparkExecutionError extends SparkError {
  override name = 'SparkExecutionError';
}
