/**
 * Objects in S3 (or an S3-compatible store) as inputs: `s3://bucket/prefix` and `s3a://…`,
 * read with the AWS SDK for JavaScript v3. Loaded only when a path is an S3 URL, so local
 * runs never load the SDK.
 *
 * - Settings: the default credential chain (environment, shared profile, web identity),
 *   `AWS_REGION` (else `AWS_DEFAULT_REGION`, else us-east-1, following region redirects), and
 *   an endpoint (`--s3-endpoint`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`) with
 *   path-style access for S3-compatible stores. No secret is held here or put in a message.
 * - Listing: ListObjectsV2 with pagination; keys in UTF-8 byte order.
 * - Reading: one streamed ranged GET per object or run of its bytes (S3RangeReader; the
 *   parallel engine's main thread feeds its workers from it), pinned to the ETag seen at
 *   listing (If-Match: an object rewritten while it is read fails the run), reopened where it
 *   stopped with exponential backoff on throttling, 5xx, timeouts, dropped connections and
 *   short bodies. Errors name the object, never a credential.
 */
import { GetObjectCommand, HeadObjectCommand, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { InputError, changedWhileRead } from '../errors.js';
import { parseS3Url, type S3Object, type S3Settings } from './s3-url.js';
import { DirectGetHandler, isDirectBody, type BodyReader } from './s3-get.js';

// The SDK warns on every run under Node 20 about its future releases: not the user's concern here (package.json pins it).
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const clients = new Map<string, S3Client>();

const TIMEOUTS = { connectionTimeout: 10_000, requestTimeout: 60_000 };

/**
 * A GET of at least this many bytes goes through the direct transport (its body read straight
 * into the reader's buffers); a smaller one through the SDK's, whose kept-alive connections
 * spare a small object the new connection (and TLS handshake) a direct GET opens.
 */
export const DIRECT_FROM_BYTES = 1 << 20;

/**
 * One client per settings and use, per thread: `requests` (listing, HEAD and GETs of less
 * than DIRECT_FROM_BYTES: the SDK's own transport, connections kept alive), `bulk` (GETs of
 * more: the direct transport of s3-get.ts, a connection per GET). Neither asks for a
 * response checksum: a ranged GET has none to check.
 */
export function clientFor(s: S3Settings, use: 'requests' | 'bulk' = 'requests'): S3Client {
  const id = `${use}\n${s.region}\n${s.endpoint ?? ''}`;
  let c = clients.get(id);
  if (c === undefined) {
    c = new S3Client({
      region: s.region,
      ...(s.endpoint === undefined ? { followRegionRedirects: true } : { endpoint: s.endpoint, forcePathStyle: true }),
      // The SDK retries a failed request before its body; block reads below also retry a body cut short.
      maxAttempts: 3,
      // Every GET is ranged, and a range has no checksum of its own to check: a store that
      // answers one with the whole object's (gofakes3, for an object put with a checksum)
      // failed the SDK's validation. The ETag and Content-Range are checked instead (open()).
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
      ...(use === 'bulk' ? { requestHandler: new DirectGetHandler(TIMEOUTS) } : { requestHandler: TIMEOUTS }),
    });
    clients.set(id, c);
  }
  return c;
}

interface Failure {
  readonly why: string;
  readonly retry: boolean;
}

const RETRY_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'TooManyRequestsException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable']);

