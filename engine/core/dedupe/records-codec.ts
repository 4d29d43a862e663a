/**
 * Records with an identity, in a compact binary form: what the naive engine spills and the
 * parallel engine's map emits into its shuffle. One record:
 *
 *     u8 flags | u32 order | f64 offset | u32 key bytes | key (UTF-8) | u32 fp bytes | fp (UTF-8)
 *
 * flags: IN_WINDOW (the record is inside the time window), REMEMBERED (a key already decided
 * in an earlier pass: it only marks the key seen). `order` is the record's file (or shard)
 * in path order, `offset` its line's byte offset: (order, offset) is input order.
 *
 * dedupeRecords applies FirstWins to a stream of such records in input order, holding every
 * key in memory while the records fit the budget, and otherwise splitting them by a hash of
 * the key into files in a temporary directory (order within each kept), then deduplicating
 * each file alone (recursively, with another hash seed, up to MAX_DEPTH).
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { makeTempDir } from '../temp-dir.js';
import { join } from 'node:path';
import { copyBytes, countDuplicate, differingFields, displayKey, type DuplicateTally } from './dedupe.js';

export const IN_WINDOW = 1;
export const REMEMBERED = 2;

const HEAD = 1 + 4 + 8 + 4;

/** A growable buffer of encoded records. */
export class RecordBuffer {
  buf: Buffer;
  len = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  add(flags: number, order: number, offset: number, key: string, fp: string): void {
    const need = HEAD + 4 + 3 * (key.length + fp.length);
    if (this.len + need > this.buf.length) {
      const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + need));
      this.buf.copy(b, 0, 0, this.len);
      this.buf = b;
    }
    const b = this.buf;
    let at = this.len;
    b[at] = flags;
    b.writeUInt32LE(order, at + 1);
    b.writeDoubleLE(offset, at + 5);
    const k = b.write(key, at + HEAD, 'utf8');
    b.writeUInt32LE(k, at + 13);
    at += HEAD + k;
    const f = b.write(fp, at + 4, 'utf8');
    b.writeUInt32LE(f, at);
    this.len = at + 4 + f;
  }

  /** Room for `need` more bytes. */
  reserve(need: number): void {
    if (this.len + need > this.buf.length) {
      const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + need));
      this.buf.copy(b, 0, 0, this.len);
      this.buf = b;
    }
  }

  /**
   * The start of a record whose key is the bytes k[ks, ke), written at the end (room
   * reserved); returns where its fingerprint's bytes go. `endRecord` then closes it.
   */
  addHead(flags: number, order: number, offset: number, k: Uint8Array, ks: number, ke: number): number {
    const b = this.buf;
    const at = this.len;
    b[at] = flags;
    b.writeUInt32LE(order, at + 1);
    b.writeDoubleLE(offset, at + 5);
    b.writeUInt32LE(ke - ks, at + 13);
    copyBytes(k, ks, ke, b, at + HEAD);
    return at + HEAD + (ke - ks) + 4;
  }

  /** Closes the record begun by `addHead` whose fingerprint bytes end at `end`. */
  endRecord(fpStart: number, end: number): void {
    this.buf.writeUInt32LE(end - fpStart, fpStart - 4);
    this.len = end;
  }

  /** The encoded records (a copy, sized to fit), and the buffer emptied. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    return out;
  }
}

/** One decoded record (the object is reused between callbacks). */
export interface DecodedRecord {
  flags: number;
  order: number;
  offset: number;
  key: string;
  fp: string;
}

/** A whole encoded record buf[at, end) whose key is buf[at + RECORD_HEAD_BYTES, at + RECORD_HEAD_BYTES + keyBytes). */
export type RawRecord = (buf: Buffer, at: number, keyBytes: number, end: number) => void;

/** The whole records in buf[0, end), undecoded; returns where the first incomplete record starts. */
export function scanRecords(buf: Buffer, end: number, each: RawRecord): number {
  let at = 0;
  while (at + HEAD <= end) {
    const k = buf.readUInt32LE(at + 13);
    if (at + HEAD + k + 4 > end) break;
    const stop = at + HEAD + k + 4 + buf.readUInt32LE(at + HEAD + k);
    if (stop > end) break;
    each(buf, at, k, stop);
    at = stop;
  }
  return at;
}

