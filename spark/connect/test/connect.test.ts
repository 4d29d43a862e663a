/** Waiting for a server that accepts connections but never answers (a wrong port, a proxy that hangs, TLS asked of a plain server), or for none. */
import { describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { SparkConnectClient } from '../src/client.js';
import { SparkConnectionError, SparkHandshakeError } from '../src/errors.js';

async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('SparkConnectClient.connect', () => {
  it('gives up after its timeout when the server never answers: a handshake failure that says something is listening, and asks about TLS', async () => {
    const server = await silentServer();
    const plain = new SparkConnectClient({ remote: `sc://127.0.0.1:${server.port}`, connectTimeoutMs: 500 });
    const tls = new SparkConnectClient({ remote: `sc://127.0.0.1:${server.port}/;use_ssl=true`, connectTimeoutMs: 500 });
    try {
      const err = await plain.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SparkHandshakeError);
      expect(err).toBeInstanceOf(SparkConnectionError);
      expect((err as Error).message).toBe(
        `the server at sc://127.0.0.1:${server.port} accepts connections but no Spark Connect session came up within 500 ms: is it a Spark Connect server, and does it want TLS (;use_ssl=true in the address)?`,
      );
      await expect(tls.connect()).rejects.toThrow(/accepts connections but no Spark Connect session came up within 500 ms: the address asks for TLS/);
    } finally {
      await plain.close();
      await tls.close();
      await server.close();
    }
  });

  it('nothing listening: a connection error that says no answer came (not a handshake failure)', async () => {
    const server = await silentServer();
    const port = server.port;
    await server.close();
    const client = new SparkConnectClient({ remote: `sc://127.0.0.1:${port}`, connectTimeoutMs: 500 });
    try {
      const err = await client.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SparkConnectionError);
      expect(err).not.toBeInstanceOf(SparkHandshakeError);
      expect((err as Error).message).toBe(`cannot reach the Spark Connect server at sc://127.0.0.1:${port} (no answer within 500 ms)`);
    } finally {
      await client.close();
    }
  });

  it('an abort (SIGINT, SIGTERM) ends the wait at once with its reason', async () => {
    const server = await silentServer();
    const client = new SparkConnectClient({ remote: `sc://127.0.0.1:${server.port}`, connectTimeoutMs: 60_000 });
    const ctl = new AbortController();
    const started = Date.now();
    setTimeout(() => ctl.abort(new Error('interrupted by SIGTERM')), 200);
    try {
      await expect(client.connect(ctl.signal)).rejects.toThrow('interrupted by SIGTERM');
      // Well before the connect timeout: the abort, not the deadline, ended it.
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
