/** Piscina worker entry: the map functions of the parallel engine's jobs, by name. */
import { mapBillingShard, type BillingMapTask } from './jobs/billing-map.js';
import { movePartial, type ShardPartial } from './scan/partial.js';

export async function mapBilling(task: BillingMapTask): Promise<ShardPartial> {
  return movePartial(await mapBillingShard(task));
}