/** Decodes the whole records in buf[0, end); returns where the first incomplete record starts. */
export function decodeRecords(buf: Buffer, end: number, each: (r: DecodedRecord) => void): number {
  const r: DecodedRecord = { flags: 0, order: 0, offset: 0, key: '', fp: '' };
  return scanRecords(buf, end, (b, at, k, stop) => {
    r.flags = b[at]!;
    r.order = b.readUInt32LE(at + 1);
    r.offset = b.readDoubleLE(at + 5);
    r.key = b.toString('utf8', at + HEAD, at + HEAD + k);
    r.fp = b.toString('utf8', at + HEAD + k + 4, stop);
    each(r);
  });
}

/** FNV-1a over a key's UTF-16 code units, seeded: partitions only, never equality. */
export function hashKey(key: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** hashKey of a key whose UTF-16 code units are the bytes b[s, e) (an ASCII key): the same value (any other key: a hash of its bytes). */
export function hashKeyAscii(b: Uint8Array, s: number, e: number, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  for (let i = s; i < e; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** Bytes of the record head before the key (flags, order, offset, key length). */
export const RECORD_HEAD_BYTES = HEAD;

/** A source of encoded records in input order: whole buffers, or files (read a block at a time). */
export type RecordSegment = { readonly buf: Uint8Array } | { readonly file: string; readonly pos: number; readonly len: number };

const READ_BLOCK = 1 << 20;

/** Every record of the segments, in order; `check` (which may throw to stop) runs before each segment and each block read. */
export function forEachRecord(segments: readonly RecordSegment[], each: (r: DecodedRecord) => void, check?: () => void): void {
  forEachBlock(segments, (buf, end) => decodeRecords(buf, end, each), check);
}

/** Every record of the segments, in order, undecoded (`check` as forEachRecord's). */
export function forEachRawRecord(segments: readonly RecordSegment[], each: RawRecord, check?: () => void): void {
  forEachBlock(segments, (buf, end) => scanRecords(buf, end, each), check);
}

/** The segments' bytes a block of whole records at a time: `records` takes buf[0, end) and returns the bytes it used. */
function forEachBlock(segments: readonly RecordSegment[], records: (buf: Buffer, end: number) => number, check?: () => void): void {
  for (const s of segments) {
    check?.();
    if ('buf' in s) {
      const b = Buffer.from(s.buf.buffer, s.buf.byteOffset, s.buf.byteLength);
      if (records(b, b.length) !== b.length) throw new Error('dedupe: a truncated record segment');
      continue;
    }
    const fd = openSync(s.file, 'r');
    try {
      let block = Buffer.allocUnsafe(READ_BLOCK);
      let have = 0;
      let pos = s.pos;
      const stop = s.pos + s.len;
      while (pos < stop) {
        check?.();
        if (have === block.length) {
          const bigger = Buffer.allocUnsafe(block.length * 2);
          block.copy(bigger, 0, 0, have);
          block = bigger;
        }
        const n = readSync(fd, block, have, Math.min(block.length - have, stop - pos), pos);
        if (n === 0) throw new Error(`dedupe: ${s.file} is shorter than written`);
        pos += n;
        have += n;
        const used = records(block, have);
        block.copyWithin(0, used, have);
        have -= used;
      }
      if (have !== 0) throw new Error(`dedupe: ${s.file} ends inside a record`);
    } finally {
      closeSync(fd);
    }
  }
}

/** Bytes of the segments. */
export function segmentBytes(segments: readonly RecordSegment[]): number {
  return segments.reduce((n, s) => n + ('buf' in s ? s.buf.byteLength : s.len), 0);
}

/** Per-partition append-only files, buffered. */
export class PartitionFiles {
  readonly paths: string[];
  private readonly fds: number[];
  private readonly bufs: RecordBuffer[];
  readonly sizes: number[];

  constructor(
    dir: string,
    private readonly partitions: number,
    private readonly seed: number,
    prefix = 'p',
  ) {
    this.paths = Array.from({ length: partitions }, (_, i) => join(dir, `${prefix}${i}.bin`));
    this.fds = this.paths.map((p) => openSync(p, 'w', 0o600));
    this.bufs = this.paths.map(() => new RecordBuffer(16 * 1024));
    this.sizes = this.paths.map(() => 0);
  }

  write(flags: number, order: number, offset: number, key: string, fp: string): void {
    const p = hashKey(key, this.seed) % this.partitions;
    const b = this.bufs[p]!;
    b.add(flags, order, offset, key, fp);
    if (b.len >= 64 * 1024) this.flush(p);
  }

  /** An encoded record buf[at, end) (key bytes as scanRecords gives them), partitioned by a hash of its key's bytes. */
  writeRaw(buf: Buffer, at: number, keyBytes: number, end: number): void {
    const p = hashKeyAscii(buf, at + HEAD, at + HEAD + keyBytes, this.seed) % this.partitions;
    const b = this.bufs[p]!;
    b.reserve(end - at);
    buf.copy(b.buf, b.len, at, end);
    b.len += end - at;
    if (b.len >= 64 * 1024) this.flush(p);
  }

  private flush(p: number): void {
    const b = this.bufs[p]!;
    let off = 0;
    while (off < b.len) off += writeSync(this.fds[p]!, b.buf, off, b.len - off);
    this.sizes[p]! += b.len;
    b.len = 0;
  }

  close(): void {
    for (let p = 0; p < this.partitions; p++) {
      this.flush(p);
      closeSync(this.fds[p]!);
    }
  }
}

/**
 * How much more memory than their encoded size records take while deduplicated in memory:
 * the records themselves, a copy while a partition's files are read, and the key table (a
 * 4-byte slot per 16 bytes of records). An estimate, with room to spare.
 */
export const MEMORY_FACTOR = 3;
const SPLIT_PARTITIONS = 16;
const MAX_DEPTH = 4;
const TABLE_SEED = 0x2545;

export interface DedupeLimits {
  /** Memory the seen keys may take (estimated). */
  readonly memoryBytes: number;
  /** Parent of the temporary directory for split files (default: the system's). */
  readonly tmpDir?: string;
  /** Called between segments and blocks of records; throws to stop the work (a cancelled run). */
  readonly check?: () => void;
  /** Memory to load records into and key them in, kept from one call to the next (absent: made for each). */
  readonly scratch?: DedupeScratch;
}

/**
 * The memory deduplicating in place needs, kept by a thread that deduplicates one partition
 * after another (a worker's reduce tasks): made anew for each partition, its blocks (a
 * partition's records, about 9 MB each on the bench's 1 GiB of JSON lines, and its key
 * table) stayed alive until the thread's next garbage collection and added over 100 MB to a
 * run's peak RSS. Only one call uses it at a time (a caller's records are dropped first).
 */
export class DedupeScratch {
  private records = Buffer.alloc(0);
  private table = new Int32Array(0);

  /** Room for `n` bytes of records (contents undefined), valid until the next call. */
  recordBytes(n: number): Buffer {
    if (this.records.length < n) this.records = Buffer.allocUnsafeSlow(Math.ceil(n * 1.25));
    return this.records.subarray(0, n);
  }

  /** A key table of `n` slots, all 0, valid until the next call. */
  slots(n: number): Int32Array {
    if (this.table.length < n) this.table = new Int32Array(n);
    else this.table.fill(0, 0, n);
    return this.table.subarray(0, n);
  }
}

/** Receives each kept record (the first with its key): its fingerprint is buf[fpStart, fpEnd). */
export type KeepRecord = (buf: Buffer, fpStart: number, fpEnd: number, inWindow: boolean) => void;

/**
 * Deduplicates records given in input order: every kept record goes to `keep`, duplicates
 * and conflicts are counted into `tally`. Records that would not fit the memory budget are
 * split by key hash into temporary files first (each file keeps input order, and a key's
 * records all land in one file), each then deduplicated alone.
 */
export function dedupeRecords(segments: readonly RecordSegment[], limits: DedupeLimits, tally: DuplicateTally, keep: KeepRecord, depth = 0): void {
  const bytes = segmentBytes(segments);
  if (bytes === 0) return;
  if (bytes * MEMORY_FACTOR <= limits.memoryBytes || depth >= MAX_DEPTH) {
    firstWinsInPlace(loadSegments(segments, bytes, limits.check, limits.scratch), tally, keep, limits.check, limits.scratch);
    return;
  }
  const dir = makeTempDir('mr-dedupe-', 'request ids spilled to disk', limits.tmpDir);
  try {
    const files = new PartitionFiles(dir, SPLIT_PARTITIONS, depth + 1);
    try {
      forEachRawRecord(segments, (buf, at, k, end) => files.writeRaw(buf, at, k, end), limits.check);
    } finally {
      files.close();
    }
    files.paths.forEach((file, i) => {
      dedupeRecords([{ file, pos: 0, len: files.sizes[i]! }], limits, tally, keep, depth + 1);
      rmSync(file, { force: true });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The segments' bytes in one buffer, in order. */
function loadSegments(segments: readonly RecordSegment[], bytes: number, check?: () => void, scratch?: DedupeScratch): Buffer {
  if (segments.length === 1 && 'buf' in segments[0]!) {
    const b = segments[0].buf;
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }
  const out = scratch?.recordBytes(bytes) ?? Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const s of segments) {
    check?.();
    if ('buf' in s) {
      out.set(s.buf, at);
      at += s.buf.byteLength;
      continue;
    }
    const fd = openSync(s.file, 'r');
    try {
      for (let pos = s.pos; pos < s.pos + s.len; ) {
        check?.();
        const n = readSync(fd, out, at, Math.min(READ_BLOCK * 4, s.pos + s.len - pos), pos);
        if (n === 0) throw new Error(`dedupe: ${s.file} is shorter than written`);
        pos += n;
        at += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/** True when the keys of the records at a and b (their heads) are the same bytes. */
function sameKey(buf: Buffer, a: number, b: number): boolean {
  const k = buf.readUInt32LE(a + 13);
  if (buf.readUInt32LE(b + 13) !== k) return false;
  return buf.compare(buf, a + HEAD, a + HEAD + k, b + HEAD, b + HEAD + k) === 0;
}

/**
 * The rule (the first record of a key is kept, later ones are duplicates, conflicts when the
 * fingerprints differ: dedupe.ts) on records held in one buffer in input order, the keys
 * compared as bytes in place through an open-addressing table of record positions: no
 * string or object per record. A REMEMBERED record (a key decided in an earlier pass) only
 * marks its key seen.
 */
function firstWinsInPlace(buf: Buffer, tally: DuplicateTally, keep: KeepRecord, check?: () => void, scratch?: DedupeScratch): void {
  let bits = 10;
  // Records take at least 32 bytes: a slot per 16 bytes keeps the table at most half full.
  while (1 << bits < buf.length / 16) bits++;
  const mask = (1 << bits) - 1;
  const shift = 32 - bits;
  const slots = scratch?.slots(1 << bits) ?? new Int32Array(1 << bits);
  let n = 0;
  for (let at = 0; at < buf.length; ) {
    if ((++n & 0xffff) === 0) check?.();
    const k = buf.readUInt32LE(at + 13);
    const ks = at + HEAD;
    const fs = ks + k + 4;
    const fe = fs + buf.readUInt32LE(ks + k);
    if (fe > buf.length) throw new Error('dedupe: a truncated record segment');
    const flags = buf[at]!;
    // The top bits of another seed's hash: the partitions were made by the low bits of seed 0's and of the split seeds'.
    let h = hashKeyAscii(buf, ks, ks + k, TABLE_SEED) >>> shift;
    for (;;) {
      const s = slots[h]!;
      if (s === 0) {
        slots[h] = at + 1;
        if ((flags & REMEMBERED) === 0) keep(buf, fs, fe, (flags & IN_WINDOW) !== 0);
        break;
      }
      const first = s - 1;
      if (!sameKey(buf, first, at)) {
        h = (h + 1) & mask;
        continue;
      }
      if ((flags & REMEMBERED) !== 0) {
        slots[h] = at + 1;
        break;
      }
      const ffs = first + HEAD + buf.readUInt32LE(first + 13) + 4;
      const ffe = ffs + buf.readUInt32LE(ffs - 4);
      const same = buf.compare(buf, ffs, ffe, fs, fe) === 0;
      countDuplicate(
        tally,
        same
          ? undefined
          : () => ({
              requestId: displayKey(buf.toString('utf8', ks, ks + k)),
              at: { order: buf.readUInt32LE(at + 1), offset: buf.readDoubleLE(at + 5) },
              first: { order: buf.readUInt32LE(first + 1), offset: buf.readDoubleLE(first + 5) },
              differs: differingFields(buf.toString('utf8', ffs, ffe), buf.toString('utf8', fs, fe)),
            }),
      );
      break;
    }
    at = fe;
  }
}
