#!/usr/bin/env bash
# notify_latency.sh [BUILD_DIR [EVENTS]]: how long an outage notification takes from the
# verdict's commit to a webhook receiver. Starts its own PostgreSQL cluster, a webhook
# receiver (tests/tools/webhook_receiver.py) and parallax-notifier on its shipped defaults,
# then commits EVENTS (default 200) group outages one by one, 50 ms apart, each in its own
# transaction as the merge does (the outbox trigger writes the event and NOTIFYs), and then a
# burst of EVENTS outages in one transaction. Prints p50 / p99 / max of received - created_at
# (the event's row is stamped inside the verdict's transaction, so this includes the commit)
# and the burst's throughput. Goal: p99 under 1 s. Bounded by PX_BENCH_LIMIT_S (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
EVENTS=${2:-200}
LIMIT_S=${PX_BENCH_LIMIT_S:-300}
CTL="$BUILD/coordinator/ctl/parallaxctl"
NOTIFIER="$BUILD/notifier/parallax-notifier"
[ -x "$CTL" ] && [ -x "$NOTIFIER" ] || cmake --build "$BUILD" --target parallaxctl parallax-notifier >/dev/null
WORK=$(mktemp -d /tmp/px-notify-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/pg.sh stop "$WORK/pg" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
scripts/pg.sh start "$WORK/pg" >/dev/null
export PGHOST=$WORK/pg PGUSER=postgres PGDATABASE=bench
PGPORT=$(cat "$WORK/pg/port"); export PGPORT
createdb bench
DB="host=$PGHOST port=$PGPORT user=postgres dbname=bench"
"$CTL" --db "$DB" db migrate >/dev/null
q() { psql -X -q -tA -v ON_ERROR_STOP=1 "$@"; }
START=$SECONDS
# until_true WHAT CMD: bounded by the bench's budget.
until_true() {
    local what=$1; shift
    until eval "$*" >/dev/null 2>&1; do
        [ $((SECONDS - START)) -lt "$LIMIT_S" ] || { echo "notify_latency: over budget waiting for $what" >&2; exit 1; }
        sleep 0.05
    done
}

/usr/bin/python3 tests/tools/webhook_receiver.py --port-file "$WORK/port" --log "$WORK/hook.jsonl" \
    --secret bench-secret >/dev/null 2>&1 &
PIDS+=($!)
until_true "the receiver" 'test -s "$WORK/port"'
q -c "INSERT INTO parallax.notify_receivers (name, kind, url, secret)
      VALUES ('bench', 'webhook', 'http://127.0.0.1:$(cat "$WORK/port")/bench', 'bench-secret')"
printf 'database = %s\n' "$DB" >"$WORK/notifier.conf"
"$NOTIFIER" -c "$WORK/notifier.conf" >"$WORK/notifier.log" 2>&1 &
PIDS+=($!)
until_true "the notifier" 'grep -q "connected to the database" "$WORK/notifier.log"'

# One group outage a transaction, as the merge commits a verdict; the group names are made
# up: the outbox needs only the outage row.
{
    for i in $(seq "$EVENTS"); do
        echo "INSERT INTO parallax.outage_events (scope, subject_id, subject, started_at, stage, detail)
              VALUES ('group', $i, 'G$i', now() - interval '1 minute', 'servers_offline', '{}');"
        echo "SELECT pg_sleep(0.05);"
    done
} >"$WORK/one_by_one.sql"
q -f "$WORK/one_by_one.sql" >/dev/null
until_true "$EVENTS deliveries" '[ "$(q -c "SELECT count(*) FROM parallax.notify_deliveries WHERE state = '"'"'sent'"'"'")" -ge "$EVENTS" ]'

# Latency of each: the receiver's arrival time minus the event's created_at (one clock).
jq -r 'select(.status == 200) | "\(.key)\t\(.arrived)"' "$WORK/hook.jsonl" >"$WORK/arrived.tsv"
q -c "CREATE TEMP TABLE arrived (key text, at double precision)" \
  -c "\\copy arrived FROM '$WORK/arrived.tsv'" \
  -c "SELECT format('one by one: %s events, latency p50 %s ms, p99 %s ms, max %s ms',
             count(*),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
             round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
             round(max(ms)::numeric, 1))
      FROM (SELECT (a.at - extract(epoch FROM e.created_at)) * 1000 AS ms
            FROM arrived a JOIN parallax.notify_events e ON e.key = a.key) l"

# A burst: EVENTS outages in one transaction; the time from its commit to the last delivery.
t0=$(date +%s.%N)
q -c "INSERT INTO parallax.outage_events (scope, subject_id, subject, started_at, stage, detail)
      SELECT 'group', 100000 + i, 'B' || i, now() - interval '1 minute', 'servers_offline', '{}'
      FROM generate_series(1, $EVENTS) i"
t1=$(date +%s.%N)
until_true "the burst" '[ "$(q -c "SELECT count(*) FROM parallax.notify_deliveries WHERE state = '"'"'sent'"'"'")" -ge $((2 * EVENTS)) ]'
t2=$(date +%s.%N)
awk -v a="$t1" -v b="$t2" -v n="$EVENTS" 'BEGIN { printf "burst: %d events committed at once, all delivered %.2f s after the commit: %.0f deliveries/s\n", n, b - a, n / (b - a) }'
