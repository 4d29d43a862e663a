/**
 * The HTTP transport of the AWS SDK client that reads objects (a `requestHandler`): the hot
 * path under every object read (README decision 43). Everything S3 is the SDK's: signing
 * (SigV4 headers, the credential chain), endpoints, retries of a failed request, redirects,
 * and errors parsed from the store's answer. This only sends the signed request on a
 * connection of its own and hands back the response, whose body (DirectBody) a reader can
 * have the socket read straight into its own buffers (`readInto`), or read as a stream as
 * the SDK reads any body.
 *
 * Measured on 1 GiB from a local store: the SDK's own transport cost the parallel engine's
 * main thread about 0.9 s of CPU per GiB over a local file's run (a fresh 64 KiB buffer per
 * socket read, stream and promise machinery per chunk, a copy into the feed's chunks, and the
 * collections of those buffers), on the cores the workers scan with; a socket reading into
 * the destination (Node's `onread`) costs about 0.2 s per GiB there.
 *
 * HTTP/1.1, `Connection: close` (one connection per GET: a reader streams one GET for a long
 * run of bytes), plain or TLS as the request says. A request other than a GET, or an answer
 * not framed by a plain Content-Length (chunked, encoded), goes through the SDK's own Node
 * transport instead (the GET is sent again there).
 */
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { Readable } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpHandlerOptions, HttpResponse, RequestHandler, RequestHandlerOutput } from '@smithy/types';

/** The request the SDK hands its transport (signed). */
type HttpRequest = Parameters<NodeHttpHandler['handle']>[0];

/** Bytes of status line and headers accepted. */
const MAX_HEAD_BYTES = 64 << 10;
/** Bytes a body read as a stream reads at a time. */
const STREAM_READ_BYTES = 64 << 10;

interface GetHead {
  readonly status: number;
  readonly reason: string;
  /** Header names in lower case. */
  readonly headers: Record<string, string>;
}

/**
 * A GET's body read into the caller's buffers: bytes into buf[off, off + len), at most len, at
 * least one unless the body is at its end (0). This transport's bodies fill the range unless
 * the body ends first; S3RangeReader reads the SDK's streams through the same shape.
 */
export interface BodyReader {
  readInto(buf: Uint8Array, off: number, len: number): Promise<number>;
  destroy(): void;
}

/** Whether a response body is this transport's (read straight into the caller's buffers). */
export function isDirectBody(body: unknown): body is BodyReader {
  return body instanceof DirectBody;
}

/** The connection and idle timeouts of a request, ms (as the SDK's Node transport takes them). */
interface Timeouts {
  readonly connectionTimeout: number;
  readonly requestTimeout: number;
}

function shortRead(): Error {
  return Object.assign(new Error('the connection ended before the whole body arrived'), { name: 'ShortRead' });
}

function connectionError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** An AbortSignal, or the SDK's older signal shape (onabort), as a listener registration. */
function onAbort(signal: HttpHandlerOptions['abortSignal'], f: () => void): () => void {
  if (signal === undefined) return () => {};
  const s = signal as AbortSignal;
  if (s.aborted) {
    queueMicrotask(f);
    return () => {};
  }
  if (typeof s.addEventListener === 'function') {
    s.addEventListener('abort', f, { once: true });
    return () => s.removeEventListener('abort', f);
  }
  const old = signal as { onabort: (() => void) | null };
  const before = old.onabort;
  old.onabort = () => {
    before?.();
    f();
  };
  return () => {};
}

