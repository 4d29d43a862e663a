/**
 * A TCP proxy on 127.0.0.1 in front of the Spark Connect server that can break a connection
 * once a given number of bytes has come back from the server: a real dropped connection in
 * the middle of a result stream, for the reattach tests.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface CuttingProxy {
  readonly remote: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections broken so far. */
  readonly cuts: number;
  /** Breaks the next connection whose downstream passes `bytes` (once). */
  cutAfter(bytes: number): void;
  close(): Promise<void>;
}

export async function startProxy(target: { host: string; port: number }): Promise<CuttingProxy> {
  let connections = 0;
  let cuts = 0;
  let armed: number | null = null;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections++;
    const upstream = createConnection({ host: target.host, port: target.port });
    sockets.add(client).add(upstream);
    let down = 0;
    upstream.on('data', (chunk: Buffer) => {
      down += chunk.length;
      if (armed !== null && down >= armed) {
        armed = null;
        cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    remote: `sc://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    get cuts() {
      return cuts;
    },
    cutAfter(bytes: number) {
      armed = bytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
