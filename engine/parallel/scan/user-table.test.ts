import { describe, expect, it } from 'vitest';
import { UserTable, hashBytes } from './user-table.js';
import { usageEntries } from '../../core/billing/usage.js';

function add(t: UserTable, user: string, task: number, requests: number, duration: number): void {
  const b = Buffer.from(user, 'utf8');
  t.add(t.entry(b, 0, b.length, hashBytes(b, 0, b.length)), task, requests, duration);
}

describe('UserTable as the rows finalize reads', () => {
  it('ASCII ids (decoded in one pass) survive growth', () => {
    const t = new UserTable(2, 4);
    for (let i = 0; i < 5000; i++) add(t, `u${i}`, i % 2, 1, i);
    add(t, 'u7', 1, 2, 5);
    expect(t.size).toBe(5000);
    const got = usageEntries(t);
    expect(got.get('u0')).toEqual([{ requests: 1, durationMs: 0n }, { requests: 0, durationMs: 0n }]);
    expect(got.get('u7')).toEqual([{ requests: 0, durationMs: 0n }, { requests: 3, durationMs: 12n }]);
    expect(got.get('u4999')).toEqual([{ requests: 0, durationMs: 0n }, { requests: 1, durationMs: 4999n }]);
    expect(t.durationNumber(t.size - 1, 1)).toBe(4999);
  });

  it('non-ASCII ids, a leading U+FEFF kept as part of the id', () => {
    const t = new UserTable(1);
    for (const u of ['é', '\uFEFFbob', 'bob', '\u{1F600}x']) add(t, u, 0, 1, 1);
    expect([...usageEntries(t).keys()]).toEqual(['é', '\uFEFFbob', 'bob', '\u{1F600}x']);
  });

  it('a duration sum carried above 2^52 is exact and not offered as a number', () => {
    const t = new UserTable(2);
    add(t, 'big', 0, 1, 2 ** 52 - 1);
    add(t, 'big', 0, 1, 2 ** 52 - 1);
    add(t, 'big', 1, 1, 7);
    expect(t.durationNumber(0, 0)).toBe(-1);
    expect(t.duration(0, 0)).toBe(2n * (2n ** 52n - 1n));
    expect(t.durationNumber(0, 1)).toBe(7);
  });
});
