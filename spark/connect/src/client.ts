/**
 * A Spark Connect client: ExecutePlan over gRPC (@grpc/grpc-js), messages from the generated
 * protobuf subset (proto/), results decoded from Arrow IPC (apache-arrow).
 *
 * One client is one Spark session (a random session id, a user id). Executions are
 * reattachable by default: when the result stream breaks (the connection drops, or the
 * server ends it before the result is complete) the client reattaches to the running
 * operation and continues after the last response it received, then releases it. Server
 * errors become SparkError subclasses with Spark's own message and error class; an
 * unreachable server fails fast (SparkConnectionError); an AbortSignal cancels the call and
 * interrupts the operation on the server.
 */
import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { crc32 } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { Table, tableFromIPC, type RecordBatch } from 'apache-arrow';
import {
  AddArtifactsRequestSchema,
  AddArtifactsResponseSchema,
  ConfigRequestSchema,
  ConfigResponseSchema,
  type ConfigRequest_OperationSchema,
  ExecutePlanRequestSchema,
  ExecutePlanResponseSchema,
  FetchErrorDetailsRequestSchema,
  FetchErrorDetailsResponseSchema,
  InterruptRequestSchema,
  InterruptRequest_InterruptType,
  InterruptResponseSchema,
  PlanSchema,
  ReattachExecuteRequestSchema,
  ReleaseExecuteRequestSchema,
  ReleaseExecuteResponseSchema,
  ReleaseSessionRequestSchema,
  ReleaseSessionResponseSchema,
  type ExecutePlanResponse,
  type ExecutePlanResponse_ExecutionProgress,
  type Plan,
} from './gen/spark/connect/base_pb.js';
import type { Relation } from './gen/spark/connect/relations_pb.js';
import type { Command } from './gen/spark/connect/commands_pb.js';
import { SparkConnectionError, SparkError, SparkHandshakeError, SparkInterruptedError } from './errors.js';
import { parseRemote, redactRemote, type RemoteAddress } from './remote.js';
import { causeChain, toSparkError } from './status.js';
import { sql, type SqlValue } from './plan.js';

const SERVICE = '/spark.connect.SparkConnectService';
const CLIENT_TYPE = '@mr/spark-connect/0.1.0';
/** Undelivered responses held before the gRPC stream is paused (bounded memory for any result size). */
const HIGH_WATER = 4;
/** How long the details of a failure (FetchErrorDetails) may take to fetch. */
const ERROR_DETAILS_TIMEOUT_MS = 5000;
/** How long a Config call may take by default. */
const CONFIG_TIMEOUT_MS = 60_000;

export interface RetryPolicy {
  /** Reattach attempts after a broken stream before the call fails (default 8). */
  readonly attempts: number;
  /** First wait before reattaching, doubled on each failed attempt (default 100 ms). */
  readonly initialBackoffMs: number;
  /** Longest wait between attempts (default 2000 ms). */
  readonly maxBackoffMs: number;
}

/** Artifacts up to this size go in one message; larger ones in chunks of it (as Spark's own clients do). */
const ARTIFACT_CHUNK_BYTES = 32 * 1024;

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, initialBackoffMs: 100, maxBackoffMs: 2000 };

export interface SparkConnectOptions {
  /** Connection string, e.g. sc://127.0.0.1:15002. */
  readonly remote: string;
  /** User id sent in UserContext (default: `user_id` parameter of the remote, else $USER, else "spark"). */
  readonly userId?: string;
  /** Milliseconds to wait for the server to accept the connection (default 5000). */
  readonly connectTimeoutMs?: number;
  /** Sent as the request's client_type, for the server's logs (default: this package's name and version). */
  readonly clientType?: string;
  /** Reattachable executions (default true): a broken result stream is resumed, not failed. */
  readonly reattachable?: boolean;
  /** How often and how fast to reattach (default DEFAULT_RETRY). */
  readonly retry?: Partial<RetryPolicy>;
}

export interface ExecuteOptions {
  readonly signal?: AbortSignal;
  /** Deadline for each call to the server, in milliseconds (default: none). */
  readonly timeoutMs?: number;
  /** Operation tags: `interruptTag(tag)` interrupts every running operation carrying one. */
  readonly tags?: readonly string[];
  /** Called with each progress report the server sends while the operation runs (Spark 4: every `spark.connect.progress.reportInterval`, 2 s by default). */
  readonly onProgress?: (progress: ExecutionProgress) => void;
}

