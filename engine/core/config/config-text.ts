/**
 * The text of a configuration file (the env file, a pricing plan), which may also be a pipe:
 * `--env-file <(vault read …)`, or a FIFO. A FIFO that no process writes would make open()
 * wait for ever, in a thread that even a signal's exit then waits for; so a FIFO is opened
 * without waiting (O_NONBLOCK) and read as a pipe to its end on the event loop: it still waits
 * for a writer, as reading a FIFO does, but a signal (or `signal`) ends that wait.
 */
import { constants, openSync, readFileSync, statSync } from 'node:fs';
import { Socket } from 'node:net';

/** `signal` (a run's interrupt) ends the wait for a FIFO's writer with its reason. */
export async function readConfigText(path: string, signal?: AbortSignal): Promise<string> {
  let fifo = false;
  try {
    fifo = statSync(path).isFIFO();
  } catch {
    // missing or unreachable: readFileSync says why
  }
  if (!fifo) return readFileSync(path, 'utf8');
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const pipe = new Socket({ fd, readable: true, writable: false });
  const stop = () => pipe.destroy(signal?.reason as Error);
  signal?.addEventListener('abort', stop, { once: true });
  try {
    signal?.throwIfAborted();
    const chunks: Buffer[] = [];
    for await (const chunk of pipe) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    signal?.removeEventListener('abort', stop);
    pipe.destroy();
  }
}
