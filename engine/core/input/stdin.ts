/**
 * Standard input as an input (`mr aggregate -`): read in the format given by --format, gzip
 * recognised by its magic bytes (1f 8b), since a stream has no name to tell it by.
 * The first bytes are taken at discovery (to tell gzip and an empty input before the run);
 * the naive engine then reads the stream, the parallel engine a copy spooled to a temporary
 * file under os.tmpdir() (it needs byte ranges to shard), removed when the run ends.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { makeTempDir } from '../temp-dir.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { InputError, systemReason } from '../errors.js';

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Stops reading `stream`: a pending or later read fails with `reason`. */
function stopReading(stream: Readable, reason: unknown): void {
  stream.destroy(reason instanceof Error ? reason : new Error(String(reason)));
}

export class StdinSource {
  private taken = false;

  private constructor(
    private readonly head: Buffer,
    private readonly rest: AsyncIterator<Buffer> | null,
    private readonly stream: Readable,
  ) {}

  /**
   * Reads the first bytes of `stream` (until two bytes or its end). `signal` (SIGINT, SIGTERM)
   * ends the wait at once with its reason: a terminal or an idle pipe may never send a byte.
   */
  static async open(stream: Readable, signal?: AbortSignal): Promise<StdinSource> {
    signal?.throwIfAborted();
    const it = (stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>);
    const parts: Buffer[] = [];
    let length = 0;
    let ended = false;
    const onAbort = () => stopReading(stream, signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (length < GZIP_MAGIC.length) {
        const r = await it.next();
        if (r.done === true) {
          ended = true;
          break;
        }
        const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
        parts.push(b);
        length += b.length;
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new InputError(`cannot read standard input: ${systemReason(err)}`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return new StdinSource(Buffer.concat(parts), ended ? null : (it as AsyncIterator<Buffer>), stream);
  }

  /** No byte at all on standard input. */
  get empty(): boolean {
    return this.head.length === 0 && this.rest === null;
  }

  /** Starts with gzip's magic bytes. */
  get gzip(): boolean {
    return this.head.length >= 2 && this.head[0] === GZIP_MAGIC[0] && this.head[1] === GZIP_MAGIC[1];
  }

  /** Stops reading: a pending or later read of chunks() fails with `reason`. */
  abort(reason: unknown): void {
    stopReading(this.stream, reason);
  }

  /** Bytes taken so far (the peeked head). */
  get peeked(): number {
    return this.head.length;
  }

  /** The whole stream, raw (still gzip-compressed if it is), once. */
  async *chunks(): AsyncGenerator<Buffer> {
    if (this.taken) throw new Error('standard input can be read once');
    this.taken = true;
    try {
      if (this.head.length > 0) yield this.head;
      if (this.rest === null) return;
      for (;;) {
        let r: IteratorResult<Buffer | string>;
        try {
          r = await this.rest.next();
        } catch (err) {
          throw new InputError(`cannot read standard input: ${systemReason(err)}`);
        }
        if (r.done === true) return;
        yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      }
    } finally {
      // Stop reading (a terminal or pipe left open would keep the process alive).
      this.stream.pause();
    }
  }
}

export interface Spooled {
  readonly path: string;
  readonly size: number;
  /** Removes the temporary file and its directory; safe to call twice. */
  remove(): Promise<void>;
}

/** Copies the stream to a temporary file under os.tmpdir(); the file is removed on failure or by `remove()`. */
export async function spool(source: StdinSource, signal?: AbortSignal, under: string = tmpdir()): Promise<Spooled> {
  const dir = makeTempDir('mr-stdin-', 'standard input', under);
  const remove = () => rm(dir, { recursive: true, force: true });
  const path = join(dir, 'stdin');
  let size = 0;
  // An interrupt while waiting on a slow pipe stops the copy at once (and the file is removed below).
  const onAbort = () => source.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    const closed = finished(out);
    closed.catch(() => {}); // awaited below; a write error also ends the loop
    try {
      for await (const chunk of source.chunks()) {
        signal?.throwIfAborted();
        size += chunk.length;
        // once() takes its listeners off again: one left per wait added up (MaxListenersExceededWarning past 1 MB).
        if (!out.write(chunk)) await once(out, 'drain');
      }
    } finally {
      out.end();
    }
    await closed;
  } catch (err) {
    await remove();
    if (signal?.aborted) throw signal.reason;
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot spool standard input to ${under}: ${systemReason(err)}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { path, size, remove };
}
