import { describe, expect, it } from 'vitest';
import { explainUnknownTasks, unknownTasksMessage } from './near-miss.js';

describe('unknown tasks, explained', () => {
  it('names the most frequent first, with the configured task one edit or a case away', () => {
    const unknown = new Map([['login', 2011], ['refundOrder', 3], ['logni', 3]]);
    expect(explainUnknownTasks(unknown, ['Login', 'createOrder'])).toEqual([
      { task: 'login', records: 2011, didYouMean: 'RATE_Login' },
      { task: 'logni', records: 3 },
      { task: 'refundOrder', records: 3 },
    ]);
  });

  it('says rates with RATE_ variables and the plan with a pricing plan; one record is a record', () => {
    const unknown = new Map([['login', 2011], ['x', 1]]);
    expect(unknownTasksMessage(unknown, ['Login'])).toBe('records name tasks with no rate, rejected as unknown_task: `login` (2,011 records): did you mean `RATE_Login`?; `x` (1 record)');
    expect(unknownTasksMessage(unknown, ['Login'], 'tasks.')).toBe(
      'records name tasks the pricing plan does not price, rejected as unknown_task: `login` (2,011 records): did you mean `tasks.Login`?; `x` (1 record)',
    );
  });

  it('counts the tasks past the first five', () => {
    const unknown = new Map(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'].map((t) => [t, 1] as const));
    expect(unknownTasksMessage(unknown, [])).toMatch(/; and 2 more tasks$/);
    unknown.delete('a7');
    expect(unknownTasksMessage(unknown, [])).toMatch(/; and 1 more task$/);
  });
});
