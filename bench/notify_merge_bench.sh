#!/usr/bin/env bash
# notify_merge_bench.sh [BUILD_DIR]: what the notification outbox costs the merge (issue 17).
# Two databases hold the same history (bench/merge_bench.sql: 1,000 targets x 10 vantages);
# in one the outbox triggers on outage_events are disabled. Then every watched target times
# out for a while: 1,000 target outages and 10 group blackouts open (1,010 events written in
# one merge), are extended bin by bin with 1,000 outages open, and close (1,010 more). Each
# merge is timed in both databases, taking turns; prints the medians and the ratio with/without
# per phase. Bounded: gives up after PX_BENCH_LIMIT_S seconds (default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
LIMIT_S=${PX_BENCH_LIMIT_S:-600}
DOWN_BINS=${PX_BENCH_DOWN_BINS:-12}
CTL="$BUILD/coordinator/ctl/parallaxctl"
[ -x "$CTL" ] || cmake --build "$BUILD" --target parallaxctl >/dev/null
PGDIR=$(mktemp -d /tmp/px-notify-bench.XXXXXX)
trap 'scripts/pg.sh stop "$PGDIR" >/dev/null; rm -rf "$PGDIR"' EXIT
scripts/pg.sh start "$PGDIR" >/dev/null
export PGHOST=$PGDIR PGUSER=postgres
PGPORT=$(cat "$PGDIR/port"); export PGPORT
START=$SECONDS
left() { local l=$((LIMIT_S - (SECONDS - START))); [ $l -gt 0 ] || { echo "notify_merge_bench: over the ${LIMIT_S}s budget" >&2; exit 1; }; echo $l; }
q() { local db=$1; shift; timeout "$(left)" psql -X -q -v ON_ERROR_STOP=1 -tA -d "$db" "$@"; }

# Ten bins of history, the last 40 merged for real, in both databases.
for db in with without; do
    createdb "$db"
    "$CTL" --db "host=$PGDIR port=$PGPORT user=postgres dbname=$db" db migrate >/dev/null
    q "$db" -f bench/merge_bench.sql >/dev/null
    q "$db" -f bench/notify_merge_bench.sql >/dev/null
    q "$db" -c "SELECT bench.load_history(0, 9)" >/dev/null
    q "$db" -c "SELECT bench.load(10, 49)" >/dev/null
    q "$db" -c "SELECT bench.merge(49)" >/dev/null
    q "$db" -c "VACUUM ANALYZE" >/dev/null
done
for t in $(q without -c "SELECT tgname FROM pg_trigger WHERE tgrelid = 'parallax.outage_events'::regclass AND tgname LIKE 'notify%'"); do
    q without -c "ALTER TABLE parallax.outage_events DISABLE TRIGGER $t"
done

before_with=$(q with -c "SELECT count(*) FROM parallax.notify_events")
before_without=$(q without -c "SELECT count(*) FROM parallax.notify_events")

# step DB K LOADER: stores bin K's results (bench.LOADER) and prints how long its merge took.
step() { q "$1" -c "SELECT bench.$3($2)" >/dev/null; q "$1" -c "SELECT bench.timed_merge($2)"; }
declare -A ms
k=50
# Warm up both sessions' caches on ordinary bins.
for i in 1 2 3 4; do for db in with without; do step "$db" $k load_one >/dev/null; done; k=$((k + 1)); done
phase() {   # phase NAME BINS LOADER
    local name=$1 n=$2 loader=$3 i db
    for i in $(seq "$n"); do
        for db in with without; do ms[$name.$db]+="$(step "$db" $k "$loader") "; done
        k=$((k + 1))
    done
}
phase down "$DOWN_BINS" load_down
phase up 6 load_one
open=$(q with -c "SELECT count(*) FROM parallax.outage_events")
events=$(( $(q with -c "SELECT count(*) FROM parallax.notify_events") - before_with ))
[ "$(q without -c "SELECT count(*) FROM parallax.notify_events")" = "$before_without" ] || { echo "the trigger was not disabled" >&2; exit 1; }
[ "$open" -ge 1010 ] || { echo "only $open outages: the scenario did not open 1,000" >&2; exit 1; }
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# The bins in which the outages opened and closed: the slowest of each phase.
slowest() { tr ' ' '\n' <<<"$1" | grep . | sort -n | tail -1; }
echo "outages: $open, notification events written: $events"
for db in with without; do
    echo "merge per bin $db the outbox: while 1,000 outages are open (median of $DOWN_BINS) $(median "${ms[down.$db]}") ms;" \
         "the bin they open in $(slowest "${ms[down.$db]}") ms; the bin they close in $(slowest "${ms[up.$db]}") ms" \
         "(all: ${ms[down.$db]}| ${ms[up.$db]% })"
done
awk -v a="$(median "${ms[down.with]}")" -v b="$(median "${ms[down.without]}")" \
    -v c="$(slowest "${ms[down.with]}")" -v d="$(slowest "${ms[down.without]}")" \
    -v e="$(slowest "${ms[up.with]}")" -v f="$(slowest "${ms[up.without]}")" 'BEGIN {
    printf "ratio with/without: open outages extended %.2f, opening 1,010 %.2f, closing 1,010 %.2f\n", a / b, c / d, e / f }'
echo "total $((SECONDS - START)) s"
