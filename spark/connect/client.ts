/**
 * A small Spark Connect client: ExecutePlan over gRPC (@grpc/grpc-js), messages from the
 * generated protobuf subset (spark/proto), results decoded from Arrow IPC (apache-arrow).
 *
 * One client is one Spark session (a random session id, a user id). Server errors become
 * SparkError subclasses with Spark's own message; an unreachable server fails fast with a
 * message that says how to start the local cluster; an AbortSignal cancels the call and
 * interrupts the operation on the server.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { Table, tableFromIPC, type RecordBatch } from 'apache-arrow';
import {
  ExecutePlanRequestSchema,
  ExecutePlanResponseSchema,
  InterruptRequestSchema,
  InterruptRequest_InterruptType,
  InterruptResponseSchema,
  PlanSchema,
  ReleaseSessionRequestSchema,
  ReleaseSessionResponseSchema,
  type ExecutePlanResponse,
  type Plan,
} from '../proto/gen/spark/connect/base_pb.js';
import type { Relation } from '../proto/gen/spark/connect/relations_pb.js';
import type { Command } from '../proto/gen/spark/connect/commands_pb.js';
import { ErrorInfoSchema, StatusSchema } from '../proto/gen/google/rpc/status_pb.js';
import {
  SparkAnalysisError,
  SparkConnectionError,
  SparkError,
  SparkExecutionError,
  SparkInterruptedError,
  SparkTimeoutError,
} from './errors.js';

export const DEFAULT_REMOTE = 'sc://127.0.0.1:15002';
const DEFAULT_PORT = 15002;
const SERVICE = '/spark.connect.SparkConnectService';
const CLIENT_TYPE = 'mr-ts/0.1';
export const START_HINT = 'start the local cluster with `mr spark up` (or point --remote / SPARK_REMOTE at a running Spark Connect server)';

export interface RemoteAddress {
  readonly host: string;
  readonly port: number;
  /** `;key=value` parameters of the connection string (user_id, token, use_ssl, …). */
  readonly params: Readonly<Record<string, string>>;
}

/** Parses a Spark Connect connection string `sc://host[:port][/;key=value;…]`. */
export function parseRemote(remote: string): RemoteAddress {
  const m = /^sc:\/\/(\[[^\]]+\]|[^:/;]+)(?::(\d+))?\/?(;.*)?$/.exec(remote.trim());
  if (m === null) throw new SparkError(`invalid Spark Connect address ${JSON.stringify(remote)}: expected sc://HOST:PORT`);
  const port = m[2] === undefined ? DEFAULT_PORT : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SparkError(`invalid port in Spark Connect address ${JSON.stringify(remote)}`);
  const params: Record<string, string> = {};
  for (const part of (m[3] ?? '').split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new SparkError(`invalid parameter ${JSON.stringify(part)} in Spark Connect address ${JSON.stringify(remote)}`);
    params[decodeURIComponent(part.slice(0, eq))] = decodeURIComponent(part.slice(eq + 1));
  }
  return { host: m[1]!, port, params };
}

