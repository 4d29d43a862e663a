/**
 * The object reads' HTTP transport (s3-get.ts) under the real AWS SDK client, against small
 * HTTP servers on 127.0.0.1 written here byte by byte (plain and TLS), so that framing and
 * timing can be what a store may send: a head split across packets, a body trickled in
 * pieces while the reader waits between reads, chunked answers, an error's XML, a connection
 * cut mid-body. (The whole read path against a real S3 server: cli/s3.test.ts.)
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DirectGetHandler, isDirectBody } from './s3-get.js';
import { cleanupTempDirs, tempDir } from '../../../fixtures/harness.js';

afterAll(cleanupTempDirs);

/** What a test server does with one request: writes its answer on the socket (the request's head as text). */
type Answer = (socket: Socket, requestHead: string) => Promise<void> | void;

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
});

function onRequests(socket: Socket, answer: Answer): void {
  let head = '';
  const onData = (d: Buffer) => {
    head += d.toString('latin1');
    if (!head.includes('\r\n\r\n')) return;
    socket.off('data', onData);
    void Promise.resolve(answer(socket, head)).catch(() => socket.destroy());
  };
  socket.on('data', onData);
  socket.on('error', () => {});
}

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function plainServer(answer: Answer): Promise<string> {
  return `http://127.0.0.1:${await listen(createServer((s) => onRequests(s, answer)))}`;
}

function client(endpoint: string): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'test-secret' },
    requestHandler: new DirectGetHandler({ connectionTimeout: 5000, requestTimeout: 5000 }),
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Object bytes that show any misplaced byte: position-dependent. */
function objectBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8) * 13) & 0xff;
  return b;
}

function ok206(body: Buffer): string {
  return `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\nContent-Range: bytes 0-${body.length - 1}/${body.length}\r\nETag: "e"\r\n\r\n`;
}

/** Writes `body` in pieces of `piece` bytes with a pause every `every` pieces. */
async function trickle(socket: Socket, body: Buffer, piece: number, every: number, pauseMs: number): Promise<void> {
  for (let at = 0, k = 0; at < body.length; at += piece, k++) {
    socket.write(body.subarray(at, at + piece));
    if (k % every === every - 1) await sleep(pauseMs);
  }
  socket.end();
}

async function get(c: S3Client) {
  return c.send(new GetObjectCommand({ Bucket: 'b', Key: 'k e y.log', Range: 'bytes=0-' }));
}

/** Reads a DirectBody in reads of the given sizes (cycled), waiting `waitMs` between reads. */
async function readAll(body: unknown, sizes: readonly number[], total: number, waitMs: number): Promise<Buffer> {
  if (!isDirectBody(body)) throw new Error('not a direct body');
  const out = Buffer.alloc(total);
  let at = 0;
  for (let i = 0; at < total; i++) {
    const len = Math.min(sizes[i % sizes.length]!, total - at);
    const n = await body.readInto(out, at, len);
    if (n === 0) break;
    expect(n).toBe(len);
    at += n;
    if (waitMs > 0 && i % 3 === 0) await sleep(waitMs);
  }
  expect(await body.readInto(Buffer.alloc(8), 0, 8)).toBe(0);
  return out.subarray(0, at);
}

