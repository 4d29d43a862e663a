/** Piscina worker entry: the map and flush functions of the parallel engine's jobs, by name. */
import { flushBillingUsage, mapBillingShards, type BillingFlushTask, type BillingMapTask } from './jobs/billing-map.js';
import { moveShardResult, moveUsagePartial, type ShardResult, type UsagePartial } from './scan/partial.js';

export async function mapBilling(task: BillingMapTask): Promise<ShardResult> {
  return moveShardResult(await mapBillingShards(task));
}

export function flushBilling(task: BillingFlushTask): UsagePartial {
  return moveUsagePartial(flushBillingUsage(task));
}
