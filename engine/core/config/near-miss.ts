/**
 * Unknown tasks explained: a task in the logs with no `RATE_<task>` is usually a rate with a
 * typo. The configured task that differs only in case, or by one edit (insert, delete,
 * substitute, or swap of neighbours), is suggested.
 */
import { countText } from '../count-text.js';

/** True when `a` and `b` are one insertion, deletion, substitution or adjacent swap apart. */
export function oneEditApart(a: string, b: string): boolean {
  if (a === b) return false;
  const x = [...a];
  const y = [...b];
  if (Math.abs(x.length - y.length) > 1) return false;
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  const tail = (p: number, q: number) => x.slice(p).join('') === y.slice(q).join('');
  if (x.length === y.length) return tail(i + 1, i + 1) || (x[i] === y[i + 1] && x[i + 1] === y[i] && tail(i + 2, i + 2));
  return x.length > y.length ? tail(i + 1, i) : tail(i, i + 1);
}

/** The configured task a log's unknown task most likely meant, if any: same letters in another case first, then one edit. */
export function nearestTask(unknown: string, configured: readonly string[]): string | undefined {
  const lower = unknown.toLowerCase();
  return configured.find((t) => t.toLowerCase() === lower) ?? configured.find((t) => oneEditApart(t, unknown));
}

export interface UnknownTaskNote {
  readonly task: string;
  readonly records: number;
  /** The configured task to suggest, as its variable name (`RATE_Login`). */
  readonly didYouMean?: string;
}

/** The most frequent unknown tasks (ties by name), each with a suggestion where one fits. */
export function explainUnknownTasks(unknown: ReadonlyMap<string, number>, configured: readonly string[], most = 5, prefix = 'RATE_'): UnknownTaskNote[] {
  return [...unknown]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, most)
    .map(([task, records]) => {
      const near = nearestTask(task, configured);
      return near === undefined ? { task, records } : { task, records, didYouMean: `${prefix}${near}` };
    });
}

/**
 * One line for people: `login` (2,000 records): did you mean `RATE_Login`?; … With a pricing
 * plan (`prefix` `tasks.`), the suggestion names the plan's task: `tasks.Login`.
 */
export function unknownTasksMessage(unknown: ReadonlyMap<string, number>, configured: readonly string[], prefix = 'RATE_'): string {
  const notes = explainUnknownTasks(unknown, configured, 5, prefix);
  const parts = notes.map((n) => `\`${n.task}\` (${countText(n.records)} ${n.records === 1 ? 'record' : 'records'})${n.didYouMean === undefined ? '' : `: did you mean \`${n.didYouMean}\`?`}`);
  const more = unknown.size - notes.length;
  const what = prefix === 'RATE_' ? 'tasks with no rate' : 'tasks the pricing plan does not price';
  return `records name ${what}, rejected as unknown_task: ${parts.join('; ')}${more > 0 ? `; and ${more} more ${more === 1 ? 'task' : 'tasks'}` : ''}`;
}