/** What went wrong, in words that name no credential, and whether trying again may help. */
export function classify(err: unknown): Failure {
  const e = err as { name?: string; code?: string; Code?: string; $metadata?: { httpStatusCode?: number }; message?: string };
  const name = e.Code ?? e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  switch (name) {
    case 'NoSuchBucket':
      return { why: 'no such bucket', retry: false };
    case 'NoSuchKey':
    case 'NotFound':
      return { why: 'no such key', retry: false };
    case 'AccessDenied':
    case 'Forbidden':
    case 'AllAccessDisabled':
      return { why: 'access denied', retry: false };
    case 'InvalidAccessKeyId':
      return { why: 'the store does not know the access key id (check the AWS credentials)', retry: false };
    case 'SignatureDoesNotMatch':
      return { why: 'the request signature does not match (check the AWS secret access key)', retry: false };
    case 'ExpiredToken':
    case 'InvalidToken':
      return { why: 'the AWS session token is expired or invalid', retry: false };
    case 'PreconditionFailed':
    case 'ChangedObject':
      return { why: 'the object changed while it was read (its ETag no longer matches); nothing was written: run again once it is complete', retry: false };
    case 'CredentialsProviderError':
      return { why: 'no AWS credentials found (environment, shared profile or web identity)', retry: false };
    case 'ShortRead':
      return { why: 'the connection ended before the whole range arrived', retry: true };
    case 'WrongRange':
      // A store that ignores Range (answering the whole object) would hand every shard the object's first bytes.
      return { why: `the store answered a ranged read with other bytes (${e.message ?? ''}); an S3-compatible store must support Range requests`, retry: false };
  }
  if (THROTTLING.has(name)) return { why: `the store is throttling or unavailable (${name})`, retry: true };
  if (status !== undefined) {
    // A code of the store's own (a 404 for an unknown user, say) is said as it is, not guessed at.
    const own = name === '' || name === 'UnknownError' || name === 'Unknown' ? '' : ` (the store answered HTTP ${status}, ${name})`;
    if (status === 404) return { why: `no such key${own}`, retry: false };
    if (status === 403) return { why: `access denied${own}`, retry: false };
    if (status === 412) return { why: 'the object changed while it was read (its ETag no longer matches); nothing was written: run again once it is complete', retry: false };
    if (status === 429 || status >= 500) return { why: `the store answered HTTP ${status}`, retry: true };
    return { why: `the store answered HTTP ${status}${name === '' ? '' : ` (${name})`}`, retry: false };
  }
  const code = e.code ?? '';
  if (RETRY_CODES.has(code) || name === 'TimeoutError' || /socket hang up|aborted|premature close|terminated/i.test(e.message ?? '')) {
    return { why: `the connection to the store failed (${code || name || 'connection lost'})`, retry: true };
  }
  // A bare Error's name says nothing: its message then (the SDK's own words, e.g. a checksum that does not match).
  const what = code || (name !== '' && name !== 'Error' ? name : '') || (e.message ?? '').split('\n')[0]!.slice(0, 200) || 'unknown error';
  return { why: `request failed (${what})`, retry: false };
}

/** Attempts per request (the first and its retries), and the first backoff. */
export const S3_ATTEMPTS = 6;
const FIRST_BACKOFF_MS = 100;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', stop);
      resolve();
    }
    function stop() {
      clearTimeout(t);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', stop, { once: true });
  });
}

/** Runs `op` with retries and exponential backoff (with jitter) while its failure is retryable. */
async function withRetries<T>(what: string, op: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const f = classify(err);
      if (!f.retry || attempt >= S3_ATTEMPTS) {
        throw new InputError(`cannot read ${what}: ${f.why}${f.retry ? ` (after ${attempt} attempts)` : ''}`);
      }
      const base = FIRST_BACKOFF_MS * 2 ** (attempt - 1);
      await sleep(base / 2 + Math.random() * base, signal);
    }
  }
}

export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
}

/**
 * What an S3 URL names: the object with exactly that key (a file named as an argument), else
 * every object under `prefix/` (a directory, listed with pagination). Keys ending in `/` (the
 * folder markers consoles create) are no objects. A URL that names neither is an InputError.
 */
export async function listS3(path: string, settings: S3Settings, signal?: AbortSignal): Promise<{ file: ListedObject } | { dir: string; objects: ListedObject[] }> {
  const { bucket, prefix } = parseS3Url(path);
  const client = clientFor(settings);
  const dir = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const objects: ListedObject[] = [];
  let any = false;
  await withRetries(path, async () => {
    objects.length = 0;
    any = false;
    for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: dir }, { abortSignal: signal })) {
      for (const o of page.Contents ?? []) {
        any = true;
        if (o.Key === undefined || o.Key.endsWith('/')) continue;
        objects.push({ key: o.Key, size: Number(o.Size ?? 0), etag: o.ETag });
      }
    }
  }, signal);
  // A bucket is a directory even when empty; a prefix is one only when something is under it
  // (an object or a folder marker): otherwise the URL names nothing (README decision 27).
  if (any || prefix === '') return { dir, objects };
  if (dir === prefix) throw new InputError(`cannot read input ${path}: no such key or prefix`);
  // No object under `prefix/`: the URL may name one object.
  try {
    const head = await withRetries(path, () => client.send(new HeadObjectCommand({ Bucket: bucket, Key: prefix }), { abortSignal: signal }), signal);
    return { file: { key: prefix, size: Number(head.ContentLength ?? 0), etag: head.ETag } };
  } catch (err) {
    if (err instanceof InputError && /no such key/.test(err.message)) throw new InputError(`cannot read input ${path}: no such key or prefix`);
    throw err;
  }
}

/**
 * Whether an object is still the one listed (its ETag and size): for reads that mr cannot pin
 * to the listing's ETag itself (the spark engine's, through S3A). A missing object, or one
 * whose ETag or size changed, is an InputError naming it.
 */
