#!/usr/bin/env bash
# demo.sh: README command 1. On Debian 12 as root: installs what Parallax needs, builds it,
# and runs it in a small internet made of network namespaces (tests/world/world.sh): a
# private PostgreSQL, a coordinator, agents in three countries, and a target country with
# real web, DNS and mail servers behind a border router that announces the country's prefix
# over BGP, and a route collector whose feed Parallax follows. It then plays a timeline —
# normal, degradation, servers offline, DNS down, blackout, recovery, and a vantage failure
# on the side — printing each verdict as the coordinator's merge reaches it, and ends with a
# summary of the outages; last, it merges the whole history again from scratch and checks
# that nothing differs (parallaxctl verify). It takes about a minute (the demo test fails it
# past 150 s) and leaves nothing running.
# Set PX_SKIP_DEPS=1 to skip the package installation. The test suite runs the demo with
# PX_BUILD_DIR (binaries already built there: no build), PX_DEMO_DIR (default
# /tmp/parallax-demo) and PX_DEMO_WORLD (the world's name, at most 5 characters; default pxd).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it builds network namespaces)" >&2; exit 1; }
[ "${PX_SKIP_DEPS:-0}" = 1 ] || bash scripts/deps.sh
if [ -n "${PX_BUILD_DIR:-}" ]; then
    BIN=$PX_BUILD_DIR
else
    bash scripts/build.sh build >/dev/null
    BIN=$ROOT/build
fi
source tests/world/world.sh
source scripts/world_run.sh

DEMO=${PX_DEMO_DIR:-/tmp/parallax-demo}
INTERVAL=2
trap 'pxw_stop' EXIT
# A stale demo from an interrupted run is cleaned up first.
WORLD=${PX_DEMO_WORLD:-pxd}
world_down
bash scripts/pg.sh stop "$DEMO/pg" >/dev/null 2>&1 || true
rm -rf "$DEMO"

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
now() { date -u +%H:%M:%S; }

bold "== Building the world: 3 vantages (GB, DE, JP), a transit router, country XX behind its border, BGP (BIRD) and a route collector"
world_up "$WORLD" "$DEMO/world" >/dev/null
PXW_ROUTES=1 pxw_start "$DEMO" "$INTERVAL"
"$BIN/coordinator/ctl/parallaxctl" --db "$DB" agent list
"$BIN/coordinator/ctl/parallaxctl" --db "$DB" target list

