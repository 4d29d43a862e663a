import { describe, expect, it, vi } from 'vitest';
import { createProgress, progressLog, type ProgressReport } from './progress.js';

const MIB = 1024 * 1024;

describe('progress as log lines (no terminal, or JSON logs)', () => {
  it('one line per interval at most, the first after one interval: a short run logs none', () => {
    const lines: ProgressReport[] = [];
    let now = 1_000;
    const p = progressLog(100 * MIB, (r) => lines.push(r), 30_000, () => now);
    now += 29_999;
    p.add(10 * MIB);
    expect(lines).toEqual([]);
    now += 1; // 30 s in: 10 MiB read of 100
    p.add(0);
    expect(lines).toEqual([{ bytes_read: 10 * MIB, bytes_total: 100 * MIB, percent: 10, mib_per_s: 0.3 }]);
    now += 10_000;
    p.add(40 * MIB);
    expect(lines).toHaveLength(1);
    now += 20_000; // 60 s in: 50 MiB
    p.add(0);
    expect(lines[1]).toEqual({ bytes_read: 50 * MIB, bytes_total: 100 * MIB, percent: 50, mib_per_s: 0.8 });
    p.stop();
  });

  it('never says more than the total, and rounds the share down (99.9, not 100, before the end)', () => {
    const lines: ProgressReport[] = [];
    let now = 0;
    const p = progressLog(1000, (r) => lines.push(r), 10, () => now);
    now = 10;
    p.add(999);
    now = 20;
    p.add(5);
    expect(lines.map((l) => [l.bytes_read, l.percent])).toEqual([
      [999, 99.9],
      [1000, 100],
    ]);
    p.stop();
  });

  it('on a timer too: a run whose reading stalls still logs a line each interval, until stop(), and none after it', () => {
    vi.useFakeTimers();
    try {
      const lines: ProgressReport[] = [];
      const p = progressLog(100 * MIB, (r) => lines.push(r), 30_000);
      p.add(10 * MIB);
      vi.advanceTimersByTime(30_000); // nothing read since: the line still comes
      expect(lines.map((l) => l.bytes_read)).toEqual([10 * MIB]);
      vi.advanceTimersByTime(30_000);
      expect(lines.map((l) => [l.bytes_read, l.mib_per_s])).toEqual([
        [10 * MIB, 0.3],
        [10 * MIB, 0.2],
      ]);
      p.stop();
      vi.advanceTimersByTime(90_000);
      expect(lines).toHaveLength(2);
      // Bytes counted after stop() (a late report) bring no line, now or later.
      p.add(10 * MIB);
      vi.advanceTimersByTime(90_000);
      expect(lines).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a line each interval when the clock read falls a little behind the timers: none skipped, however add() and the timer interleave', () => {
    vi.useFakeTimers();
    try {
      const lines: ProgressReport[] = [];
      // Falling 10 ms behind once started: a timer of the interval then fires just before its line is due by that clock.
      let lag = 0;
      const p = progressLog(100 * MIB, (r) => lines.push(r), 30_000, () => Date.now() - lag);
      lag = 10;
      p.add(10 * MIB);
      vi.advanceTimersByTime(30_010);
      expect(lines).toHaveLength(1);
      vi.advanceTimersByTime(15_000);
      p.add(10 * MIB); // not due: no line, and the timer keeps its time
      vi.advanceTimersByTime(15_000);
      expect(lines.map((l) => l.bytes_read)).toEqual([10 * MIB, 20 * MIB]);
      vi.advanceTimersByTime(30_000);
      expect(lines).toHaveLength(3);
      p.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('off, or nothing to read: nothing at all', () => {
    const lines: ProgressReport[] = [];
    for (const p of [createProgress(100, 'mr', 'off', (r) => lines.push(r)), createProgress(0, 'mr', 'log', (r) => lines.push(r))]) {
      p.add(100);
      p.stop();
    }
    expect(lines).toEqual([]);
  });
});
