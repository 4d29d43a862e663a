/** Reading one input file (or S3 object) as a stream of byte chunks, gunzipped when needed; errors name the file. */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Readable, addAbortSignal } from 'node:stream';
import { InputError, cannotRead } from '../errors.js';
import type { InputFile } from './discover.js';

export const READ_CHUNK_BYTES = 1 << 20;

export interface ReadOptions {
  readonly start?: number;
  readonly end?: number;
  readonly signal?: AbortSignal;
  /** The file's raw bytes from elsewhere (an object in S3 streamed by the parallel engine's main thread), instead of reading `file`. */
  readonly source?: AsyncIterable<Buffer>;
}

/**
 * Yields the (decompressed) bytes of a file. `onRawBytes` reports bytes read from disk, for
 * progress. Any I/O or gzip error becomes an InputError naming the file.
 */
export async function* readChunks(
  file: InputFile,
  onRawBytes: (n: number) => void = () => {},
  options: ReadOptions = {},
): AsyncGenerator<Buffer> {
  if (options.source !== undefined || file.stream !== undefined) {
    const raw = Readable.from(options.source ?? file.stream!.chunks(), { objectMode: false });
    if (options.signal !== undefined) addAbortSignal(options.signal, raw);
    yield* decoded(file, raw, onRawBytes, options);
    return;
  }
  if (file.s3 !== undefined) {
    const { objectChunks } = await import('./s3.js');
    const raw = Readable.from(objectChunks(file.s3, file.path, options), { objectMode: false });
    yield* decoded(file, raw, onRawBytes, options);
    return;
  }
  const source = file.readPath ?? file.path;
  // O_NONBLOCK: a path replaced by a FIFO after discovery fails here instead of blocking open() forever.
  let handle: FileHandle;
  try {
    handle = await open(source, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw cannotRead(file.path, err);
  }
  let regular: boolean;
  try {
    regular = (await handle.stat()).isFile();
  } catch (err) {
    await handle.close();
    throw cannotRead(file.path, err);
  }
  if (!regular) {
    await handle.close();
    throw cannotRead(file.path, 'not a regular file');
  }
  const raw = handle.createReadStream({
    highWaterMark: READ_CHUNK_BYTES,
    start: options.start,
    end: options.end === undefined ? undefined : options.end - 1,
    signal: options.signal,
  });
  yield* decoded(file, raw, onRawBytes, options);
}

/** The bytes of `raw`, gunzipped when the file is gzip; errors name the file (`-` for standard input). */
async function* decoded(file: InputFile, raw: Readable, onRawBytes: (n: number) => void, options: ReadOptions): AsyncGenerator<Buffer> {
  let rawBytes = 0;
  raw.on('data', (c: Buffer | string) => {
    rawBytes += c.length;
    onRawBytes(c.length);
  });
  let stream: Readable = raw;
  let gunzip: Gunzip | undefined;
  if (file.gzip) {
    const g = createGunzip({ chunkSize: READ_CHUNK_BYTES });
    raw.on('error', (err) => g.destroy(err));
    stream = raw.pipe(g);
    gunzip = g;
  }
  try {
    for await (const chunk of stream) yield chunk as Buffer;
    // zlib stops at a NUL byte after a member, taking the rest for padding, and ends without an
    // error: any bytes it did not take (zeros, or zeros and then more members) are a corrupt
    // stream, as in the spark engine, never a silently shorter file (README decision 44).
    if (gunzip !== undefined && gunzip.bytesWritten < rawBytes) {
      throw cannotRead(file.path, `corrupt gzip stream (${rawBytes - gunzip.bytesWritten} bytes after its last member are not a gzip member)`);
    }
  } catch (err) {
    // An abort ends the read with the signal's reason ("interrupted by SIGINT"), not a generic AbortError.
    if ((err as Error).name === 'AbortError') throw options.signal?.aborted ? options.signal.reason : err;
    if (err instanceof InputError) throw err; // already names the file (an S3 object's read)
    const e = err as NodeJS.ErrnoException;
    throw cannotRead(file.path, e.code?.startsWith('Z_') ? `corrupt gzip stream (${e.message})` : err);
  } finally {
    raw.destroy();
    stream.destroy();
  }
}
