/**
 * A hash table keyed by user-id bytes, holding per-task request counts and duration sums.
 * Keys are copied once into an arena; no string is made per line or per lookup. Open
 * addressing with linear probing; the memory touched per lookup is kept small for tables
 * of millions of users: a slot holds the hash next to the entry number, an entry's key
 * position sits in one record, and its counters are adjacent.
 *
 * Duration sums stay exact: each sum is kept below 2^52 in a Float64Array and anything
 * above is carried into a bigint side table.
 */

import { isAscii } from 'node:buffer';
import type { UsageRows } from '../../core/billing/usage.js';

const CARRY = 2 ** 52;

/** FNV-1a over bytes[start, end). */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

export class UserTable implements UsageRows {
  /** Entries, numbered 0..size-1 in insertion order. */
  size = 0;
  keys: Uint8Array;
  keyEnd = 0;
  /** Per entry: [keyStart, keyLength, hash]. */
  meta: Int32Array;
  /** Per entry: requests of each task, then duration of each task. */
  counts: Float64Array;
  /** Carried duration above 2^52: entry * tasks + task → amount. */
  readonly carry = new Map<number, bigint>();
  /** Per slot: [hash, entry + 1]; 0 marks an empty slot. */
  private slots: Int32Array;
  private mask: number;
  private readonly stride: number;

  constructor(
    readonly tasks: number,
    capacity = 1024,
  ) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.slots = new Int32Array(slots * 2);
    this.mask = slots - 1;
    const entries = slots >>> 1;
    this.stride = 2 * tasks;
    this.keys = new Uint8Array(entries * 16);
    this.meta = new Int32Array(entries * 3);
    this.counts = new Float64Array(entries * this.stride);
  }

  /** The entry of the key bytes[start, end) with hash h, inserted when new. */
  entry(bytes: Uint8Array, start: number, end: number, h: number): number {
    const len = end - start;
    const slots = this.slots;
    const hash = h | 0;
    let s = h & this.mask;
    for (;;) {
      const e = slots[2 * s + 1]! - 1;
      if (e < 0) break;
      if (slots[2 * s] === hash && this.meta[3 * e + 1] === len) {
        const keys = this.keys;
        let i = this.meta[3 * e]!;
        let j = start;
        while (j < end && keys[i] === bytes[j]) {
          i++;
          j++;
        }
        if (j === end) return e;
      }
      s = (s + 1) & this.mask;
    }
    return this.insert(bytes, start, end, hash, s);
  }

  add(e: number, task: number, requests: number, durationMs: number): void {
    const base = e * this.stride;
    this.counts[base + task]! += requests;
    const k = base + this.tasks + task;
    const d = this.counts[k]! + durationMs;
    if (d >= CARRY) {
      this.addCarry(e, task, BigInt(d));
      this.counts[k] = 0;
    } else {
      this.counts[k] = d;
    }
  }

  addCarry(e: number, task: number, amount: bigint): void {
    const k = e * this.tasks + task;
    this.carry.set(k, (this.carry.get(k) ?? 0n) + amount);
  }

  requests(e: number, task: number): number {
    return this.counts[e * this.stride + task]!;
  }

  /** Exact duration sum of an entry's task. */
  duration(e: number, task: number): bigint {
    const d = BigInt(this.counts[e * this.stride + this.tasks + task]!);
    const c = this.carry.get(e * this.tasks + task);
    return c === undefined ? d : d + c;
  }

  get taskCount(): number {
    return this.tasks;
  }

  /** The duration sum when nothing was carried above 2^52, else -1. */
  durationNumber(e: number, task: number): number {
    if (this.carry.size !== 0 && this.carry.has(e * this.tasks + task)) return -1;
    return this.counts[e * this.stride + this.tasks + task]!;
  }

  /** An entry's user id as a string (all of them decoded on first use, in one pass when they are ASCII). */
  userId(e: number): string {
    if (this.ids === null || this.ids.length !== this.size) this.ids = this.decodeIds();
    return this.ids[e]!;
  }

  private ids: string[] | null = null;

  private decodeIds(): string[] {
    const ids = new Array<string>(this.size);
    const arena = this.keys.subarray(0, this.keyEnd);
    if (isAscii(arena)) {
      const text = Buffer.from(arena.buffer, arena.byteOffset, arena.length).toString('latin1');
      for (let e = 0; e < this.size; e++) ids[e] = text.slice(this.meta[3 * e]!, this.meta[3 * e]! + this.meta[3 * e + 1]!);
    } else {
      // Keys are valid UTF-8 (validated before they were stored); a leading U+FEFF is part of the id.
      const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
      for (let e = 0; e < this.size; e++) ids[e] = decoder.decode(this.key(e));
    }
    return ids;
  }

  key(e: number): Uint8Array {
    return this.keys.subarray(this.meta[3 * e]!, this.meta[3 * e]! + this.meta[3 * e + 1]!);
  }

  hash(e: number): number {
    return this.meta[3 * e + 2]! >>> 0;
  }

  private insert(bytes: Uint8Array, start: number, end: number, hash: number, slot: number): number {
    if ((this.size + 1) * 4 > this.slots.length) {
      this.grow();
      return this.entry(bytes, start, end, hash >>> 0);
    }
    const len = end - start;
    if (this.keyEnd + len > this.keys.length) {
      const keys = new Uint8Array(Math.max(this.keys.length * 2, this.keyEnd + len));
      keys.set(this.keys.subarray(0, this.keyEnd));
      this.keys = keys;
    }
    const e = this.size++;
    this.keys.set(bytes.subarray(start, end), this.keyEnd);
    this.meta[3 * e] = this.keyEnd;
    this.meta[3 * e + 1] = len;
    this.meta[3 * e + 2] = hash;
    this.keyEnd += len;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = e + 1;
    return e;
  }

  private grow(): void {
    const n = this.slots.length; // = 2 * slot count
    const slots = new Int32Array(n * 2);
    const mask = n - 1;
    for (let e = 0; e < this.size; e++) {
      const h = this.meta[3 * e + 2]!;
      let s = h & mask;
      while (slots[2 * s + 1] !== 0) s = (s + 1) & mask;
      slots[2 * s] = h;
      slots[2 * s + 1] = e + 1;
    }
    this.slots = slots;
    this.mask = mask;
    const entries = n >>> 1;
    const meta = new Int32Array(entries * 3);
    meta.set(this.meta);
    this.meta = meta;
    const counts = new Float64Array(entries * this.stride);
    counts.set(this.counts);
    this.counts = counts;
  }
}
