/**
 * Which path a shard's lines take in a worker: gzip files, the shapes of CSV and JSON lines that
 * writers commonly give (every field quoted, nested objects), and space-format lines and JSON
 * lines wrapped by Fluent Bit or CloudWatch are read by the fast paths,
 * and only the lines those give up reach the exact path's parser. (That the two paths bill
 * alike is held by the property tests: scan/fast-lines.test.ts, engine.test.ts.)
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { billingConfigFromEnv } from '../../core/config/config.js';
import { RecordParser } from '../../core/formats/records.js';
import { mapBillingShards, type BillingMapTask } from './billing-map.js';
import type { Shard } from '../sharding.js';
import { TaskColumns } from '../scan/task-columns.js';

const dir = mkdtempSync(join(tmpdir(), 'mr-map-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const config = billingConfigFromEnv({ RATE_login: '0.005', RATE_createOrder: '0.010' });
let jobs = 0;

function task(shard: Shard): BillingMapTask {
  return { jobId: `job-${jobs++}`, usage: { table: { entries: 1_000_000, longKeyBytes: 32 << 20 }, dir: join(dir, 'usage'), partitionFrom: 1 << 15, columns: TaskColumns.sharedMap(config.rates.length) }, shards: [shard], config, window: {} };
}

const N = 3000;
const rows = Array.from({ length: N }, (_, i) => ({ ts: `2025-05-05T00:03:${String(i % 60).padStart(2, '0')}Z`, user: `user${i % 97}`, task: i % 2 ? 'login' : 'createOrder', status: 200, ms: i % 5000 }));
const FILES: Record<string, string> = {
  'space.log': rows.map((r) => `${r.ts} ${r.user} ${r.task} ${r.status} ${r.ms}ms`).join('\n'),
  'quoted.csv': ['"timestamp","user","task","status","duration_ms"', ...rows.map((r) => `"${r.ts}","${r.user}","${r.task}","${r.status}","${r.ms}"`)].join('\r\n'),
  'nonnumeric.csv': ['timestamp,user,task,status,duration_ms', ...rows.map((r) => `"${r.ts}","${r.user}","${r.task}",${r.status},${r.ms}`)].join('\n'),
  'nested.jsonl': rows.map((r) => JSON.stringify({ timestamp: r.ts, user: r.user, task: r.task, status: r.status, duration_ms: r.ms, client: { ip: '10.0.0.1', tags: ['a', 1, null] } })).join('\n'),
  // Read with --wrapped fluent-bit: space-format lines in Fluent Bit's records.
  'fluent-bit.log': rows.map((r) => JSON.stringify({ date: 1714694210.5, log: `${r.ts} ${r.user} ${r.task} ${r.status} ${r.ms}ms\n`, kubernetes: { pod_name: 'api-1', labels: { app: 'api' } } })).join('\n'),
  // JSON lines inside the wrappers (--wrapped fluent-bit|cloudwatch --format jsonl): escaped inside Fluent Bit's string, plain after CloudWatch's timestamp.
  'fluent-bit.jsonl': rows.map((r) => JSON.stringify({ log: `${JSON.stringify({ timestamp: r.ts, user: r.user, task: r.task, status: r.status, duration_ms: r.ms })}\n`, stream: 'stdout' })).join('\n'),
  'cloudwatch.jsonl': rows.map((r) => `2025-05-05T00:04:00.000Z ${JSON.stringify({ timestamp: r.ts, user: r.user, task: r.task, status: r.status, duration_ms: r.ms, client: { ip: '10.0.0.1' } })}`).join('\n'),
  // Read with --wrapped cloudwatch: space-format lines as CloudWatch Logs exports them.
  'cloudwatch.log': rows.map((r, i) => `2025-05-05T00:04:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z ${r.ts} ${r.user} ${r.task} ${r.status} ${r.ms}ms`).join('\n'),
};

describe('the fast paths read', () => {
  for (const [name, text] of Object.entries(FILES)) {
    for (const gzip of [false, true]) {
      it(`${name}${gzip ? '.gz' : ''}: every record billed, none but the first line parsed by the exact path`, async () => {
        const path = join(dir, `${name}${gzip ? '.gz' : ''}`);
        // Terminated: a last line without its newline is read by the exact path.
        const bytes = Buffer.from(`${text}\n`);
        writeFileSync(path, gzip ? gzipSync(bytes) : bytes);
        const parse = vi.spyOn(RecordParser.prototype, 'parse');
        const format = name.endsWith('.log') ? 'space' : name.endsWith('.csv') ? 'csv' : 'jsonl';
        const wrapped = name.startsWith('fluent-bit') ? { kind: 'fluent-bit' as const, key: 'log' } : name.startsWith('cloudwatch') ? { kind: 'cloudwatch' as const, key: 'log' } : undefined;
        const r = await mapBillingShards(task({ index: 0, path, format, gzip, start: 0, end: gzip ? -1 : bytes.length, wrapped }));
        expect(r.counts.accepted).toBe(N);
        // The CSV, JSON lines and wrapped paths leave the line at offset 0 (a BOM's place) to the exact path: for CSV it is the header.
        expect(parse).toHaveBeenCalledTimes(format === 'jsonl' || wrapped !== undefined ? 1 : 0);
      });
    }
  }
});