/** The remote to use: an explicit one, else SPARK_REMOTE, else sc://127.0.0.1:15002. */
export function resolveRemote(explicit: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const fromEnv = env['SPARK_REMOTE'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_REMOTE;
}

export interface SparkConnectOptions {
  /** Connection string, e.g. sc://127.0.0.1:15002. */
  readonly remote: string;
  /** User id sent in UserContext (default: `user_id` parameter of the remote, else the OS user, else "mr"). */
  readonly userId?: string;
  /** Milliseconds to wait for the server to accept the connection (default 5000). */
  readonly connectTimeoutMs?: number;
}

export interface ExecuteOptions {
  readonly signal?: AbortSignal;
  /** Deadline for the whole call, in milliseconds (default: none). */
  readonly timeoutMs?: number;
}

type Status = grpc.status;

export class SparkConnectClient {
  readonly sessionId = randomUUID();
  readonly userId: string;
  readonly remote: string;
  private readonly address: RemoteAddress;
  private readonly client: grpc.Client;
  private readonly connectTimeoutMs: number;
  private serverSideSessionId: string | undefined;
  private connected = false;
  private closed = false;

  constructor(options: SparkConnectOptions) {
    this.remote = options.remote;
    this.address = parseRemote(options.remote);
    this.userId = options.userId ?? this.address.params['user_id'] ?? process.env['USER'] ?? 'mr';
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    const useSsl = this.address.params['use_ssl'] === 'true' || this.address.params['token'] !== undefined;
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

  /** Waits until the server accepts the connection; SparkConnectionError (with how to start it) otherwise. */
  async connect(): Promise<void> {
    if (this.connected) return;
    if (this.closed) throw new SparkError('the Spark Connect client is closed');
    const deadline = Date.now() + this.connectTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      this.client.waitForReady(deadline, (err) => {
        if (err === undefined || err === null) resolve();
        else {
          reject(
            new SparkConnectionError(
              `cannot reach the Spark Connect server at ${this.remote} (no answer within ${this.connectTimeoutMs} ms): ${START_HINT}`,
              { cause: err },
            ),
          );
        }
      });
    });
    this.connected = true;
  }

  /** Runs a relation and returns its rows as one Arrow table (null for a result without Arrow data). */
  async collect(relation: Relation, options: ExecuteOptions = {}): Promise<Table | null> {
    return this.execute(create(PlanSchema, { opType: { case: 'root', value: relation } }), options);
  }

  /** Runs a command (e.g. create a temporary view). */
  async command(command: Command, options: ExecuteOptions = {}): Promise<void> {
    await this.execute(create(PlanSchema, { opType: { case: 'command', value: command } }), options);
  }

  /** Starts an ExecutePlan call for `plan` under a new operation id (connecting first). */
  private async startExecute(plan: Plan, options: ExecuteOptions): Promise<{ call: grpc.ClientReadableStream<ExecutePlanResponse>; operationId: string }> {
    options.signal?.throwIfAborted();
    await this.connect();
    const operationId = randomUUID();
    const request = create(ExecutePlanRequestSchema, {
      sessionId: this.sessionId,
      userContext: { userId: this.userId, userName: this.userId },
      operationId,
      plan,
      clientType: CLIENT_TYPE,
      ...(this.serverSideSessionId === undefined ? {} : { clientObservedServerSideSessionId: this.serverSideSessionId }),
    });
    const callOptions: grpc.CallOptions = options.timeoutMs === undefined ? {} : { deadline: Date.now() + options.timeoutMs };
    const call = this.client.makeServerStreamRequest(
      `${SERVICE}/ExecutePlan`,
      (m: typeof request) => Buffer.from(toBinary(ExecutePlanRequestSchema, m)),
      (b: Buffer) => fromBinary(ExecutePlanResponseSchema, b),
      request,
      new grpc.Metadata(),
      callOptions,
    );
    return { call, operationId };
  }

  /** ExecutePlan: streams the responses and gathers the Arrow batches. */
  async execute(plan: Plan, options: ExecuteOptions = {}): Promise<Table | null> {
    const { call, operationId } = await this.startExecute(plan, options);
    const batches: RecordBatch[] = [];
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      call.cancel();
      // Best effort: stop the work on the cluster too, not only the stream.
      void this.interrupt(operationId).catch(() => undefined);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        call.on('data', (r: ExecutePlanResponse) => {
          if (r.serverSideSessionId !== '') this.serverSideSessionId = r.serverSideSessionId;
          if (r.responseType.case === 'arrowBatch') {
            const data = r.responseType.value.data;
            if (data.length > 0) for (const b of tableFromIPC(data).batches) batches.push(b);
          }
        });
        call.on('error', (err: grpc.ServiceError) => reject(aborted ? this.interruptedError(options.signal) : this.toSparkError(err)));
        call.on('end', () => resolve());
      });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (batches.length === 0) return null;
    return new Table(batches);
  }

  /**
   * Runs a relation and yields its Arrow record batches as they arrive, holding at most a few
   * undelivered responses (the gRPC stream is paused while the consumer is behind), so a
   * result of any size passes through bounded memory. Stopping the iteration early cancels
   * the call and interrupts the operation on the server.
   */
  async *stream(relation: Relation, options: ExecuteOptions = {}): AsyncGenerator<RecordBatch> {
    const plan = create(PlanSchema, { opType: { case: 'root', value: relation } });
    const { call, operationId } = await this.startExecute(plan, options);
    const HIGH_WATER = 4;
    const queue: Uint8Array[] = [];
    let ended = false;
    let failure: unknown = null;
    let aborted = false;
    let wake: (() => void) | null = null;
    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    call.on('data', (r: ExecutePlanResponse) => {
      if (r.serverSideSessionId !== '') this.serverSideSessionId = r.serverSideSessionId;
      if (r.responseType.case === 'arrowBatch' && r.responseType.value.data.length > 0) {
        queue.push(r.responseType.value.data);
        if (queue.length >= HIGH_WATER) call.pause();
        notify();
      }
    });
    call.on('error', (err: grpc.ServiceError) => {
      failure = aborted ? this.interruptedError(options.signal) : this.toSparkError(err);
      notify();
    });
    call.on('end', () => {
      ended = true;
      notify();
    });
    const onAbort = () => {
      aborted = true;
      call.cancel();
      void this.interrupt(operationId).catch(() => undefined);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let complete = false;
    try {
      for (;;) {
        if (queue.length > 0) {
          const data = queue.shift()!;
          if (queue.length < HIGH_WATER) call.resume();
          for (const b of tableFromIPC(data).batches) yield b;
          continue;
        }
        if (failure !== null) throw failure;
        if (ended) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      complete = true;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      if (!complete && !ended && failure === null) {
        call.cancel();
        void this.interrupt(operationId).catch(() => undefined);
      }
    }
  }

  /** Interrupts one operation of this session, or all of them. */
  async interrupt(operationId?: string): Promise<string[]> {
    const request = create(InterruptRequestSchema, {
      sessionId: this.sessionId,
      userContext: { userId: this.userId, userName: this.userId },
      clientType: CLIENT_TYPE,
      interruptType: operationId === undefined ? InterruptRequest_InterruptType.ALL : InterruptRequest_InterruptType.OPERATION_ID,
      interrupt: operationId === undefined ? { case: undefined } : { case: 'operationId', value: operationId },
    });
    const response = await this.unary(`${SERVICE}/Interrupt`, request, InterruptRequestSchema, InterruptResponseSchema, 5000);
    return response.interruptedIds;
  }

  /** Releases the server-side session and closes the channel. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.connected) {
        const request = create(ReleaseSessionRequestSchema, {
          sessionId: this.sessionId,
          userContext: { userId: this.userId, userName: this.userId },
          clientType: CLIENT_TYPE,
        });
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
  ): Promise<MessageShape<O>> {
    return new Promise<MessageShape<O>>((resolve, reject) => {
      this.client.makeUnaryRequest(
        path,
        (m: MessageShape<I>) => Buffer.from(toBinary(inSchema, m)),
        (b: Buffer) => fromBinary(outSchema, b),
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, value) => (err !== null || value === undefined ? reject(this.toSparkError(err!)) : resolve(value)),
      );
    });
  }

  private interruptedError(signal: AbortSignal | undefined): SparkInterruptedError {
    const why = signal?.reason instanceof Error ? `: ${signal.reason.message}` : '';
    return new SparkInterruptedError(`Spark operation interrupted${why}`);
  }

  /** A gRPC failure as a SparkError with the server's own message and error class. */
  toSparkError(err: grpc.ServiceError): SparkError {
    const code: Status = err.code;
    let reason: string | undefined;
    let errorClass: string | undefined;
    let classes: string[] = [];
    const detailsBin = err.metadata?.get('grpc-status-details-bin')[0];
    if (detailsBin instanceof Buffer) {
      try {
        const status = fromBinary(StatusSchema, detailsBin);
        for (const any of status.details) {
          if (!any.typeUrl.endsWith('/google.rpc.ErrorInfo')) continue;
          const info = fromBinary(ErrorInfoSchema, any.value);
          reason = info.reason;
          errorClass = info.metadata['errorClass'];
          try {
            const parsed: unknown = JSON.parse(info.metadata['classes'] ?? '[]');
            if (Array.isArray(parsed)) classes = parsed.filter((c): c is string => typeof c === 'string');
          } catch {
            // classes is informative only
          }
        }
      } catch {
        // Undecodable details: fall back to the status text.
      }
    }
    // Spark appends the analyzed plan after the first line: keep the message, drop the plan.
    const text = (err.details || err.message).split('\n')[0]!;
    const opts = { grpcCode: code, cause: err, ...(errorClass === undefined ? {} : { errorClass }) };
    const names = [reason ?? '', ...classes];
    if (code === grpc.status.UNAVAILABLE) {
      return new SparkConnectionError(`cannot reach the Spark Connect server at ${this.remote} (${text}): ${START_HINT}`, opts);
    }
    if (code === grpc.status.DEADLINE_EXCEEDED) return new SparkTimeoutError(`Spark call to ${this.remote} timed out: ${text}`, opts);
    if (code === grpc.status.CANCELLED || errorClass === 'OPERATION_CANCELED') return new SparkInterruptedError(`Spark operation interrupted: ${text}`, opts);
    if (names.some((n) => /AnalysisException|ParseException/.test(n))) return new SparkAnalysisError(`Spark analysis error: ${text}`, opts);
    return new SparkExecutionError(`Spark error: ${text}`, opts);
  }
}
