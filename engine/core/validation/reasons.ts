/**
 * Reject reasons, in the order the contract checks them (SPEC "Field rules").
 * The first failing rule names the reason.
 */
export const REJECT_REASONS = [
  'line_too_long',
  'bad_encoding',
  'bad_wrapper',
  'bad_field_count',
  'bad_json',
  'bad_timestamp',
  'bad_user',
  'unknown_task',
  'bad_status',
  'bad_duration',
  'bad_request_id',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

/** Index of a reason in REJECT_REASONS; compact form used in counters and worker messages. */
export const REASON_INDEX: Readonly<Record<RejectReason, number>> = Object.freeze(
  Object.fromEntries(REJECT_REASONS.map((r, i) => [r, i])) as Record<RejectReason, number>,
);

/** Longest accepted line in bytes, terminator excluded. */
export const MAX_LINE_BYTES = 64 * 1024;

/** Longest raw line kept in the rejects CSV, in bytes. */
export const MAX_REJECT_RAW_BYTES = 1024;

/** Largest user id in UTF-8 bytes. */
export const MAX_USER_BYTES = 128;

/** Largest request id (SPEC "Duplicate deliveries") in UTF-8 bytes. */
export const MAX_REQUEST_ID_BYTES = 128;

export function emptyReasonCounts(): Record<RejectReason, number> {
  return Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
}
