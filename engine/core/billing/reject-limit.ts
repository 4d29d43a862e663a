/**
 * The reject limit (SPEC "Reject limit and unknown tasks"): `N` rejected lines, or `P%` of
 * the records read, compared exactly in integers. Over the limit a run writes no bill.
 */

export type RejectLimit =
  | { readonly kind: 'count'; readonly max: bigint; readonly text: string }
  /** P% as the integer `scaled` over 10^`decimals`: 1.25% is 125 / 10^2. */
  | { readonly kind: 'percent'; readonly scaled: bigint; readonly decimals: number; readonly text: string };

export const DEFAULT_REJECT_LIMIT = '1%';

/** Parses `N` or `P%` (P matching `\d+(\.\d+)?`, at most 100); null when malformed. */
export function parseRejectLimit(text: string): RejectLimit | null {
  const count = /^(\d+)$/.exec(text);
  if (count !== null) return { kind: 'count', max: BigInt(count[1]!), text };
  const pct = /^(\d+)(?:\.(\d+))?%$/.exec(text);
  if (pct === null) return null;
  const frac = pct[2] ?? '';
  const scaled = BigInt(pct[1]! + frac);
  const decimals = frac.length;
  if (scaled > 100n * 10n ** BigInt(decimals)) return null;
  return { kind: 'percent', scaled, decimals, text };
}

/** True when `rejected` of `records` exceeds the limit: rejected > N, or rejected × 100 > P × records. */
export function overRejectLimit(limit: RejectLimit, rejected: number, records: number): boolean {
  const r = BigInt(rejected);
  if (limit.kind === 'count') return r > limit.max;
  return r * 100n * 10n ** BigInt(limit.decimals) > limit.scaled * BigInt(records);
}