# Prints every verdict the merge has reached since the last call: outages opening, reaching
# a new stage and closing, and the group's stage when it changes.
declare -A SEEN=()
LAST_STAGE=
report() {
    local id scope subject stage started ended key
    while IFS=$'\t' read -r id scope subject stage started ended; do
        [ -n "$id" ] || continue
        key="$id/$stage/${ended:+closed}"
        [ -z "${SEEN[$key]:-}" ] || continue
        SEEN[$key]=1
        if [ -n "$ended" ]; then
            printf '  %s  CLOSED  %-7s %-10s worst stage %-15s %s .. %s\n' "$(now)" "$scope" "$subject" "$stage" "$started" "$ended"
        else
            printf '  %s  OUTAGE  %-7s %-10s stage %-21s since %s\n' "$(now)" "$scope" "$subject" "$stage" "$started"
        fi
    done < <(pxw_sql "SELECT id, scope, subject, stage, to_char(started_at, 'HH24:MI:SS'),
                             coalesce(to_char(ended_at, 'HH24:MI:SS'), '')
                      FROM parallax.outages ORDER BY id")
    local stage
    stage=$(pxw_sql "SELECT stage FROM parallax.group_bins WHERE group_name = 'XX' ORDER BY bin_start DESC LIMIT 1")
    if [ -n "$stage" ] && [ "$stage" != "$LAST_STAGE" ]; then
        printf '  %s  group XX is now: %s\n' "$(now)" "$stage"
        LAST_STAGE=$stage
    fi
}
# until_verdict SECONDS WHAT SQL_CONDITION: reports verdicts until the condition holds.
until_verdict() {
    local limit=$1 what=$2 cond=$3 end=$((SECONDS + $1))
    while :; do
        report
        [ "$(pxw_sql "SELECT ($cond)::int")" = 1 ] && return 0
        [ $SECONDS -lt $end ] || { echo "demo: no verdict '$what' within ${limit}s" >&2; return 1; }
        sleep 0.5
    done
}
open_stage() { echo "EXISTS (SELECT 1 FROM parallax.outages WHERE scope = '$1' AND subject = '$2' AND ended_at IS NULL AND stage = '$3')"; }
group_now() { echo "(SELECT stage::text FROM parallax.group_bins WHERE group_name = 'XX' ORDER BY bin_start DESC LIMIT 1) = '$1'"; }

bold "== $(now) Normal operation (probes every ${INTERVAL}s; learning each target's latency)"
until_verdict 60 "a normal baseline" "(SELECT count(*) FROM parallax.target_bins WHERE state = 'up') >= 4 * 4 AND $(group_now normal)"

bold "== $(now) Stress: the border link is throttled and flooded — latency and timeouts rise"
world_fault stress 40
until_verdict 60 "degradation" "$(open_stage group XX degraded)"

bold "== $(now) The web server goes offline"
world_fault stop web
until_verdict 40 "servers offline" "$(open_stage group XX servers_offline)"

bold "== $(now) The DNS server stops answering"
world_fault stop dns
until_verdict 40 "DNS down" "$(open_stage group XX dns_down)"

bold "== $(now) The country's border withdraws its BGP route: the transit has none, nothing gets in"
world_fault unstress
world_fault withdraw
until_verdict 40 "blackout" "$(open_stage group XX blackout)"
# What BGP said (the collector's feed): the country could not be routed into, since when.
until_verdict 20 "the blackout's routes" "EXISTS (SELECT 1 FROM parallax.outages WHERE scope = 'group' AND subject = 'XX' AND ended_at IS NULL AND detail->'routes'->>'state' = 'unroutable')"
"$BIN/coordinator/ctl/parallaxctl" --db "$DB" explain \
    "$(pxw_sql "SELECT id FROM parallax.outages WHERE scope = 'group' AND subject = 'XX' AND ended_at IS NULL")" |
    sed -n '/^routes (BGP/,/^$/p'

bold "== $(now) Recovery: route restored, servers back"
world_fault restore
world_fault start web
world_fault start dns
until_verdict 60 "recovery" "NOT EXISTS (SELECT 1 FROM parallax.outages WHERE scope IN ('group', 'target') AND ended_at IS NULL)"

bold "== $(now) On the side: vantage vp3-jp loses its uplink (its own failure, not the country's)"
world_fault uplink_down 3
until_verdict 60 "a vantage outage" "EXISTS (SELECT 1 FROM parallax.outages WHERE scope = 'vantage' AND subject = 'vp3-jp' AND ended_at IS NULL)"
# Long enough that the results it keeps while cut off, delivered when it is back, still tell
# of a failure several bins long (they re-merge those bins).
until_verdict 60 "four bins without vp3-jp" "(SELECT count(*) FROM parallax.vantage_bins WHERE agent = 'vp3-jp' AND health IN ('offline', 'impaired')) >= 4"
world_fault uplink_up 3
until_verdict 60 "the vantage back" "NOT EXISTS (SELECT 1 FROM parallax.outages WHERE scope = 'vantage' AND ended_at IS NULL)"

bold "== $(now) Summary: parallax.outages"
psql -X -P pager=off -d "$DB" -c "
SELECT id, scope, subject, stage AS worst_stage,
       to_char(started_at, 'HH24:MI:SS') AS started, to_char(ended_at, 'HH24:MI:SS') AS ended,
       (SELECT string_agg(k || ' ' || to_char(v::text::timestamptz, 'HH24:MI:SS'), ', ' ORDER BY v::text)
        FROM jsonb_each(detail -> 'first_reached') AS f(k, v)) AS stages_reached
FROM parallax.outages ORDER BY started_at, id;"
echo "A target-side outage: every healthy vantage agreed, in different countries and networks."
echo "A vantage outage: one agent failed everything, its controls included — no country verdict."

bold "== $(now) Check: the whole history merged again from scratch (parallaxctl verify --all)"
# The agents stop first, so that nothing arrives while the check runs.
for i in "${!PXW_AGENT_PID[@]}"; do pxw_stop_agent "$i"; done
t_stop=$(pxw_sql "SELECT now()")
until_verdict 60 "the merge caught up" "NOT EXISTS (SELECT 1 FROM parallax.merge_queue WHERE bin_start < '$t_stop')"
"$BIN/coordinator/ctl/parallaxctl" --db "$DB" verify --all
