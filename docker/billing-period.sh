#!/usr/bin/env bash
# billing-period aggregate PATH... [flags]: `mr aggregate` for the previous complete billing
# period, in UTC, with that period's outputs under their own name. The billing CronJob's command
# (installed in the `mr` image as /usr/local/bin/billing-period).
#
#   BILLING_PERIOD      day (default) or month
#   BILLING_AT          the instant the period is taken before (default: now), e.g.
#                       2025-05-03T00:00:00Z bills 2025-05-02; for re-runs and back-fills
#   BILLING_OUTPUT_DIR  where each period's folder goes (default /data/out): the bill is
#                       <dir>/2025-05-02/billing.txt (day) or <dir>/2025-05/billing.txt (month)
#   BILLING_WRAPPED     fluent-bit or cloudwatch: adds --wrapped (logs from Fluent Bit's S3 output
#                       or CloudWatch Logs exports); empty for bare API log lines
#   BILLING_KEY_DAY_GLOB  optional: the day part of the log pipeline's keys as a `date` format,
#                       e.g. '%Y/%m/%d/**' for keys like logs/2025/05/02/23/16/50-objectIdx; adds
#                       one --include per day from the day before the period to the day after it
#                       (records are filed by their shipper's clock, so they may sit one day
#                       off), so only those keys are listed and read. --from/--to still decide
#                       which records are billed.
#
# The period is [start of previous period, start of current period): --from inclusive, --to
# exclusive (SPEC "Time window"). Run at 2025-05-03T02:00:00Z: day -> --from
# 2025-05-02T00:00:00Z --to 2025-05-03T00:00:00Z; month -> 2025-04-01T00:00:00Z to 2025-05-01T00:00:00Z.
# `billing-period --print` prints "FROM TO NAME" and exits. Exit 2 on a bad setting (as mr).
set -euo pipefail

fail() { echo "billing-period: $*" >&2; exit 2; }

period="${BILLING_PERIOD:-day}"
at="${BILLING_AT:-now}"
# GNU date; -u makes dates without an offset UTC.
now="$(date -u -d "$at" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)" || fail "BILLING_AT is not a date: $at"
case "$period" in
  day)
    end="$(date -u -d "$now" +%Y-%m-%d)"
    start="$(date -u -d "$end -1 day" +%Y-%m-%d)"
    name="$start"
    last="$start"
    ;;
  month)
    end="$(date -u -d "$now" +%Y-%m-01)"
    start="$(date -u -d "$end -1 month" +%Y-%m-01)"
    name="${start%-01}"
    last="$(date -u -d "$end -1 day" +%Y-%m-%d)"
    ;;
  *) fail "BILLING_PERIOD must be day or month, not: $period" ;;
esac
from="${start}T00:00:00Z"
to="${end}T00:00:00Z"

if [ "${1:-}" = "--print" ]; then
  echo "$from $to $name"
  exit 0
fi

[ "${1:-}" = "aggregate" ] || fail "usage: billing-period aggregate PATH... [mr aggregate flags]"
for a in "$@"; do
  case "$a" in
    --from | --from=* | --to | --to=* | --out | --out=*) fail "$a is set by billing-period (the period and its output folder)" ;;
  esac
done

extra=(--from "$from" --to "$to" --out "${BILLING_OUTPUT_DIR:-/data/out}/$name/billing.txt")
case "${BILLING_WRAPPED:-}" in
  "") ;;
  fluent-bit | cloudwatch) extra+=(--wrapped "$BILLING_WRAPPED") ;;
  *) fail "BILLING_WRAPPED must be fluent-bit, cloudwatch or empty, not: $BILLING_WRAPPED" ;;
esac
if [ -n "${BILLING_KEY_DAY_GLOB:-}" ]; then
  day="$(date -u -d "$start -1 day" +%Y-%m-%d)"
  stop="$(date -u -d "$last +1 day" +%Y-%m-%d)"
  while :; do
    extra+=(--include "$(date -u -d "$day" +"$BILLING_KEY_DAY_GLOB")")
    [ "$day" = "$stop" ] && break
    day="$(date -u -d "$day +1 day" +%Y-%m-%d)"
  done
fi

echo "billing-period: $period $name ($from to $to)" >&2
exec mr "$@" "${extra[@]}"
