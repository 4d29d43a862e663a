/**
 * The naive engine's seen-id set: records with an identity arrive in input order and are
 * decided at once (the first with its key is billed, later ones are counted) while the seen
 * keys fit the memory budget. Beyond it, the keys seen so far are written, by hash
 * partition, to files in a temporary directory, and every later record with an identity
 * follows them there; finish() then deduplicates partition by partition (records-codec.ts).
 */
import { rmSync } from 'node:fs';
import { makeTempDir } from '../temp-dir.js';
import type { ValidRecord } from './dedupe.js';
import type { RunCounts, UsageTable } from '../billing/usage.js';
import { billedFields, fingerprint, FirstWins, type DedupeSettings } from './dedupe.js';
import { dedupeRecords, IN_WINDOW, PartitionFiles, REMEMBERED } from './records-codec.js';

/** Where a line accumulator sends valid records that have an identity. */
export interface DedupeSink {
  /** `key` is the record's identity; `offset` its line's byte offset in the current file. */
  record(key: string, offset: number, rec: ValidRecord): void;
}

/** Spill partitions of the naive engine. */
const SPILL_PARTITIONS = 64;

export class SeenRecords implements DedupeSink {
  /** The current file's place in path order. */
  order = 0;
  private readonly first: FirstWins;
  private spill: PartitionFiles | null = null;
  private dir: string | null = null;

  constructor(
    private readonly settings: DedupeSettings,
    private readonly counts: RunCounts,
    private readonly usage: UsageTable,
  ) {
    this.first = new FirstWins(counts);
  }

  /** True once the seen keys outgrew memory and records go to files. */
  get spilled(): boolean {
    return this.spill !== null;
  }

  record(key: string, offset: number, rec: ValidRecord): void {
    const fp = fingerprint(rec);
    if (this.spill !== null) {
      this.spill.write(rec.inWindow ? IN_WINDOW : 0, this.order, offset, key, fp);
      return;
    }
    if (this.first.offer(key, fp, this.order, offset)) this.keep(rec.user, rec.task, rec.durationMs, rec.inWindow);
    if (this.first.bytes > this.settings.memoryBytes) this.startSpill();
  }

  private keep(user: string, task: number, durationMs: number, inWindow: boolean): void {
    if (inWindow) {
      this.counts.accepted++;
      this.usage.add(user, task, 1, durationMs);
    } else {
      this.counts.outOfWindow++;
    }
  }

  private startSpill(): void {
    const dir = (this.dir = makeTempDir('mr-dedupe-', 'request ids spilled to disk', this.settings.tmpDir));
    const spill = new PartitionFiles(dir, SPILL_PARTITIONS, 0);
    for (const [key, s] of this.first.entries()) spill.write(REMEMBERED, s.order, s.offset, key, s.fp);
    this.first.clear();
    this.spill = spill;
  }

  /** Decides the spilled records (if any); then every record is counted. */
  finish(): void {
    const spill = this.spill;
    if (spill === null) return;
    spill.close();
    const limits = { memoryBytes: this.settings.memoryBytes, tmpDir: this.dir! };
    spill.paths.forEach((file, i) => {
      dedupeRecords([{ file, pos: 0, len: spill.sizes[i]! }], limits, this.counts, (buf, fs, fe, inWindow) => {
        const f = billedFields(buf.toString('utf8', fs, fe));
        this.keep(f.user, f.task, f.durationMs, inWindow);
      });
      rmSync(file, { force: true });
    });
    this.dispose();
  }

  /** Removes the spill files (also after a failure). */
  dispose(): void {
    if (this.dir !== null) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}
