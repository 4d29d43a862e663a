/** Waiting for a server that accepts connections but never answers (a wrong port, a proxy that hangs). */
import { describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { SparkConnectClient } from '../src/client.js';
import { SparkConnectionError } from '../src/errors.js';

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
  it('gives up after its timeout when the server never answers', async () => {
    const server = await silentServer();
    const client = new SparkConnectClient({ remote: `sc://127.0.0.1:${server.port}`, connectTimeoutMs: 500 });
    try {
      await expect(client.connect()).rejects.toBeInstanceOf(SparkConnectionError);
    } finally {
      await client.close();
      await server.close();
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
