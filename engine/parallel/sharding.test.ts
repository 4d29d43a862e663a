import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIN_TAIL_BYTES, groupShards, mayHaveIdentity, planRun, planShards, splitTail, type Shard } from './sharding.js';
import type { InputFile } from '../core/input/discover.js';
import { cleanupTempDirs, tempDir } from '../../fixtures/harness.js';

afterAll(cleanupTempDirs);

const MiB = 1 << 20;
const plain = (path: string, size: number, format: InputFile['format'] = 'space'): InputFile => ({ path, format, gzip: false, size });

/** Every file's bytes covered once, in order, by contiguous ranges; shard indices 0, 1, 2, … */
function expectCover(tasks: readonly (readonly Shard[])[], files: readonly InputFile[]): void {
  const shards = tasks.flat();
  expect(shards.map((s) => s.index)).toEqual(shards.map((_, i) => i));
  for (const f of files) {
    const mine = shards.filter((s) => s.path === f.path);
    expect(mine[0]!.start).toBe(0);
    for (let i = 1; i < mine.length; i++) expect(mine[i]!.start).toBe(mine[i - 1]!.end);
    expect(mine.at(-1)!.end).toBe(f.size);
  }
}

describe('splitTail: the last tasks cut finer so every worker stays busy to the end', () => {
  it('cuts the tasks of the last workers × shard bytes into quarters and keeps the rest', () => {
    const files = [plain('a.log', 1024 * MiB)];
    const size = 64 * MiB;
    const tasks = splitTail(groupShards(planShards(files, size), files, size), 2, size);
    expectCover(tasks, files);
    const sizes = tasks.map((t) => t[0]!.end - t[0]!.start);
    // 14 whole 64 MiB tasks, then the last 128 MiB in 16 MiB pieces.
    expect(sizes).toEqual([...Array<number>(14).fill(64 * MiB), ...Array<number>(8).fill(16 * MiB)]);
  });

  it('covers every byte once, in order, for any files, shard size and workers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 300 * MiB }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(4 * MiB, 7 * MiB + 3, 64 * MiB),
        (sizes, workers, size) => {
          const files = sizes.map((n, i) => plain(`f${i}.log`, n));
          const tasks = splitTail(groupShards(planShards(files, size), files, size), workers, size);
          expectCover(tasks, files);
          // A range below MIN_TAIL_BYTES is only ever a file's last one.
          for (const s of tasks.flat()) if (s.end - s.start < MIN_TAIL_BYTES) expect(s.end).toBe(files.find((f) => f.path === s.path)!.size);
        },
      ),
    );
  });

  it('leaves a CSV range holding the header whole, an S3 range whole, and one worker without a tail', () => {
    const shard: Shard = { index: 0, path: 'a.csv', format: 'csv', gzip: false, start: 0, end: 8 * MiB };
    expect(splitTail([[shard]], 2, 8 * MiB)).toEqual([[shard]]);
    // An object in S3 keeps its large shards (one streamed GET each).
    const s3: Shard = { index: 0, path: 's3://b/k.log', format: 'space', gzip: false, start: 0, end: 256 * MiB, s3: { bucket: 'b', key: 'k.log' } as Shard['s3'] };
    expect(splitTail([[s3]], 2, 64 * MiB)).toEqual([[s3]]);
    const one = [plain('b.log', 256 * MiB)];
    const planned = groupShards(planShards(one, 64 * MiB), one, 64 * MiB);
    expect(splitTail(planned, 1, 64 * MiB)).toEqual(planned);
  });
});

