/**
 * A hash table keyed by user-id bytes, holding per-task request counts and duration sums.
 * Keys are copied once into an arena; no string is made per line or per lookup. Open
 * addressing with linear probing over a power-of-two slot array.
 *
 * Duration sums stay exact: each sum is kept below 2^52 in a Float64Array and anything
 * above is carried into a bigint side table.
 */

const EMPTY = -1;
const CARRY = 2 ** 52;

/** FNV-1a over bytes[start, end). */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

export class UserTable {
  /** Entries in insertion order. */
  size = 0;
  keys: Uint8Array;
  keyEnd = 0;
  keyStart: Int32Array;
  keyLen: Int32Array;
  hashes: Int32Array;
  requests: Float64Array;
  duration: Float64Array;
  /** Carried duration above 2^52: entry * tasks + task → amount. */
  readonly carry = new Map<number, bigint>();
  private slots: Int32Array;
  private mask: number;

  constructor(
    readonly tasks: number,
    capacity = 1024,
  ) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.slots = new Int32Array(slots).fill(EMPTY);
    this.mask = slots - 1;
    const entries = slots >>> 1;
    this.keys = new Uint8Array(entries * 16);
    this.keyStart = new Int32Array(entries);
    this.keyLen = new Int32Array(entries);
    this.hashes = new Int32Array(entries);
    this.requests = new Float64Array(entries * tasks);
    this.duration = new Float64Array(entries * tasks);
  }

  /** The entry of the key bytes[start, end) with hash h, inserted when new. */
  entry(bytes: Uint8Array, start: number, end: number, h: number): number {
    const len = end - start;
    const keys = this.keys;
    let s = h & this.mask;
    for (;;) {
      const e = this.slots[s]!;
      if (e === EMPTY) break;
      if (this.hashes[e] === (h | 0) && this.keyLen[e] === len) {
        let i = this.keyStart[e]!;
        let j = start;
        while (j < end && keys[i] === bytes[j]) {
          i++;
          j++;
        }
        if (j === end) return e;
      }
      s = (s + 1) & this.mask;
    }
    return this.insert(bytes, start, end, h, s);
  }

  add(e: number, task: number, requests: number, durationMs: number): void {
    const k = e * this.tasks + task;
    this.requests[k]! += requests;
    const d = this.duration[k]! + durationMs;
    if (d >= CARRY) {
      this.carry.set(k, (this.carry.get(k) ?? 0n) + BigInt(d));
      this.duration[k] = 0;
    } else {
      this.duration[k] = d;
    }
  }

  addCarry(e: number, task: number, amount: bigint): void {
    const k = e * this.tasks + task;
    this.carry.set(k, (this.carry.get(k) ?? 0n) + amount);
  }

  key(e: number): Uint8Array {
    return this.keys.subarray(this.keyStart[e]!, this.keyStart[e]! + this.keyLen[e]!);
  }

  private insert(bytes: Uint8Array, start: number, end: number, h: number, slot: number): number {
    if ((this.size + 1) * 2 > this.slots.length) {
      this.grow();
      return this.entry(bytes, start, end, h);
    }
    const len = end - start;
    if (this.keyEnd + len > this.keys.length) {
      const keys = new Uint8Array(Math.max(this.keys.length * 2, this.keyEnd + len));
      keys.set(this.keys.subarray(0, this.keyEnd));
      this.keys = keys;
    }
    const e = this.size++;
    this.keys.set(bytes.subarray(start, end), this.keyEnd);
    this.keyStart[e] = this.keyEnd;
    this.keyLen[e] = len;
    this.hashes[e] = h;
    this.keyEnd += len;
    this.slots[slot] = e;
    return e;
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    const mask = slots.length - 1;
    for (let e = 0; e < this.size; e++) {
      let s = this.hashes[e]! & mask;
      while (slots[s] !== EMPTY) s = (s + 1) & mask;
      slots[s] = e;
    }
    this.slots = slots;
    this.mask = mask;
    const entries = slots.length >>> 1;
    this.keyStart = growInt(this.keyStart, entries);
    this.keyLen = growInt(this.keyLen, entries);
    this.hashes = growInt(this.hashes, entries);
    this.requests = growFloat(this.requests, entries * this.tasks);
    this.duration = growFloat(this.duration, entries * this.tasks);
  }
}

function growInt(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

function growFloat(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}
