/** The bound of a worker's usage table (README decision 40): users, records' bytes and long ids' bytes. */
import { describe, expect, it } from 'vitest';
import { USAGE_TABLE_RECORD_BYTES, usageTableBound } from './billing.js';
import { INLINE_KEY_BYTES, boundEntries, recordBytes } from '../scan/user-table.js';

describe('usageTableBound', () => {
  it('2^20 users in records five columns wide, fewer when records would pass their bytes (199,728 at 40 columns)', () => {
    expect(boundEntries(usageTableBound(), 5)).toBe(1 << 20);
    expect(boundEntries(usageTableBound(), 40)).toBe(199_728);
    for (const columns of [0, 1, 5, 6, 7, 40, 1000]) expect(boundEntries(usageTableBound(), columns) * recordBytes(columns)).toBeLessThanOrEqual(USAGE_TABLE_RECORD_BYTES);
  });

  it('a table of UUIDs (36 bytes, longer than a record holds) reaches the users bound before the long ids’ bound; 327,680 ids of 128 bytes', () => {
    expect(36).toBeGreaterThan(INLINE_KEY_BYTES);
    const { entries, longKeyBytes } = usageTableBound();
    expect(Math.floor(longKeyBytes / 36)).toBeGreaterThanOrEqual(entries);
    expect(longKeyBytes / 128).toBe(327_680);
  });

  it('a part given (tests make the bound small) replaces that part only', () => {
    expect(usageTableBound({ entries: 10 })).toEqual({ ...usageTableBound(), entries: 10 });
    expect(usageTableBound({ longKeyBytes: 50 })).toEqual({ entries: 1 << 20, recordBytes: USAGE_TABLE_RECORD_BYTES, longKeyBytes: 50 });
  });
});
