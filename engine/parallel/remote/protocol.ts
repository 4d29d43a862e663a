/**
 * The messages between a map task reading an object in S3 (feed-reader.ts, in a worker) and
 * the main thread that streams the object (object-feed.ts). The worker asks for the bytes at a
 * position (ahead of its reads, saying which bytes it still needs); the main thread answers
 * with the window chunks holding them, SharedArrayBuffers whose lines the worker scans in
 * place (no copy per message, no AWS SDK in any worker).
 */

/**
 * A map task's request: up to `len` bytes of its shard `shard` (the shard's index) at `pos`;
 * the task is done with every byte before `keep` (at most `pos`: a task asks ahead of its reads).
 */
export interface FeedRequest {
  readonly shard: number;
  readonly pos: number;
  readonly len: number;
  readonly keep: number;
}

/** Object bytes [start, start + length), at the beginning of `chunk`. */
export interface FeedChunk {
  readonly chunk: SharedArrayBuffer;
  readonly start: number;
  readonly length: number;
}

/**
 * The answer: the window's chunks from the one holding `pos`, in order and contiguous, as many
 * of those holding [pos, pos + len) as are read (at least one; valid until the task asks for a
 * later position or ends); or the object's end; or why the read failed (an InputError's
 * message, naming the object and never a credential).
 */
export type FeedReply = { readonly chunks: readonly FeedChunk[] } | { readonly eof: true } | { readonly error: string };