function queryString(query: HttpRequest['query']): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query ?? {})) {
    const key = encodeURIComponent(k);
    if (v === null) parts.push(key);
    else for (const x of Array.isArray(v) ? v : [v]) parts.push(`${key}=${encodeURIComponent(x)}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

export class DirectGetHandler implements RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions> {
  private readonly fallback: NodeHttpHandler;

  constructor(private readonly opts: Timeouts) {
    this.fallback = new NodeHttpHandler(opts);
  }

  async handle(request: HttpRequest, options: HttpHandlerOptions = {}): Promise<RequestHandlerOutput<HttpResponse>> {
    if (request.method !== 'GET' || (request.body !== undefined && request.body !== null)) return this.fallback.handle(request, options);
    const lines = [`GET ${request.path}${queryString(request.query)} HTTP/1.1`];
    const headers = { ...request.headers };
    const names = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
    if (!names.has('host')) headers['host'] = `${request.hostname}${request.port === undefined ? '' : `:${request.port}`}`;
    headers['connection'] = 'close';
    if (!names.has('accept-encoding')) headers['accept-encoding'] = 'identity';
    for (const [k, v] of Object.entries(headers)) {
      // As Node's own HTTP client refuses them: a value from the store (an ETag) must not add lines to the request.
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n\0]/.test(String(v))) throw Object.assign(new Error(`invalid character in the request header ${JSON.stringify(k)}`), { name: 'InvalidHeader' });
      lines.push(`${k}: ${v}`);
    }
    const conn = new Connection(request, this.opts, options.abortSignal);
    conn.send(`${lines.join('\r\n')}\r\n\r\n`);
    let head: GetHead;
    try {
      head = await conn.head();
    } catch (err) {
      conn.destroy();
      throw err;
    }
    const h = head.headers;
    const length = h['content-length'];
    const plain = (h['transfer-encoding'] ?? 'identity').toLowerCase() === 'identity' && (h['content-encoding'] ?? 'identity').toLowerCase() === 'identity';
    if (length === undefined || !/^\d+$/.test(length) || !plain) {
      conn.destroy();
      return this.fallback.handle(request, options);
    }
    conn.expect(Number(length));
    return { response: { statusCode: head.status, reason: head.reason, headers: h, body: new DirectBody(conn) } };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    this.fallback.destroy();
  }
}

/** A response body: the SDK reads it as a stream (an error's XML, a small body); a reader of object bytes reads it into its own buffers. */
class DirectBody extends Readable implements BodyReader {
  constructor(private readonly conn: Connection) {
    super();
  }

  readInto(buf: Uint8Array, off: number, len: number): Promise<number> {
    return this.conn.read(buf, off, len);
  }

  override _read(): void {
    const b = Buffer.allocUnsafe(STREAM_READ_BYTES);
    this.conn.read(b, 0, b.length).then(
      (n) => this.push(n === 0 ? null : b.subarray(0, n)),
      (err: unknown) => this.destroy(err as Error),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.conn.destroy();
    cb(err);
  }
}

/** A read of the body in progress: into buf from `at` up to `end`. */
interface Target {
  readonly buf: Uint8Array;
  at: number;
  readonly end: number;
  readonly from: number;
  readonly resolve: (n: number) => void;
  readonly reject: (err: unknown) => void;
}

/** One request's connection: its head parsed, then its body read into the buffers reads give. */
class Connection {
  private readonly socket: Socket;
  /** Status line and headers while they arrive; null once they are parsed. */
  private headBuf: Uint8Array | null = new Uint8Array(16 << 10);
  private headLen = 0;
  private onHead: { resolve: (h: GetHead) => void; reject: (err: unknown) => void } | null = null;
  private parsed: GetHead | null = null;
  /** Body bytes read before a read asked for them (the head's tail, or a socket read with no target). */
  private rest: Uint8Array = new Uint8Array(0);
  private target: Target | null = null;
  private scratch: Uint8Array | null = null;
  /** What buffer() gave last: the waiting read's buffer at `at`, or null (head buffer or scratch). */
  private given: { readonly target: Target; readonly at: number } | null = null;
  /** Body bytes expected and delivered (to targets or rest). */
  private length = Infinity;
  private received = 0;
  private ended = false;
  private error: unknown = null;
  private readonly unlisten: () => void;

  constructor(request: HttpRequest, timeouts: Timeouts, signal: HttpHandlerOptions['abortSignal']) {
    const tls = request.protocol === 'https:';
    const port = request.port ?? (tls ? 443 : 80);
    const host = request.hostname.replace(/^\[|\]$/g, '');
    const onread = { buffer: () => this.buffer(), callback: (n: number) => this.delivered(n) };
    // Node's TLS sockets take `onread` as its plain ones do; its type declarations omit it (s3-get.test.ts reads over TLS).
    this.socket = tls ? connectTls({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), onread } as ConnectionOptions) : connectTcp({ host, port, onread });
    // No connection within connectionTimeout, then no byte for requestTimeout: the request fails (and is retried).
    this.socket.setTimeout(timeouts.connectionTimeout, () => this.socket.destroy(connectionError('ETIMEDOUT', 'the store did not answer in time')));
    this.socket.once('connect', () => this.socket.setTimeout(timeouts.requestTimeout));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('end', () => this.finish());
    this.socket.on('close', () => this.finish());
    this.unlisten = onAbort(signal, () => {
      this.fail((signal as AbortSignal).reason ?? Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
      this.socket.destroy();
    });
  }

  send(text: string): void {
    this.socket.write(text);
  }

  head(): Promise<GetHead> {
    if (this.parsed !== null) return Promise.resolve(this.parsed);
    if (this.error !== null) return Promise.reject(this.error);
    return new Promise((resolve, reject) => (this.onHead = { resolve, reject }));
  }

  /** From here on `length` body bytes are expected; the socket waits for reads. */
  expect(length: number): void {
    this.length = length;
    if (this.received >= length || this.ended) return;
    this.socket.pause();
  }

  read(buf: Uint8Array, off: number, len: number): Promise<number> {
    if (this.target !== null) return Promise.reject(new Error('internal: two reads of one GET body at once'));
    let n = 0;
    if (this.rest.length > 0) {
      n = Math.min(len, this.rest.length);
      buf.set(this.rest.subarray(0, n), off);
      this.rest = this.rest.subarray(n);
      if (n === len) return Promise.resolve(n);
    }
    const left = this.length - this.received;
    if (left <= 0) return Promise.resolve(n);
    if (this.error !== null || this.ended) {
      if (n > 0) return Promise.resolve(n);
      return Promise.reject(this.error ?? shortRead());
    }
    return new Promise((resolve, reject) => {
      this.target = { buf, at: off + n, end: off + Math.min(len, n + left), from: off, resolve, reject };
      this.socket.resume();
    });
  }

  destroy(): void {
    this.unlisten();
    this.socket.destroy();
    this.ended = true;
    this.settle();
  }

  /**
   * Where the socket's next read goes: the head buffer, the waiting read's buffer, or scratch.
   * Node asks for it right after each read's callback, so a read may land where this said before
   * a later read() call waited: delivered() checks which (`given`).
   */
  private buffer(): Uint8Array {
    if (this.headBuf !== null) {
      if (this.headLen === this.headBuf.length) {
        const grown = new Uint8Array(this.headBuf.length * 2);
        grown.set(this.headBuf);
        this.headBuf = grown;
      }
      this.given = null;
      return this.headBuf.subarray(this.headLen);
    }
    const t = this.target;
    if (t !== null && t.at < t.end) {
      this.given = { target: t, at: t.at };
      return t.buf.subarray(t.at, t.end);
    }
    this.given = null;
    return (this.scratch ??= new Uint8Array(64 << 10));
  }

  /** A socket read of n bytes into the buffer buffer() gave last: whether to keep reading. */
  private delivered(n: number): boolean {
    if (this.headBuf !== null) {
      this.headLen += n;
      return this.parseHead();
    }
    this.received += n;
    const t = this.target;
    const g = this.given;
    if (t !== null && g !== null && g.target === t && g.at === t.at) {
      t.at += n;
    } else {
      // Read into scratch (no read waited when the socket asked where to read): to the read waiting now, the rest kept.
      const got = this.scratch!.subarray(0, n);
      let k = 0;
      if (t !== null) {
        k = Math.min(n, t.end - t.at);
        t.buf.set(got.subarray(0, k), t.at);
        t.at += k;
      }
      if (k < n) {
        const more = new Uint8Array(this.rest.length + n - k);
        more.set(this.rest);
        more.set(got.subarray(k), this.rest.length);
        this.rest = more;
      }
    }
    if (t !== null && t.at < t.end) return true;
    if (t !== null) {
      this.target = null;
      t.resolve(t.at - t.from);
    }
    this.socket.pause();
    return false;
  }

  private parseHead(): boolean {
    const b = this.headBuf!;
    const end = Buffer.from(b.buffer, b.byteOffset, this.headLen).indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.headLen >= MAX_HEAD_BYTES) this.socket.destroy(connectionError('EPROTO', 'the store answered with an oversized head'));
      return true;
    }
    const lines = Buffer.from(b.buffer, b.byteOffset, end).toString('latin1').split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
    if (status === null) {
      this.socket.destroy(connectionError('EPROTO', 'the store answered with no HTTP status line'));
      return false;
    }
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    // The body's first bytes came with the head.
    this.rest = b.slice(end + 4, this.headLen);
    this.received = this.rest.length;
    this.headBuf = null;
    this.parsed = { status: Number(status[1]), reason: status[2] ?? '', headers };
    this.onHead?.resolve(this.parsed);
    this.onHead = null;
    this.socket.pause();
    return false;
  }

  private fail(err: unknown): void {
    this.error ??= err;
    this.settle();
  }

  private finish(): void {
    this.ended = true;
    this.settle();
  }

  /** Ends what waits on a connection that failed or ended: the head, or a read (with its bytes, if it has some). */
  private settle(): void {
    if (this.onHead !== null) {
      const h = this.onHead;
      this.onHead = null;
      h.reject(this.error ?? connectionError('ECONNRESET', 'the connection closed before the store answered'));
    }
    const t = this.target;
    if (t === null) return;
    if (this.error === null && !this.ended) return;
    this.target = null;
    if (t.at > t.from) t.resolve(t.at - t.from);
    else t.reject(this.error ?? shortRead());
  }
}
