/** finalizeBill over a sorted usage stream (the spark engine's) gives the same bill as over a table. */
import { describe, expect, it } from 'vitest';
import { billingConfigFromEnv } from '../config/config.js';
import { collectBill, finalizeBill } from './finalize.js';
import { compareUtf8 } from './order.js';
import { UsageTable, UserUsage, UserUsageAccess, type SortedUsage } from './usage.js';

const config = billingConfigFromEnv({ RATE_a: '0.005', RATE_b: '0.000000000001', RATE_c: '123456.789' });

function sorted(table: UsageTable, order: (a: string, b: string) => number = compareUtf8): SortedUsage {
  const ids = [...table.users.keys()].sort(order);
  return {
    taskCount: table.taskCount,
    async *users() {
      for (const user of ids) yield { user, usage: table.users.get(user)! };
    },
  };
}

/** The same stream read synchronously (usersSync), as a merge of tables offers it; its async side must not be read. */
function sortedSync(table: UsageTable, order: (a: string, b: string) => number = compareUtf8): SortedUsage {
  const ids = [...table.users.keys()].sort(order);
  return {
    taskCount: table.taskCount,
    users() {
      throw new Error('users() read although usersSync() is there');
    },
    *usersSync() {
      for (const user of ids) yield { user, usage: table.users.get(user)! };
    },
  };
}

/** The same stream by its ids' bytes (keyed), as a merge of tables offers it for a large bill; neither string side may be read. */
function sortedKeyed(table: UsageTable, order: (a: string, b: string) => number = compareUtf8): SortedUsage {
  const ids = [...table.users.keys()].sort(order);
  return {
    taskCount: table.taskCount,
    users() {
      throw new Error('users() read although keyed() is there');
    },
    keyed() {
      let k = -1;
      // Every id in one buffer, as a table's records hold them, each after a byte that is not part of it.
      const encoded = ids.map((id) => Buffer.from(id, 'utf8'));
      const bytes = Buffer.concat(encoded.flatMap((b) => [Buffer.from([0x7c]), b]));
      const starts: number[] = [];
      encoded.reduce((at, b) => (starts.push(at + 1), at + 1 + b.length), 0);
      const rows = new UserUsageAccess(new UserUsage(table.taskCount));
      const users = {
        bytes: bytes as Uint8Array,
        at: 0,
        length: 0,
        rows,
        row: 0,
        closed: false,
        next() {
          if (++k >= ids.length) return false;
          users.at = starts[k]!;
          users.length = encoded[k]!.length;
          rows.u = table.users.get(ids[k]!)!;
          return true;
        },
        close() {
          users.closed = true;
        },
      };
      return users;
    },
  };
}

describe.each([
  ['async', sorted],
  ['synchronous', sortedSync],
  ['by its ids’ bytes', sortedKeyed],
])('finalizeBill on a sorted usage stream read %s', (_mode, stream) => {
  const table = new UsageTable(3);
  const users = ['b', 'a', '😀', '\uffff', 'é', '__proto__', 'a0', 'A'];
  users.forEach((u, i) => {
    table.add(u, i % 3, i + 1, 1000 * (i + 1));
    table.row(u).addBig((i + 1) % 3, 2, 2n ** 60n + BigInt(i));
  });

  it('bills like the table, in the same order', async () => {
    expect(await collectBill(stream(table), config)).toEqual(await collectBill(table, config));
  });

  it('refuses a stream out of UTF-8 byte order', async () => {
    // UTF-16 order puts U+FFFF after the emoji; UTF-8 byte order puts it before.
    const wrong = stream(table, (a, b) => (a < b ? -1 : a > b ? 1 : 0));
    await expect(finalizeBill(wrong, config, { task() {}, user() {} })).rejects.toThrow(/out of order/);
  });

  it('flushes every 8,192 users and at the end', async () => {
    const many = new UsageTable(3);
    for (let i = 0; i < 20_000; i++) many.add(`user${String(i).padStart(5, '0')}`, i % 3, 1, i);
    const seen: number[] = [];
    let users = 0;
    const sink = {
      task() {},
      user() {
        users++;
      },
      async flush() {
        seen.push(users);
      },
    };
    await finalizeBill(stream(many), config, sink);
    expect(seen).toEqual([8192, 16384, 20_000]);
  });
});

describe('finalizeBill on a stream by its ids’ bytes', () => {
  it('refuses a user given twice (the order is strict), naming them as the bill would', async () => {
    const table = new UsageTable(3);
    for (const u of ['a', '\uFEFFb', '\uFEFFc']) table.add(u, 0, 1, 5);
    const stream = sortedKeyed(table);
    const keyed = stream.keyed!.bind(stream);
    // The second user given again after itself.
    stream.keyed = () => {
      const users = keyed();
      let calls = 0;
      let last = { at: 0, length: 0 };
      const next = users.next.bind(users);
      return Object.assign(users, {
        next() {
          if (++calls === 3) return Object.assign(users, last) !== null;
          const more = next();
          last = { at: users.at, length: users.length };
          return more;
        },
      });
    };
    await expect(finalizeBill(stream, config, { task() {}, user() {} })).rejects.toThrow(/out of order: "\uFEFFb" before "\uFEFFb"/);
  });

  it('closes the stream when a sink fails', async () => {
    const table = new UsageTable(3);
    for (const u of ['a', 'b', 'c']) table.add(u, 0, 1, 5);
    const stream = sortedKeyed(table);
    const keyed = stream.keyed!.bind(stream);
    let users: ReturnType<typeof keyed> | undefined;
    stream.keyed = () => (users = keyed());
    const failing = {
      task() {},
      user() {
        throw new Error('disk full');
      },
    };
    await expect(finalizeBill(stream, config, failing)).rejects.toThrow(/disk full/);
    expect((users as unknown as { closed: boolean }).closed).toBe(true);
  });
});

describe('finalizeBill on a long sorted usage stream', () => {
  it('holds one user at a time: a generated stream of 200,000 users', async () => {
    let n = 0;
    const stream: SortedUsage = {
      taskCount: 3,
      async *users() {
        for (let i = 0; i < 200_000; i++) {
          const u = new UserUsage(3);
          u.add(i % 3, 1, i);
          yield { user: `user${String(i).padStart(7, '0')}`, usage: u };
        }
      },
    };
    const totals = await finalizeBill(stream, config, { task() {}, user() { n++; } });
    expect(n).toBe(200_000);
    expect(totals.users).toBe(200_000);
  });
});
