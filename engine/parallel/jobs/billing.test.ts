/** The bound of a worker's usage table (README decision 40): users, records' bytes and long ids' bytes. */
import { describe, expect, it } from 'vitest';
import { USAGE_TABLE_RECORD_BYTES, usageTableBound } from './billing.js';
import { INLINE_KEY_BYTES, recordBytes } from '../scan/user-table.js';

describe('usageTableBound', () => {
  it('2^20 users at five tasks, fewer when records would pass their bytes (199,728 at 40 tasks)', () => {
    expect(usageTableBound(5).entries).toBe(1 << 20);
    expect(usageTableBound(40).entries).toBe(199_728);
    for (const tasks of [1, 5, 6, 7, 40, 1000]) expect(usageTableBound(tasks).entries * recordBytes(tasks)).toBeLessThanOrEqual(USAGE_TABLE_RECORD_BYTES);
  });

  it('a table of UUIDs (36 bytes, longer than a record holds) reaches the users bound before the long ids’ bound; 327,680 ids of 128 bytes', () => {
    expect(36).toBeGreaterThan(INLINE_KEY_BYTES);
    const { entries, longKeyBytes } = usageTableBound(5);
    expect(Math.floor(longKeyBytes / 36)).toBeGreaterThanOrEqual(entries);
    expect(longKeyBytes / 128).toBe(327_680);
  });

  it('a part given (tests make the bound small) replaces that part only', () => {
    expect(usageTableBound(5, { entries: 10 })).toEqual({ entries: 10, longKeyBytes: usageTableBound(5).longKeyBytes });
    expect(usageTableBound(5, { longKeyBytes: 50 })).toEqual({ entries: 1 << 20, longKeyBytes: 50 });
  });
});