/** One stage of an operation's progress report. */
export interface StageProgress {
  readonly stageId: number;
  readonly tasks: number;
  readonly completedTasks: number;
  /** Bytes the stage's tasks have read from its input files so far. */
  readonly inputBytesRead: number;
  readonly done: boolean;
}

/** A progress report of a running operation: its stages so far, and the tasks running now. */
export interface ExecutionProgress {
  readonly stages: readonly StageProgress[];
  readonly inflightTasks: number;
}

/** The response stream of one call, paused while `HIGH_WATER` responses wait for the consumer. */
async function* readCall(call: grpc.ClientReadableStream<ExecutePlanResponse>): AsyncGenerator<ExecutePlanResponse> {
  const queue: ExecutePlanResponse[] = [];
  let ended = false;
  let failure: grpc.ServiceError | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  call.on('data', (r: ExecutePlanResponse) => {
    queue.push(r);
    if (queue.length >= HIGH_WATER) call.pause();
    notify();
  });
  call.on('error', (err: grpc.ServiceError) => {
    failure = err;
    notify();
  });
  call.on('end', () => {
    ended = true;
    notify();
  });
  try {
    for (;;) {
      if (queue.length > 0) {
        const r = queue.shift()!;
        if (queue.length < HIGH_WATER) call.resume();
        yield r;
        continue;
      }
      if (failure !== null) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    if (!ended && failure === null) call.cancel();
  }
}

/** A progress report as plain numbers (int64 counts and bytes are far below 2^53). */
function progressOf(p: ExecutePlanResponse_ExecutionProgress): ExecutionProgress {
  return {
    stages: p.stages.map((s) => ({
      stageId: Number(s.stageId),
      tasks: Number(s.numTasks),
      completedTasks: Number(s.numCompletedTasks),
      inputBytesRead: Number(s.inputBytesRead),
      done: s.done,
    })),
    inflightTasks: Number(p.numInflightTasks),
  };
}

/** Whether a progress report says the operation has tasks to run and none running: no executor core is free for it. */
export function tasksWaiting(p: ExecutionProgress): boolean {
  return p.inflightTasks === 0 && p.stages.some((s) => !s.done && s.completedTasks < s.tasks);
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'metadata' in err;
}

export class SparkConnectClient {
  readonly sessionId = randomUUID();
  readonly userId: string;
  /** The connection string, its token hidden (as errors name it). */
  readonly remote: string;
  readonly reattachable: boolean;
  private readonly address: RemoteAddress;
  private readonly client: grpc.Client;
  private readonly connectTimeoutMs: number;
  /** TLS on the channel: use_ssl=true, or a token (sent only over TLS). */
  private readonly useSsl: boolean;
  private readonly clientType: string;
  private readonly retry: RetryPolicy;
  private serverSideSessionId: string | undefined;
  private connected = false;
  private closed = false;

  constructor(options: SparkConnectOptions) {
    this.remote = redactRemote(options.remote);
    this.address = parseRemote(options.remote);
    this.userId = options.userId ?? this.address.params['user_id'] ?? process.env['USER'] ?? 'spark';
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.clientType = options.clientType ?? CLIENT_TYPE;
    this.reattachable = options.reattachable ?? true;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    const useSsl = (this.useSsl = this.address.params['use_ssl'] === 'true' || this.address.params['token'] !== undefined);
    let credentials = useSsl ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    const token = this.address.params['token'];
    if (token !== undefined) {
      credentials = grpc.credentials.combineChannelCredentials(
        credentials,
        grpc.credentials.createFromMetadataGenerator((_p, cb) => {
          const md = new grpc.Metadata();
          md.set('authorization', `Bearer ${token}`);
          cb(null, md);
        }),
      );
    }
    this.client = new grpc.Client(`${this.address.host}:${this.address.port}`, credentials, {
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000,
      // Fail fast when the server is not there instead of retrying for minutes.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
  }

  /** Waits until the server accepts the connection; SparkConnectionError otherwise. `signal` ends the wait with its reason. */
  async connect(signal?: AbortSignal): Promise<void> {
    if (this.connected) return;
    if (this.closed) throw new SparkError('the Spark Connect client is closed');
    signal?.throwIfAborted();
    const deadline = Date.now() + this.connectTimeoutMs;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        onAbort = () => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.client.waitForReady(deadline, (err) => {
          if (err === undefined || err === null) return resolve();
          // No session within the time: nothing listening, or something that does not speak Spark Connect as asked.
          void acceptsConnections(this.address.host, this.address.port, signal).then((listening) => {
            if (!listening) return reject(new SparkConnectionError(`cannot reach the Spark Connect server at ${this.remote} (no answer within ${this.connectTimeoutMs} ms)`, { cause: err }));
            const tls = this.useSsl
              ? 'the address asks for TLS (use_ssl=true or a token): does the server serve TLS, with a certificate this machine trusts?'
              : 'is it a Spark Connect server, and does it want TLS (;use_ssl=true in the address)?';
            reject(new SparkHandshakeError(`the server at ${this.remote} accepts connections but no Spark Connect session came up within ${this.connectTimeoutMs} ms: ${tls}`, { cause: err }));
          });
        });
      });
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
    this.connected = true;
  }

  /**
   * Sets session configuration (`spark.conf.set`), every pair in one Config call: no SQL
   * statement and no job per setting. Spark's warnings (e.g. a deprecated key) are returned.
   */
  async setConf(pairs: Readonly<Record<string, string>>, options: ExecuteOptions = {}): Promise<string[]> {
    const response = await this.config({ opType: { case: 'set', value: { pairs: Object.entries(pairs).map(([key, value]) => ({ key, value })) } } }, options);
    return response.warnings;
  }

  /** Reads session configuration (`spark.conf.get`), the values by key. */
  async getConf(keys: readonly string[], options: ExecuteOptions = {}): Promise<Record<string, string | undefined>> {
    const response = await this.config({ opType: { case: 'get', value: { keys: [...keys] } } }, options);
    return Object.fromEntries(response.pairs.map((p) => [p.key, p.value]));
  }

  private async config(
    operation: MessageInitShape<typeof ConfigRequest_OperationSchema>,
    options: ExecuteOptions,
  ): Promise<MessageShape<typeof ConfigResponseSchema>> {
    options.signal?.throwIfAborted();
    await this.connect();
    const request = create(ConfigRequestSchema, {
      sessionId: this.sessionId,
      userContext: this.userContext,
      clientType: this.clientType,
      operation,
      ...this.observedSession,
    });
    const response = await this.unary(`${SERVICE}/Config`, request, ConfigRequestSchema, ConfigResponseSchema, options.timeoutMs ?? CONFIG_TIMEOUT_MS, options.signal);
    if (response.serverSideSessionId !== '') this.serverSideSessionId = response.serverSideSessionId;
    return response;
  }

  /** Runs a SQL query with named parameters (`:name`) and returns its rows as one Arrow table (null for no Arrow data). */
  async sql(query: string, args: Readonly<Record<string, SqlValue>> = {}, options: ExecuteOptions = {}): Promise<Table | null> {
    return this.collect(sql(query, args), options);
  }

  /** Runs a relation and returns its rows as one Arrow table (null for a result without Arrow data). */
  async collect(relation: Relation, options: ExecuteOptions = {}): Promise<Table | null> {
    return this.execute(create(PlanSchema, { opType: { case: 'root', value: relation } }), options);
  }

  /** Runs a command (e.g. create a temporary view). */
  async command(command: Command, options: ExecuteOptions = {}): Promise<void> {
    await this.execute(create(PlanSchema, { opType: { case: 'command', value: command } }), options);
  }

  /** ExecutePlan: runs a plan and gathers its Arrow batches into one table (null when there are none). */
  async execute(plan: Plan, options: ExecuteOptions = {}): Promise<Table | null> {
    const batches: RecordBatch[] = [];
    for await (const b of this.batches(plan, options)) batches.push(b);
    return batches.length === 0 ? null : new Table(batches);
  }

  /**
   * Runs a relation and yields its Arrow record batches as they arrive, holding at most a few
   * undelivered responses (the gRPC stream is paused while the consumer is behind), so a
   * result of any size passes through bounded memory. Stopping the iteration early cancels
   * the call and interrupts the operation on the server.
   */
  async *stream(relation: Relation, options: ExecuteOptions = {}): AsyncGenerator<RecordBatch> {
    yield* this.batches(create(PlanSchema, { opType: { case: 'root', value: relation } }), options);
  }

  private async *batches(plan: Plan, options: ExecuteOptions): AsyncGenerator<RecordBatch> {
    for await (const r of this.responses(plan, options)) {
      if (r.responseType.case === 'arrowBatch' && r.responseType.value.data.length > 0) {
        for (const b of tableFromIPC(r.responseType.value.data).batches) yield b;
      }
    }
  }

  /**
   * The responses of one operation, in order, each once: reattaching after a broken stream
   * (from the last response received) when the execution is reattachable, interrupting the
   * operation when the signal aborts or the consumer stops early, releasing it when done.
   */
  private async *responses(plan: Plan, options: ExecuteOptions): AsyncGenerator<ExecutePlanResponse> {
    const { signal } = options;
    signal?.throwIfAborted();
    await this.connect();
    const operationId = randomUUID();
    let lastResponseId: string | undefined;
    let complete = false;
    let failed = false;
    let aborted = false;
    let attempt = 0;
    let call = this.startExecute(plan, operationId, options);
    const onAbort = () => {
      aborted = true;
      call.cancel();
      // Best effort: stop the work on the cluster too, not only the stream.
      void this.interrupt(operationId).catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        try {
          for await (const r of readCall(call)) {
            attempt = 0;
            if (r.serverSideSessionId !== '') this.serverSideSessionId = r.serverSideSessionId;
            if (r.responseId !== '') lastResponseId = r.responseId;
            if (r.responseType.case === 'resultComplete') complete = true;
            if (r.responseType.case === 'executionProgress') {
              options.onProgress?.(progressOf(r.responseType.value));
              continue;
            }
            yield r;
          }
          // Without reattach the stream's end is the result's end; with it, only ResultComplete is.
          if (!this.reattachable || complete) {
            complete = true;
            return;
          }
        } catch (err) {
          if (aborted) throw this.interruptedError(signal);
          if (!isServiceError(err)) throw err;
          const failure = toSparkError(err, this.remote);
          const retryable = this.reattachable && err.code === grpc.status.UNAVAILABLE && attempt < this.retry.attempts;
          // A reattach to an operation the server never received: send the plan again.
          const notFound = failure.errorClass === 'INVALID_HANDLE.OPERATION_NOT_FOUND' && lastResponseId === undefined && attempt > 0;
          if (!retryable && !notFound) {
            failed = true;
            throw await this.withCauses(failure);
          }
          if (notFound) {
            call = this.startExecute(plan, operationId, options);
            continue;
          }
        }
        attempt++;
        if (attempt > this.retry.attempts) {
          failed = true;
          throw new SparkConnectionError(`the result stream of operation ${operationId} on ${this.remote} broke ${attempt} times in a row`);
        }
        await new Promise((r) => setTimeout(r, Math.min(this.retry.maxBackoffMs, this.retry.initialBackoffMs * 2 ** (attempt - 1))));
        if (aborted || signal?.aborted) {
          aborted = true;
          throw this.interruptedError(signal);
        }
        call = this.startReattach(operationId, lastResponseId, options);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Stopped early by the consumer (neither complete, failed nor aborted): stop the work on the server.
      if (!complete && !failed && !aborted) void this.interrupt(operationId).catch(() => undefined);
      if (this.reattachable) void this.releaseExecute(operationId).catch(() => undefined);
    }
  }

  /**
   * The failure with its cause chain (SparkError.causes) as the server keeps it under the
   * failure's errorId (FetchErrorDetails); as it was when the server keeps none, the call
   * fails or the operation was interrupted: the causes only explain.
   */
  private async withCauses(failure: SparkError): Promise<SparkError> {
    // An interrupted operation's cause is the interrupt: nothing to ask for while it stops.
    if (failure.errorId === undefined || failure instanceof SparkInterruptedError) return failure;
    const request = create(FetchErrorDetailsRequestSchema, {
      sessionId: this.sessionId,
      userContext: this.userContext,
      errorId: failure.errorId,
      clientType: this.clientType,
      ...this.observedSession,
    });
    try {
      failure.causes = causeChain(await this.unary(`${SERVICE}/FetchErrorDetails`, request, FetchErrorDetailsRequestSchema, FetchErrorDetailsResponseSchema, ERROR_DETAILS_TIMEOUT_MS));
    } catch {
      // Informative only: the failure stands as the server first reported it.
    }
    return failure;
  }

  private get userContext() {
    return { userId: this.userId, userName: this.userId };
  }

  private get observedSession() {
    return this.serverSideSessionId === undefined ? {} : { clientObservedServerSideSessionId: this.serverSideSessionId };
  }

  private callOptions(options: ExecuteOptions): grpc.CallOptions {
    return options.timeoutMs === undefined ? {} : { deadline: Date.now() + options.timeoutMs };
  }

  private startExecute(plan: Plan, operationId: string, options: ExecuteOptions): grpc.ClientReadableStream<ExecutePlanResponse> {
    const request = create(ExecutePlanRequestSchema, {
      sessionId: this.sessionId,
      userContext: this.userContext,
      operationId,
      plan,
      clientType: this.clientType,
      tags: [...(options.tags ?? [])],
      requestOptions: this.reattachable ? [{ requestOption: { case: 'reattachOptions', value: { reattachable: true } } }] : [],
      ...this.observedSession,
    });
    return this.client.makeServerStreamRequest(
      `${SERVICE}/ExecutePlan`,
      (m: typeof request) => Buffer.from(toBinary(ExecutePlanRequestSchema, m)),
      (b: Buffer) => fromBinary(ExecutePlanResponseSchema, b),
      request,
      new grpc.Metadata(),
      this.callOptions(options),
    );
  }

  private startReattach(operationId: string, lastResponseId: string | undefined, options: ExecuteOptions): grpc.ClientReadableStream<ExecutePlanResponse> {
    const request = create(ReattachExecuteRequestSchema, {
      sessionId: this.sessionId,
      userContext: this.userContext,
      operationId,
      clientType: this.clientType,
      ...(lastResponseId === undefined ? {} : { lastResponseId }),
      ...this.observedSession,
    });
    return this.client.makeServerStreamRequest(
      `${SERVICE}/ReattachExecute`,
      (m: typeof request) => Buffer.from(toBinary(ReattachExecuteRequestSchema, m)),
      (b: Buffer) => fromBinary(ExecutePlanResponseSchema, b),
      request,
      new grpc.Metadata(),
      this.callOptions(options),
    );
  }

  /** Frees what the server keeps of a reattachable operation (its buffered responses). */
  private async releaseExecute(operationId: string): Promise<void> {
    const request = create(ReleaseExecuteRequestSchema, {
      sessionId: this.sessionId,
      userContext: this.userContext,
      operationId,
      clientType: this.clientType,
      release: { case: 'releaseAll', value: {} },
      ...this.observedSession,
    });
    await this.unary(`${SERVICE}/ReleaseExecute`, request, ReleaseExecuteRequestSchema, ReleaseExecuteResponseSchema, 5000);
  }

  /** Interrupts one operation of this session, or all of them; returns the ids of the interrupted operations. */
  async interrupt(operationId?: string): Promise<string[]> {
    return this.interruptWith(
      operationId === undefined
        ? { interruptType: InterruptRequest_InterruptType.ALL, interrupt: { case: undefined } }
        : { interruptType: InterruptRequest_InterruptType.OPERATION_ID, interrupt: { case: 'operationId', value: operationId } },
    );
  }

  /** Interrupts every running operation of this session started with `tag` in its options' tags. */
  async interruptTag(tag: string): Promise<string[]> {
    return this.interruptWith({ interruptType: InterruptRequest_InterruptType.TAG, interrupt: { case: 'operationTag', value: tag } });
  }

  private async interruptWith(what: Pick<MessageShape<typeof InterruptRequestSchema>, 'interruptType' | 'interrupt'>): Promise<string[]> {
    const request = create(InterruptRequestSchema, { sessionId: this.sessionId, userContext: this.userContext, clientType: this.clientType, ...what, ...this.observedSession });
    const response = await this.unary(`${SERVICE}/Interrupt`, request, InterruptRequestSchema, InterruptResponseSchema, 5000);
    return response.interruptedIds;
  }

  /**
   * Adds files to this session on the server (`spark.addArtifacts`): `jars/<name>.jar` puts a
   * jar on the session's class path, on the driver and its executors (for Java functions
   * registered afterwards), `files/<name>` a file. Each artifact goes in one message when it
   * is small, else in chunks; every chunk carries its CRC-32, and a chunk the server finds
   * corrupt fails the call.
   */
  async addArtifacts(artifacts: ReadonlyArray<{ readonly name: string; readonly data: Uint8Array }>, options: ExecuteOptions = {}): Promise<void> {
    await this.connect();
    const chunk = (data: Uint8Array) => ({ data, crc: BigInt(crc32(data)) });
    const base = { sessionId: this.sessionId, userContext: this.userContext, clientType: this.clientType, ...this.observedSession };
    const requests: Array<MessageShape<typeof AddArtifactsRequestSchema>> = [];
    const small = artifacts.filter((a) => a.data.length <= ARTIFACT_CHUNK_BYTES);
    if (small.length > 0) {
      requests.push(create(AddArtifactsRequestSchema, { ...base, payload: { case: 'batch', value: { artifacts: small.map((a) => ({ name: a.name, data: chunk(a.data) })) } } }));
    }
    for (const a of artifacts.filter((x) => x.data.length > ARTIFACT_CHUNK_BYTES)) {
      const parts: Uint8Array[] = [];
      for (let at = 0; at < a.data.length; at += ARTIFACT_CHUNK_BYTES) parts.push(a.data.subarray(at, at + ARTIFACT_CHUNK_BYTES));
      requests.push(
        create(AddArtifactsRequestSchema, {
          ...base,
          payload: { case: 'beginChunk', value: { name: a.name, totalBytes: BigInt(a.data.length), numChunks: BigInt(parts.length), initialChunk: chunk(parts[0]!) } },
        }),
      );
      for (const p of parts.slice(1)) requests.push(create(AddArtifactsRequestSchema, { ...base, payload: { case: 'chunk', value: chunk(p) } }));
    }
    const response = await new Promise<MessageShape<typeof AddArtifactsResponseSchema>>((resolve, reject) => {
      const call = this.client.makeClientStreamRequest(
        `${SERVICE}/AddArtifacts`,
        (m: MessageShape<typeof AddArtifactsRequestSchema>) => Buffer.from(toBinary(AddArtifactsRequestSchema, m)),
        (b: Buffer) => fromBinary(AddArtifactsResponseSchema, b),
        new grpc.Metadata(),
        this.callOptions(options),
        (err, value) => (err !== null || value === undefined ? reject(toSparkError(err!, this.remote)) : resolve(value)),
      );
      for (const r of requests) call.write(r);
      call.end();
    });
    const bad = response.artifacts.filter((a) => !a.isCrcSuccessful).map((a) => a.name);
    if (bad.length > 0) throw new SparkError(`Spark Connect: the server found these artifacts corrupt (CRC): ${bad.join(', ')}`);
  }

  /** Releases the server-side session and closes the channel. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.connected) {
        const request = create(ReleaseSessionRequestSchema, { sessionId: this.sessionId, userContext: this.userContext, clientType: this.clientType });
        await this.unary(`${SERVICE}/ReleaseSession`, request, ReleaseSessionRequestSchema, ReleaseSessionResponseSchema, 5000).catch(() => undefined);
      }
    } finally {
      this.closed = true;
      this.client.close();
    }
  }

  private unary<I extends DescMessage, O extends DescMessage>(
    path: string,
    request: MessageShape<I>,
    inSchema: I,
    outSchema: O,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<MessageShape<O>> {
    return new Promise<MessageShape<O>>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = this.client.makeUnaryRequest(
        path,
        (m: MessageShape<I>) => Buffer.from(toBinary(inSchema, m)),
        (b: Buffer) => fromBinary(outSchema, b),
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (signal?.aborted) reject(this.interruptedError(signal));
          else if (err !== null || value === undefined) reject(toSparkError(err!, this.remote));
          else resolve(value);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private interruptedError(signal: AbortSignal | undefined): SparkInterruptedError {
    const why = signal?.reason instanceof Error ? `: ${signal.reason.message}` : '';
    return new SparkInterruptedError(`Spark operation interrupted${why}`);
  }
}

/**
 * Whether a TCP connection to host:port is accepted within a second (a refused or silent port:
 * false). Tells "nothing there" from "something there that did not speak Spark Connect".
 */
export function acceptsConnections(host: string, port: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: host.replace(/^\[(.*)\]$/, '$1'), port, timeout: 1000, ...(signal === undefined ? {} : { signal }) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
