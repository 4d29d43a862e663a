/** @mr/spark-connect: a Spark Connect client for Node.js. */
export { SparkConnectClient, acceptsConnections, tasksWaiting, DEFAULT_RETRY, type ExecuteOptions, type ExecutionProgress, type StageProgress, type RetryPolicy, type SparkConnectOptions } from './client.js';
export { DEFAULT_PORT, DEFAULT_REMOTE, parseRemote, redactRemote, resolveRemote, type RemoteAddress } from './remote.js';
export { utf8Text } from './text.js';
export { createTempView, expr, filter, literal, project, readFiles, registerJavaFunction, sql, table, type SqlValue } from './plan.js';
export {
  SparkAnalysisError,
  SparkConnectionError,
  SparkError,
  SparkExecutionError,
  SparkHandshakeError,
  SparkInterruptedError,
  SparkTimeoutError,
  type SparkErrorCause,
  type SparkErrorOptions,
} from './errors.js';
export { toSparkError } from './status.js';
export type { Relation } from './gen/spark/connect/relations_pb.js';
export type { Command } from './gen/spark/connect/commands_pb.js';
export type { Expression } from './gen/spark/connect/expressions_pb.js';
export type { Plan } from './gen/spark/connect/base_pb.js';
export type { RecordBatch, Table } from 'apache-arrow';
