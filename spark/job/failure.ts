/**
 * The Spark Connect client's errors as the product's: a SparkError becomes a RunFailure
 * (exit 1) with the client's message less Spark's internal names (the `[ERROR_CLASS]` and
 * `SQLSTATE: …` it writes into its messages; the class is kept on the error), what the
 * deepest exception of its cause chain says (the client fetches the chain when an operation
 * fails: an unreadable file's own reason), and for an unreachable server what to do about it.
 */
import { SparkConnectionError, SparkError, SparkHandshakeError } from '@mr/spark-connect';
import { RunFailure } from '../../engine/core/errors.js';
import { withS3aScheme } from './s3a-session.js';

export const START_HINT = 'start the local cluster with `mr spark up` (or point --remote / SPARK_REMOTE at a running Spark Connect server)';

/** A run that failed in or on the way to the Spark cluster. */
export class SparkRunFailure extends RunFailure {
  override name = 'SparkRunFailure';
  /** Spark's error class, when the server sent one. */
  readonly errorClass: string | undefined;

  constructor(readonly sparkError: SparkError) {
    // A cluster to start is the way out only when nothing answered (a handshake failure says its own).
    const unreachable = sparkError instanceof SparkConnectionError && !(sparkError instanceof SparkHandshakeError);
    super(unreachable ? `${sparkError.message}: ${START_HINT}` : withoutInternalNames(sparkError.message, deepestCause(sparkError)), { cause: sparkError });
    this.errorClass = sparkError.errorClass;
  }
}

/** A Java class's qualified name (`java.io.EOFException`), as exception messages lead with them. */
const JAVA_CLASS = /(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*/;
/** Longest text kept of a cause's message. */
const MAX_CAUSE_CHARS = 300;

/**
 * What the deepest exception under a failure says (its cause chain, as the client fetched it),
 * its first line without the class names it leads with: undefined when the failure has no
 * cause or its deepest says nothing.
 */
export function deepestCause(err: SparkError): string | undefined {
  if (err.causes.length < 2) return undefined;
  const text = withoutSparkNames(err.causes[err.causes.length - 1]!.message.split('\n')[0]!)
    .replace(new RegExp(`^(?:${JAVA_CLASS.source}(?::\\s*|$))+`), '')
    .trim();
  if (text === '' || text === 'null') return undefined;
  return text.length > MAX_CAUSE_CHARS ? `${text.slice(0, MAX_CAUSE_CHARS)}…` : text;
}

/** `[ERROR_CLASS.SUBCLASS]` and `SQLSTATE: XXXXX` taken out of a message. */
function withoutSparkNames(message: string): string {
  return message
    .replace(/\[[A-Z][A-Z0-9_]*(?:\.[A-Z][A-Z0-9_]*)*\]\s*/g, '')
    .replace(/\s*SQLSTATE:\s*[0-9A-Z]{5}\b\.?/g, '')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

/**
 * Spark's message as a user reads it: without `[ERROR_CLASS.SUBCLASS]` and `SQLSTATE: XXXXX`
 * (SPEC: no internal names), with what the deepest cause says (deepestCause) where the message
 * does not: an unreadable file's reason in place of "the cluster could not read it", a bare
 * exception class replaced, else added.
 */
export function withoutInternalNames(message: string, cause?: string): string {
  // A session with S3A settings of its own reads objects under a scheme of its own (s3a-session.ts): named as S3A's.
  message = withS3aScheme(message);
  cause = cause === undefined ? undefined : withS3aScheme(cause);
  // S3A's refusal of an object, with the SDK's class, request id and trailing `:null`: what the naive and parallel engines say.
  const deniedRule = /(s3a:\/\/\S+?): (?:getFileStatus|open|read|listStatus|listFiles)[^\n]*?(?:AccessDenied|Status Code: 403\b|\b403 Forbidden)/;
  const denied = deniedRule.exec(message) ?? (cause === undefined ? null : deniedRule.exec(cause));
  if (denied !== null) return `cannot read ${denied[1]}: access denied`;
  const cleaned = message
    // The scheduler's stage, task attempt and TID numbers say nothing to the user; the count, the host and the cause do.
    .replace(
      /Job aborted due to stage failure: Task \S+ in stage \S+ failed (\d+) times?, most recent failure: Lost task \S+ in stage \S+ \(TID \d+\) \(([^()]*)\): /,
      (_, times: string, where: string) => `a task failed ${times} time${times === '1' ? '' : 's'} (the last on ${where}): `,
    );
  const text = withoutSparkNames(cleaned);
  // A file an executor could not read (a truncated or corrupt .gz, most often): named as the other engines name it.
  // Spark writes the file's URI as its text, spaces and all, to the end of the line.
  const unreadable = /Encountered error while reading file (.+?)\.?$/m.exec(text);
  if (unreadable !== null) {
    const path = unreadable[1]!.replace(/^file:(?:\/\/)?/, '');
    return `cannot read ${path}: ${cause ?? 'the cluster could not read it'}${/\.gz$/i.test(path) ? ' (a corrupt or truncated gzip stream?)' : ''}`;
  }
  if (cause === undefined || text.includes(cause)) return text;
  const bareClass = new RegExp(`: ${JAVA_CLASS.source}$`);
  return bareClass.test(text) ? text.replace(bareClass, `: ${cause}`) : `${text} (${cause})`;
}

/** `err` as the product reports it: a SparkError mapped to a SparkRunFailure, anything else as it is. */
export function asRunFailure(err: unknown): unknown {
  return err instanceof SparkError ? new SparkRunFailure(err) : err;
}

/** `source` with the client's errors mapped by asRunFailure; stopping early stops the source (and its Spark operation). */
export async function* asRunFailures<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    for await (const x of source) yield x;
  } catch (err) {
    throw asRunFailure(err);
  }
}
