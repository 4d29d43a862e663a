/**
 * Duplicate deliveries in the cluster (SPEC "Duplicate deliveries"): the second stage of the
 * spark job, on the billing query's cached result (billing-sql.ts, with its `dedupe` option),
 * applied only when some valid line has an identity (`dkey`: the request id, or the line).
 *
 * Input order is the client's path order (a file's place in the sorted list, given as a map
 * from the cluster's file name to it), then the line's position in the file: the split's
 * start (`bs`) and the read position inside the split (`id`). Each key's rows are numbered in
 * that order (row_number over a window partitioned by the key: the key's bytes decide
 * equality, the hash only places the partition); the first keeps its kind (accepted or out
 * of window), later ones become KIND.duplicate, and `conflict` when user, task, timestamp
 * text, status or duration differ from the first's. Rows without a key pass through.
 */
import type { SqlValue } from '@mr/spark-connect';
import { KIND, type BillingQuery } from './billing-sql.js';

/** Columns of the deduplicated table: the billing result's, then conflict, differs (field names), fidx. */
export function dedupeQuery(agg: string, fileOrder: ReadonlyMap<string, number>): BillingQuery {
  const args: Record<string, SqlValue> = {};
  const pairs: string[] = [];
  let i = 0;
  for (const [path, order] of fileOrder) {
    args[`dp${i}`] = path;
    pairs.push(`:dp${i}, ${order}`);
    i++;
  }
  if (pairs.length === 0) throw new Error('dedupeQuery: no file holds a key');
  const fields = [
    ['user', 'usr'],
    ['task', 'task'],
    ['timestamp', 'ts'],
    ['status', 'stv'],
    ['duration', 'dur'],
  ];
  const differs = `concat_ws(',', ${fields.map(([name, col]) => `IF(fst.${col} <=> ${col}, NULL, '${name}')`).join(', ')})`;
  const cols = 'r, usr, task, path, bs, id, raw, n, dur, dkey, ts, stv';
  const query = `
WITH
  keyed AS (SELECT *, element_at(map(${pairs.join(', ')}), path) AS fidx FROM ${agg} WHERE dkey IS NOT NULL),
  ranked AS (
    SELECT *, row_number() OVER w AS rn,
      first_value(named_struct('usr', usr, 'task', task, 'ts', ts, 'stv', stv, 'dur', dur, 'fidx', fidx)) OVER w AS fst
    FROM keyed
    WINDOW w AS (PARTITION BY dkey ORDER BY fidx, bs, id)
  ),
  judged AS (SELECT *, IF(rn = 1, '', ${differs}) AS differs FROM ranked)
SELECT CAST(IF(rn = 1, k, ${KIND.duplicate}) AS TINYINT) AS k, ${cols}, differs <> '' AS conflict, IF(differs = '', NULL, differs) AS differs,
  fidx, IF(rn = 1, NULL, fst.fidx) AS first_fidx
FROM judged
UNION ALL
SELECT k, ${cols}, false AS conflict, CAST(NULL AS STRING) AS differs, CAST(NULL AS INT) AS fidx, CAST(NULL AS INT) AS first_fidx
FROM ${agg} WHERE dkey IS NULL
`;
  return { query, args };
}