export async function checkObjectUnchanged(object: S3Object, path: string, signal?: AbortSignal): Promise<void> {
  let head;
  try {
    head = await withRetries(path, () => clientFor(object).send(new HeadObjectCommand({ Bucket: object.bucket, Key: object.key }), { abortSignal: signal }), signal);
  } catch (err) {
    if (err instanceof InputError && /no such key/.test(err.message)) throw changedWhileRead(path, 'it is gone');
    throw err;
  }
  if (Number(head.ContentLength ?? -1) !== object.size) throw changedWhileRead(path, `size ${object.size} → ${String(head.ContentLength)} bytes`);
  if (object.etag !== undefined && head.ETag !== object.etag) throw changedWhileRead(path, 'its ETag no longer matches');
}

/** Bytes a stream reads past its range's limit, so that a shard's last line (past its end) comes on the same GET. */
const TAIL_BYTES = 256 << 10;
/** Bytes delivered since a reader's last failure after which its earlier failures stop counting against S3_ATTEMPTS. */
const PROGRESS_BYTES = 1 << 20;

/**
 * Reads one object's bytes at increasing positions, as `readSync` reads a file, from one
 * streamed GET of [origin, limit + a tail) at a time (as Hadoop's S3A reads a split): the
 * bytes are copied from the response into the caller's buffer as they arrive, so a reader
 * holds no block of its own (the socket's buffers are its read-ahead), and a run of bytes
 * costs one GET, not one per block. A read at another position than the stream's (a seek)
 * opens a new GET there. A failure (a dropped connection, a body cut short, throttling, 5xx)
 * drops the stream and the next read opens a new one at the first byte not yet delivered,
 * after a backoff; S3_ATTEMPTS failures with less than PROGRESS_BYTES delivered between them
 * fail the run, as do access denied, a missing key or a changed ETag at once.
 */
export class S3RangeReader {
  private readonly abort = new AbortController();
  private readonly limit: number;
  /** The open GET's body, the position of its next byte and its end (exclusive). */
  private body: { readonly source: BodyReader; at: number; readonly end: number } | null = null;
  /** A failure the last read ended on after delivering bytes, dealt with by the next read. */
  private failed: unknown = null;
  private failures = 0;
  private sinceFailure = 0;

