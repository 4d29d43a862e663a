import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { workerFile } from '../runtime/pool.js';
import { decodeKey, hashBytes, recordBytes, COUNTERS_AT, INLINE_KEY_BYTES, UserTable, type TableImage } from '../scan/user-table.js';
import { blockOf } from './usage-exchange.js';

/** The compiled modules the worker threads load (the exchange runs between real threads). */
const built = (path: string) => pathToFileURL(join(dirname(workerFile()), path)).href;

/** A thread's lines: key, task, duration. */
type Lines = Array<[string, number, number]>;

/**
 * One thread per entry of `linesByWorker`: each adds its lines into a PartitionedTable
 * (partitioned from `partitionFrom[w]` users, 8 partitions), calls exchangeUsage with the
 * others, and hands back whether it exchanged and its sorted image.
 */
async function exchangeIn(linesByWorker: Lines[], partitionFrom: number[]): Promise<Array<{ exchanged: boolean; image: TableImage }>> {
  const control = new SharedArrayBuffer(16);
  const name = `test-exchange-${Math.random()}`;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { PartitionedTable } = await import(workerData.modules.table);
      const { hashBytes } = await import(workerData.modules.userTable);
      const { exchangeUsage } = await import(workerData.modules.exchange);
      const t = new PartitionedTable(2, 4, workerData.partitionFrom, { bits: 3, stageLines: 5 });
      for (const [key, task, duration] of workerData.lines) {
        const b = Buffer.from(key);
        t.addLater(b, 0, b.length, hashBytes(b, 0, b.length), task, duration);
        t.flushBatch();
      }
      const exchanged = exchangeUsage(t, workerData.control, workerData.workers, workerData.name, 60000);
      parentPort.postMessage({ exchanged, image: t.sortedImage() });
    })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
  `;
  const modules = { table: built('scan/partitioned-table.js'), userTable: built('scan/user-table.js'), exchange: built('jobs/usage-exchange.js') };
  return Promise.all(
    linesByWorker.map(
      (lines, w) =>
        new Promise<{ exchanged: boolean; image: TableImage }>((resolve, reject) => {
          const worker = new Worker(code, { eval: true, workerData: { lines, partitionFrom: partitionFrom[w], control, workers: linesByWorker.length, name, modules } });
          worker.once('message', (m: { error?: string; exchanged: boolean; image: TableImage }) => {
            void worker.terminate();
            if (m.error !== undefined) reject(new Error(m.error));
            else resolve(m);
          });
          worker.once('error', reject);
        }),
    ),
  );
}

/** An image's usage by key: [requests, duration] per task. */
function usageByKey(img: TableImage): Map<string, number[]> {
  const rb = recordBytes(img.columns);
  const v = new DataView(img.records.buffer, img.records.byteOffset, img.records.byteLength);
  const out = new Map<string, number[]>();
  for (let e = 0; e < img.size; e++) {
    const len = v.getInt32(e * rb, true);
    const key = len <= INLINE_KEY_BYTES ? img.records.subarray(e * rb + 8, e * rb + 8 + len) : img.overflow.subarray(v.getInt32(e * rb + 8, true), v.getInt32(e * rb + 8, true) + len);
    const row: number[] = [];
    for (let t = 0; t < img.columns; t++) row.push(v.getFloat64(e * rb + COUNTERS_AT + 16 * t, true), v.getFloat64(e * rb + COUNTERS_AT + 16 * t + 8, true));
    out.set(decodeKey(key), row);
  }
  return out;
}

/** The usage one table holds of all the lines. */
function oneTable(lines: Lines): Map<string, number[]> {
  const t = new UserTable(2, 4);
  for (const [key, task, duration] of lines) {
    const b = Buffer.from(key);
    t.addNow(b, 0, b.length, hashBytes(b, 0, b.length), task, 1, duration);
  }
  return usageByKey(t.sortedImage());
}

/** Lines of `users` users (ids `prefix`0..), some beyond the inline key bytes, each user on several lines. */
function linesOf(prefix: string, users: number, seed: number): Lines {
  const lines: Lines = [];
  for (let i = 0; i < users * 3; i++) {
    const u = (i * 7919 + seed) % users;
    lines.push([u % 5 === 0 ? `${prefix}-a-user-id-longer-than-the-inline-bytes-${u}` : `${prefix}${u}`, i % 2, (i * 31 + seed) % 1000]);
  }
  return lines;
}

describe('usage exchange between worker threads', () => {
  for (const workers of [2, 3]) {
    it(`${workers} workers: each keeps its block of partitions with every worker's usage of it, a user in one worker only`, async () => {
      // Users shared by every worker, and users only one worker reads.
      const linesByWorker = Array.from({ length: workers }, (_, w) => [...linesOf('shared', 200, w), ...linesOf(`own${w}-`, 50, w)]);
      const got = await exchangeIn(linesByWorker, Array(workers).fill(0));
      expect(got.map((g) => g.exchanged)).toEqual(Array(workers).fill(true));
      const all = new Map<string, number[]>();
      // Workers are numbered as they arrive: each image's partitions are one block, a different one each.
      const blocks = new Set<number>();
      for (const g of got) {
        const partitions = [...usageByKey(g.image).keys()].map((key) => hashBytes(Buffer.from(key), 0, Buffer.byteLength(key)) >>> 29);
        const block = Array.from({ length: workers }, (_, w) => blockOf(w, workers, 8)).findIndex(([from, to]) => partitions.every((p) => p >= from && p < to));
        expect(block).toBeGreaterThanOrEqual(0);
        blocks.add(block);
        for (const [key, row] of usageByKey(g.image)) {
          expect(all.has(key)).toBe(false);
          all.set(key, row);
        }
      }
      expect(blocks.size).toBe(workers);
      expect(all).toEqual(oneTable(linesByWorker.flat()));
    });
  }

  it('a worker that is not partitioned vetoes: every worker keeps its whole table', async () => {
    const linesByWorker = [linesOf('shared', 100, 1), linesOf('shared', 100, 2), linesOf('shared', 3, 3)];
    const got = await exchangeIn(linesByWorker, [0, 0, 1000]);
    expect(got.map((g) => g.exchanged)).toEqual([false, false, false]);
    for (const [w, g] of got.entries()) expect(usageByKey(g.image)).toEqual(oneTable(linesByWorker[w]!));
  });
});