describe('DirectGetHandler (the object reads transport)', () => {
  it('sends the SDK-signed GET and reads a trickled body into the reader buffers exactly, also while the reader is slow (bytes read while no read waits are kept)', async () => {
    const body = objectBytes(700_001);
    let requestHead = '';
    const endpoint = await plainServer(async (socket, head) => {
      requestHead = head;
      const h = ok206(body);
      // The head in three packets, the body in 1,000-byte pieces with pauses.
      socket.write(h.slice(0, 9));
      await sleep(5);
      socket.write(h.slice(9, 40));
      await sleep(5);
      socket.write(h.slice(40) + body.subarray(0, 10).toString('latin1'), 'latin1');
      await trickle(socket, body.subarray(10), 1000, 40, 2);
    });
    const c = client(endpoint);
    for (const [sizes, waitMs] of [
      [[65_536, 3, 100_000, 17], 0],
      [[1 << 20], 0],
      [[4096, 250_000, 1], 15],
    ] as const) {
      const r = await get(c);
      expect(r.ContentRange).toBe(`bytes 0-${body.length - 1}/${body.length}`);
      const got = await readAll(r.Body, sizes, body.length, waitMs);
      expect(got.equals(body)).toBe(true);
    }
    // The request is the SDK's: path-style, the key escaped, signed in headers (no secret), one connection per GET.
    expect(requestHead).toMatch(/^GET \/b\/k%20e%20y\.log\?x-id=GetObject HTTP\/1\.1\r\n/);
    expect(requestHead).toMatch(/\r\nauthorization: AWS4-HMAC-SHA256 Credential=AKIATEST\//i);
    expect(requestHead).toMatch(/\r\nrange: bytes=0-\r\n/i);
    expect(requestHead).toMatch(/\r\nconnection: close\r\n/i);
    expect(requestHead).not.toContain('test-secret');
    c.destroy();
  });

  it('a body the SDK reads as a stream (transformToByteArray) arrives whole', async () => {
    const body = objectBytes(200_000);
    const endpoint = await plainServer((socket) => trickle(socket, Buffer.concat([Buffer.from(ok206(body), 'latin1'), body]), 7777, 5, 1));
    const c = client(endpoint);
    const r = await get(c);
    const bytes = await r.Body!.transformToByteArray();
    expect(Buffer.from(bytes).equals(body)).toBe(true);
    c.destroy();
  });

  it("an error answer is the SDK's error, its code from the store's XML (a status of its own when it has none)", async () => {
    const xml = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
    const endpoint = await plainServer((socket) => {
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: ${xml.length}\r\n\r\n${xml}`);
    });
    const c = client(endpoint);
    await expect(get(c)).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    c.destroy();
    const bare = await plainServer((socket) => {
      socket.end('HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\n\r\n');
    });
    const c2 = client(bare);
    await expect(get(c2)).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    c2.destroy();
  });

  it('a chunked answer goes through the SDK transport instead (the GET sent again), its bytes exact', async () => {
    const body = objectBytes(50_000);
    let requests = 0;
    const endpoint = await plainServer((socket) => {
      requests++;
      const parts = [body.subarray(0, 20_000), body.subarray(20_000)];
      socket.write(`HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\nContent-Range: bytes 0-${body.length - 1}/${body.length}\r\n\r\n`);
      for (const p of parts) socket.write(Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]));
      socket.end('0\r\n\r\n');
    });
    const c = client(endpoint);
    const r = await get(c);
    expect(isDirectBody(r.Body)).toBe(false);
    expect(Buffer.from(await r.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(requests).toBe(2);
    c.destroy();
  });

  it('a connection cut mid-body: the read returns the bytes that came, the next one fails; a refused connection fails the request', async () => {
    const body = objectBytes(300_000);
    const endpoint = await plainServer(async (socket) => {
      socket.write(ok206(body));
      // Closed once the bytes are with the kernel (which still delivers them): no timing decides how many arrive.
      socket.write(body.subarray(0, 100_000), () => socket.destroy());
    });
    const c = client(endpoint);
    const r = await get(c);
    if (!isDirectBody(r.Body)) throw new Error('not a direct body');
    const buf = Buffer.alloc(body.length);
    const n = await r.Body.readInto(buf, 0, body.length);
    expect(n).toBe(100_000);
    expect(buf.subarray(0, n).equals(body.subarray(0, n))).toBe(true);
    await expect(r.Body.readInto(buf, n, body.length - n)).rejects.toThrow(/ended before the whole body/);
    c.destroy();
    const port = await listen(createServer());
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const refused = client(`http://127.0.0.1:${port}`);
    await expect(get(refused)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    refused.destroy();
  });

  it('a header value with a line break (an ETag from the store) is refused before anything is sent', async () => {
    let requests = 0;
    const endpoint = await plainServer((socket) => {
      requests++;
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    const c = client(endpoint);
    await expect(c.send(new GetObjectCommand({ Bucket: 'b', Key: 'k', IfMatch: '"e"\r\nx-injected: 1' }))).rejects.toThrow(/invalid character in the request header "if-match"/);
    await sleep(50);
    expect(requests).toBe(0);
    c.destroy();
  });

  it('an abort stops a read that waits', async () => {
    const body = objectBytes(100_000);
    const endpoint = await plainServer((socket) => {
      // The head and the first 1,000 bytes in one write (one segment on loopback: they arrive with the head, before any abort), and nothing more.
      socket.write(Buffer.concat([Buffer.from(ok206(body), 'latin1'), body.subarray(0, 1000)]));
    });
    const c = client(endpoint);
    const abort = new AbortController();
    const r = await c.send(new GetObjectCommand({ Bucket: 'b', Key: 'k', Range: 'bytes=0-' }), { abortSignal: abort.signal });
    if (!isDirectBody(r.Body)) throw new Error('not a direct body');
    const read = r.Body.readInto(Buffer.alloc(body.length), 0, body.length);
    setTimeout(() => abort.abort(new Error('stopped by the test')), 30);
    // The bytes that came are delivered; the next read fails with the reason.
    expect(await read).toBe(1000);
    await expect(r.Body.readInto(Buffer.alloc(10), 0, 10)).rejects.toThrow(/stopped by the test/);
    c.destroy();
  });

  it('reads over TLS as over plain TCP (an https endpoint)', async () => {
    const dir = tempDir('mr-tls-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const body = objectBytes(400_000);
    const server = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (s) =>
      onRequests(s as unknown as Socket, (socket) => trickle(socket, Buffer.concat([Buffer.from(ok206(body), 'latin1'), body]), 10_000, 4, 1)),
    );
    const port = await listen(server as unknown as Server);
    const before = process.env['NODE_TLS_REJECT_UNAUTHORIZED'];
    // The test's certificate is its own: accepted for this test only.
    process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0';
    try {
      const c = client(`https://127.0.0.1:${port}`);
      const r = await get(c);
      expect((await readAll(r.Body, [123_456], body.length, 5)).equals(body)).toBe(true);
      c.destroy();
    } finally {
      if (before === undefined) delete process.env['NODE_TLS_REJECT_UNAUTHORIZED'];
      else process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = before;
    }
  });
});
