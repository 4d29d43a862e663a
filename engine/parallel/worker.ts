/** Piscina worker entry: the map and flush functions of the parallel engine's jobs, by name. */
import { flushBillingUsage, mapBillingShards, type BillingFlushTask, type BillingMapTask } from './jobs/billing-map.js';
import { moveShardResult, moveTableImage, type ShardResult } from './scan/partial.js';
import type { TableImage } from './scan/user-table.js';

export async function mapBilling(task: BillingMapTask): Promise<ShardResult> {
  return moveShardResult(await mapBillingShards(task));
}

export function flushBilling(task: BillingFlushTask): TableImage {
  return moveTableImage(flushBillingUsage(task));
}