  constructor(
    private readonly object: S3Object,
    /** The input's path, for messages. */
    private readonly path: string,
    private readonly origin = 0,
    limit = object.size,
    signal?: AbortSignal,
  ) {
    this.limit = Math.min(limit, object.size);
    if (signal !== undefined) {
      if (signal.aborted) this.abort.abort(signal.reason);
      else {
        // Taken off at close(): the run's signal outlives every object's reader (one listener
        // left per object passed Node's limit of 10 at the eleventh object, with a warning).
        const onAbort = () => this.abort.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        this.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
    }
  }

  private unlisten = (): void => undefined;

  /** Bytes at `pos` into buf[off, off + len): how many (0 at the object's end); fills the range unless the object ends or the stream fails. */
  readonly readAt = async (buf: Buffer, off: number, len: number, pos: number): Promise<number> => {
    if (pos >= this.object.size || len <= 0) return 0;
    for (;;) {
      if (this.failed !== null) {
        const err = this.failed;
        this.failed = null;
        await this.failure(err);
      }
      try {
        if (this.body === null || this.body.at !== pos || this.body.at >= this.body.end) await this.open(pos);
        const n = await this.fill(buf, off, len);
        this.sinceFailure += n;
        if (this.sinceFailure >= PROGRESS_BYTES) this.failures = 0;
        return n;
      } catch (err) {
        this.drop();
        await this.failure(err);
      }
    }
  };

  /** Stops what is in flight. */
  close(): void {
    this.unlisten();
    this.abort.abort(new Error('closed'));
    this.drop();
  }

  /** Counts a failure: throws when it is final, else waits the backoff. */
  private async failure(err: unknown): Promise<void> {
    if (this.abort.signal.aborted) throw this.abort.signal.reason;
    const f = classify(err);
    this.failures++;
    this.sinceFailure = 0;
    if (!f.retry || this.failures >= S3_ATTEMPTS) {
      throw new InputError(`cannot read ${this.path}: ${f.why}${f.retry ? ` (after ${this.failures} attempts)` : ''}`);
    }
    const base = FIRST_BACKOFF_MS * 2 ** (this.failures - 1);
    await sleep(base / 2 + Math.random() * base, this.abort.signal);
  }

  /** One GET from `pos`: to the limit and a tail past it, or (a read before the origin or past the limit) a tail's worth. */
  private async open(pos: number): Promise<void> {
    this.drop();
    const inRange = pos >= this.origin && pos < this.limit;
    const end = Math.min(this.object.size, (inRange ? this.limit : pos) + TAIL_BYTES);
    const { bucket, key, etag } = this.object;
    const r = await clientFor(this.object, end - pos >= DIRECT_FROM_BYTES ? 'bulk' : 'requests').send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${pos}-${end - 1}`, IfMatch: etag }), { abortSignal: this.abort.signal });
    if (r.Body === undefined) throw Object.assign(new Error('no body'), { name: 'ShortRead' });
    // The direct transport's body is read straight into the caller's buffers; any other as a stream.
    const source = isDirectBody(r.Body) ? r.Body : new StreamSource(r.Body as AsyncIterable<Uint8Array> & { destroy(): void });
    // A store that ignores If-Match (some S3-compatible ones answer 200 whatever it says) still
    // names the version it sends: another ETag, or another size in Content-Range, is a rewrite.
    if (etag !== undefined && r.ETag !== undefined && r.ETag !== etag) {
      source.destroy();
      throw Object.assign(new Error(`ETag ${r.ETag}, listed ${etag}`), { name: 'ChangedObject' });
    }
    this.checkRange(pos, end, r.ContentRange, Number(r.ContentLength ?? -1), () => source.destroy());
    this.body = { source, at: pos, end };
  }

  /**
   * The bytes must be the ones asked for: 206 with Content-Range `bytes pos-(end-1)/size`, or
   * (a store that ignores Range) the whole object when the whole object was asked for.
   */
  private checkRange(pos: number, end: number, contentRange: string | undefined, length: number, drop: () => void): void {
    const total = contentRange === undefined ? undefined : /\/(\d+)$/.exec(contentRange)?.[1];
    if (total !== undefined && Number(total) !== this.object.size) {
      drop();
      throw Object.assign(new Error(`Content-Range ${contentRange}, listed size ${this.object.size}`), { name: 'ChangedObject' });
    }
    const asked = contentRange === undefined ? pos === 0 && length === end : contentRange.startsWith(`bytes ${pos}-${end - 1}/`) && (length < 0 || length === end - pos);
    if (asked) return;
    drop();
    throw Object.assign(new Error(`asked for bytes ${pos}-${end - 1}, got ${contentRange === undefined ? 'no Content-Range' : `Content-Range ${contentRange}`}`), { name: 'WrongRange' });
  }

  /**
   * Reads the GET's next bytes into buf[off, off + len) until it is full or the GET's range
   * ends: how many (at least one, or it throws). A failure after some bytes ends the read with
   * them, and is dealt with by the next read.
   */
  private async fill(buf: Buffer, off: number, len: number): Promise<number> {
    const b = this.body!;
    let n = 0;
    try {
      while (n < len && b.at < b.end) {
        const k = await b.source.readInto(buf, off + n, Math.min(len - n, b.end - b.at));
        if (k === 0) throw Object.assign(new Error('short body'), { name: 'ShortRead' });
        n += k;
        b.at += k;
      }
    } catch (err) {
      if (n === 0) throw err;
      this.drop();
      this.failed = err;
    }
    return n;
  }

  private drop(): void {
    if (this.body === null) return;
    this.body.source.destroy();
    this.body = null;
  }
}

/** The SDK's response stream as a BodyReader: its chunks copied out (as many bytes as one chunk holds, up to len), the rest of one kept for the next read. */
class StreamSource implements BodyReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private rest: Uint8Array | null = null;

  constructor(private readonly stream: AsyncIterable<Uint8Array> & { destroy(): void }) {
    this.it = stream[Symbol.asyncIterator]();
  }

  async readInto(buf: Uint8Array, off: number, len: number): Promise<number> {
    let chunk = this.rest;
    this.rest = null;
    if (chunk === null) {
      const next = await this.it.next();
      if (next.done) return 0;
      chunk = next.value;
    }
    const k = Math.min(len, chunk.length);
    buf.set(k === chunk.length ? chunk : chunk.subarray(0, k), off);
    if (k < chunk.length) this.rest = chunk.subarray(k);
    return k;
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/** Bytes per chunk of objectChunks. */
const CHUNK_BYTES = 1 << 20;

/** The object's bytes [start, end) in order, as chunks (for the naive engine and gzip objects): one streamed GET. */
export async function* objectChunks(object: S3Object, path: string, opts: { start?: number; end?: number; signal?: AbortSignal } = {}): AsyncGenerator<Buffer> {
  const start = opts.start ?? 0;
  const end = Math.min(opts.end ?? object.size, object.size);
  const reader = new S3RangeReader(object, path, start, end, opts.signal);
  try {
    for (let pos = start; pos < end; ) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, end - pos));
      const n = await reader.readAt(buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  } finally {
    reader.close();
  }
}