describe('planRun: dedupe keeps small map tasks only where records can have an identity', () => {
  const DEDUPE = 16 * MiB;
  const largest = (tasks: readonly (readonly Shard[])[]) => Math.max(...tasks.flat().map((s) => s.end - s.start));
  /** A CSV file of `size` bytes as planned: its header is read from disk, its size taken as given. */
  const csvFile = (header: string, size: number): InputFile => {
    const path = join(tempDir(), 'a.csv');
    writeFileSync(path, `${header}\n2025-05-02T23:16:50Z,user1,login,200,5\n`);
    return { path, format: 'csv', gzip: false, size };
  };

  it('space-format logs keep the default shards under --dedupe auto; line dedupe and JSON lines take the small ones', () => {
    const space = [plain('a.log', 1024 * MiB)];
    const auto = planRun(space, { workers: 2, dedupe: 'auto', dedupeShardBytes: DEDUPE });
    expect(auto).toEqual(planRun(space, { workers: 2, dedupeShardBytes: DEDUPE }));
    expect(largest(auto)).toBe(64 * MiB);
    expectCover(auto, space);
    expect(largest(planRun(space, { workers: 2, dedupe: 'line', dedupeShardBytes: DEDUPE }))).toBeLessThanOrEqual(DEDUPE);
    const mixed = [plain('a.log', 1024 * MiB), plain('b.jsonl', 8 * MiB, 'jsonl')];
    const small = planRun(mixed, { workers: 2, dedupe: 'auto', dedupeShardBytes: DEDUPE });
    expect(largest(small)).toBeLessThanOrEqual(DEDUPE);
    expectCover(small, mixed);
  });

  it('CSV takes the small shards when its header has a request_id column, or no shard knows its header', () => {
    const without = [csvFile('timestamp,user,task,status,duration_ms', 1024 * MiB)];
    expect(largest(planRun(without, { workers: 2, dedupe: 'auto', dedupeShardBytes: DEDUPE }))).toBe(64 * MiB);
    const withIds = [csvFile('request_id,timestamp,user,task,status,duration_ms', 1024 * MiB)];
    expect(largest(planRun(withIds, { workers: 2, dedupe: 'auto', dedupeShardBytes: DEDUPE }))).toBeLessThanOrEqual(DEDUPE);
    // One shard holds the header: its layout is read by the worker, so the file may have ids.
    const oneShard = planShards([csvFile('timestamp,user,task,status,duration_ms', 8 * MiB)], 64 * MiB);
    expect(oneShard).toHaveLength(1);
    expect(mayHaveIdentity([oneShard], 'auto')).toBe(true);
    expect(mayHaveIdentity([planShards([plain('a.log', 8 * MiB)], 64 * MiB)], 'auto')).toBe(false);
  });

  it("reads a local CSV file's header once however often its shards are planned", () => {
    const file = csvFile('request_id,timestamp,user,task,status,duration_ms', 1024 * MiB);
    const headers = new Map();
    const first = planShards([file], 64 * MiB, headers);
    expect(headers.get(file.path)?.layout.requestId).toBe(0);
    // The file is gone: a plan that read the header again would fail.
    rmSync(file.path);
    const second = planShards([file], DEDUPE, headers);
    expect(second.filter((s) => s.csv !== undefined)).toHaveLength(second.length - 1);
    expect(second[1]!.csv).toEqual(first[1]!.csv);
    expect(() => planShards([file], DEDUPE)).toThrow();
  });

  it('an object in S3 is read in tasks of one 16 MiB shard each, with or without dedupe', () => {
    const object: InputFile = { path: 's3://b/k.log', format: 'space', gzip: false, size: 256 * MiB, s3: { bucket: 'b', key: 'k.log' } as InputFile['s3'] };
    const files = [object, plain('a.log', 8 * MiB), plain('b.log', 8 * MiB)];
    for (const dedupe of [undefined, 'auto', 'line'] as const) {
      const tasks = planRun(files, { workers: 2, dedupe, dedupeShardBytes: DEDUPE });
      expectCover(tasks, files);
      const remote = tasks.filter((t) => t.some((s) => s.s3 !== undefined));
      expect(remote).toHaveLength(16);
      for (const t of remote) expect(t.map((s) => s.end - s.start)).toEqual([16 * MiB]);
    }
    // Local small files still share a task.
    expect(planRun(files, { workers: 2, dedupeShardBytes: DEDUPE }).filter((t) => t.length === 2)).toHaveLength(1);
  });

  it('an explicit shard size is kept as given, with or without dedupe', () => {
    const files = [plain('a.log', 256 * MiB), plain('b.jsonl', 256 * MiB, 'jsonl')];
    const given = planRun(files, { workers: 2, shardBytes: 48 * MiB, dedupe: 'auto', dedupeShardBytes: DEDUPE });
    expect(given).toEqual(groupShards(planShards(files, 48 * MiB), files, 48 * MiB));
  });
});
