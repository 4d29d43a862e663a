/**
 * What a map task hands the main thread must leave the worker's buffers attached (scan/partial.ts
 * "Detached buffers"): its result is copied by the structured clone, not moved, and its shuffle
 * output lies in shared memory. Checked on the worker entry's own function, on a shard with
 * rejects and a CSV shard with request ids (the shuffle).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { transferableSymbol } from 'piscina';
import { billingConfigFromEnv } from '../core/config/config.js';
import { mapBilling } from './worker.js';
import type { BillingMapResult, BillingMapTask } from './jobs/billing-map.js';
import type { Shard } from './sharding.js';
import { workerFile } from './runtime/pool.js';
import { TaskColumns } from './scan/task-columns.js';

const dir = mkdtempSync(join(tmpdir(), 'mr-worker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = billingConfigFromEnv({ RATE_login: '0.005', RATE_createOrder: '0.010' });

function task(shard: Shard, dedupe?: 'auto'): BillingMapTask {
  return {
    jobId: `job-${shard.path}`,
    usage: { table: { entries: 1_000_000, longKeyBytes: 32 << 20 }, dir: join(dir, 'usage'), partitionFrom: 1 << 15, columns: TaskColumns.sharedMap(config.rates.length) },
    shards: [shard],
    config,
    window: {},
    ...(dedupe === undefined ? {} : { dedupe }),
  };
}

/** The result as the main thread receives it (Piscina posts a movable's value with its transfer list), and the transfer list. */
function post(r: BillingMapResult): { received: BillingMapResult; moved: unknown[] } {
  const moved = transferableSymbol in r ? ((r as unknown as Record<symbol, unknown[]>)[transferableSymbol] ?? []) : [];
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(r, moved as ArrayBuffer[]);
  const received = receiveMessageOnPort(port2)!.message as BillingMapResult;
  port1.close();
  return { received, moved };
}

describe('a map task result', () => {
  it('is copied: the rejects stay attached in the worker after the result is posted', async () => {
    const path = join(dir, 'space.log');
    writeFileSync(path, '2025-05-05T00:03:56Z user1 login 200 612ms\n2025-05-05T00:03:56Z user2 refundOrder 200 612ms\nnot a line\n');
    const r = await mapBilling(task({ index: 0, path, format: 'space', gzip: false, start: 0, end: 200 }));
    expect(r.rejectReasons.length).toBe(2);
    const { received, moved } = post(r);
    expect(moved).toEqual([]);
    expect(r.rejectRaw.byteLength).toBeGreaterThan(0);
    expect(r.rejectReasons.length).toBe(2);
    expect(received.rejectReasons).toEqual(r.rejectReasons);
  });

  it('shares its shuffle output (shared memory, not a transfer)', async () => {
    const path = join(dir, 'ids.csv');
    const header = 'request_id,timestamp,user_id,task,status,duration_ms';
    writeFileSync(path, `${header}\nr1,2025-05-05T00:03:56Z,user1,login,200,612\nr1,2025-05-05T00:03:56Z,user1,login,200,612\n`);
    // From the file's start: the task reads the header itself.
    const r = await mapBilling(task({ index: 0, path, format: 'csv', gzip: false, start: 0, end: 200 }, 'auto'));
    expect(r.shuffle).toBeDefined();
    expect(r.shuffle!.data.byteLength).toBeGreaterThan(0);
    expect(r.shuffle!.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    const { received, moved } = post(r);
    expect(moved).toEqual([]);
    expect(Buffer.from(received.shuffle!.data).equals(Buffer.from(r.shuffle!.data))).toBe(true);
    // One memory on both sides.
    received.shuffle!.data[0] = received.shuffle!.data[0]! ^ 0xff;
    expect(received.shuffle!.data[0]).toBe(r.shuffle!.data[0]);
  });
});

describe('the worker module as built', () => {
  it("never loads Piscina itself (its pool's index cost each worker's start 25 ms; moveWith is the main thread's)", () => {
    // Every module the built worker imports or requires (CommonJS packages are required:
    // `createRequire(import.meta.url)("x")`, renamed createRequire2… in the bundle), followed
    // through the bundle's relative imports.
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*"([^"]+)"|(?:^|\n)\s*import\s*"([^"]+)"|import\("([^"]+)"\)|createRequire\d*\(import\.meta\.url\)\("([^"]+)"\)/g)) {
        const spec = m[1] ?? m[2] ?? m[3] ?? m[4]!;
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
        else bare.add(spec);
      }
    };
    visit(workerFile());
    expect(seen.size).toBeGreaterThan(3);
    // What it does import from outside: Node's modules, so the walk saw the imports.
    expect([...bare].some((s) => s.startsWith('node:'))).toBe(true);
    expect([...bare].filter((s) => s === 'piscina' || s.startsWith('piscina/'))).toEqual([]);
  });
});
