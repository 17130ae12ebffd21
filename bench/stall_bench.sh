#!/usr/bin/env bash
# stall_bench.sh BUILD [OTHER_BUILD]: does the coordinator answer while the merge works off a
# backlog? A history of TARGETS targets x AGENTS vantages x HOURS hours is stored without
# merging it, then queued to merge again (parallax.merge_mark, what `parallaxctl settings set
# --remerge-since` does) and a real coordinator started on it. For LAT_S seconds from its
# start an agent-like client (pxclient latency) sends a heartbeat and a small batch every
# 50 ms and times each answer: the p99 of heartbeat replies and acks during the re-merge is
# the figure (goal: <= 100 ms, issue 15). The script says whether the re-merge went on for
# the whole window (it should: a shorter one makes the figure partly idle time).
# With OTHER_BUILD (e.g. a build of the commit before the merge left the loop, made with
# `git worktree add /tmp/before COMMIT && bash scripts/build.sh` there), the same run is made
# with its coordinator and parallaxctl in the same invocation, for a before/after pair; the
# client is always BUILD's. Bounded: PX_BENCH_LIMIT_S (default 900 s) for the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OTHER=${2:-}
TARGETS=${PX_BENCH_TARGETS:-500}
AGENTS=${PX_BENCH_AGENTS:-5}
HOURS=${PX_BENCH_HOURS:-3}
LAT_S=${PX_BENCH_LAT_S:-30}
LIMIT_S=${PX_BENCH_LIMIT_S:-900}
PXCLIENT="$BUILD/tests/pxclient"
[ -x "$PXCLIENT" ] || { echo "stall_bench: $PXCLIENT not built" >&2; exit 1; }
DIR=$(mktemp -d /tmp/px-stall-bench.XXXXXX)
COORD_PID=
cleanup() {
    [ -n "$COORD_PID" ] && kill -TERM "$COORD_PID" 2>/dev/null && wait "$COORD_PID" 2>/dev/null || true
    scripts/pg.sh stop "$DIR/pg" >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
START=$SECONDS
left() { local l=$((LIMIT_S - (SECONDS - START))); [ $l -gt 0 ] || { echo "stall_bench: over the ${LIMIT_S}s budget" >&2; exit 1; }; echo $l; }

scripts/pg.sh start "$DIR/pg" >/dev/null
export PGHOST=$DIR/pg PGUSER=postgres
PGPORT=$(cat "$DIR/pg/port"); export PGPORT
"$PXCLIENT" keygen "$((AGENTS + 1))" >"$DIR/keys"

# run_one LABEL BUILD_DIR: the whole scenario in a fresh database of its own.
run_one() {
    local label=$1 build=$2 db="stall_$1"
    local coord="$build/coordinator/parallax-coordinator" ctl="$build/coordinator/ctl/parallaxctl"
    for b in "$coord" "$ctl"; do [ -x "$b" ] || { echo "stall_bench: $b not built" >&2; exit 1; }; done
    q() { timeout "$(left)" psql -X -q -v ON_ERROR_STOP=1 -tA -d "$db" -c "$1"; }
    createdb "$db"
    "$ctl" --db "host=$DIR/pg port=$PGPORT user=postgres dbname=$db" db migrate >/dev/null
    q "INSERT INTO parallax.targets (name, address, group_name)
       SELECT 'target-' || i, ('198.18.' || (i / 250) || '.' || (i % 250 + 1))::inet, 'g' || (i % 20)
       FROM generate_series(1, $TARGETS) i"
    q "INSERT INTO parallax.probes (target_id, kind, spec, interval_s)
       SELECT id, 'icmp', 'icmp', 60 FROM parallax.targets ORDER BY id"
    awk '{ printf "agent-%d\tNL\t%s\t2000-01-01\n", NR, $1 }' "$DIR/keys" >"$DIR/agents.tsv"
    q "\\copy parallax.agents (name, country, public_key, created_at) FROM '$DIR/agents.tsv'"
    # The history, stored as an ingest would but without its triggers (replica role): its
    # merge is the backlog. One run per probe and minute, 1 in 50 a timeout.
    q "SELECT parallax.ensure_partition(d::date)
       FROM generate_series(now() - interval '$HOURS hours' - interval '1 day', now(), interval '1 day') d" >/dev/null
    q "SET session_replication_role = replica;
       INSERT INTO parallax.results (ts, agent_id, probe_id, status, rtt_ms)
       SELECT m + (p.id % 60) * interval '1 second', a.id, p.id,
              CASE WHEN (p.id + a.id + extract(epoch FROM m)::bigint / 60) % 50 = 0 THEN 'timeout' ELSE 'ok' END::parallax.status,
              20 + (p.id % 7)
       FROM generate_series(date_trunc('minute', now()) - interval '$HOURS hours', now() - interval '2 minutes', interval '1 minute') m
       CROSS JOIN parallax.probes p
       CROSS JOIN (SELECT id FROM parallax.agents WHERE name <> 'agent-$((AGENTS + 1))') a"
    local rows; rows=$(q "SELECT count(*) FROM parallax.results")
    q "VACUUM ANALYZE"
    local queued; queued=$(q "SELECT parallax.merge_mark(now() - interval '$HOURS hours', now())")
    local marked_at; marked_at=$(q "SELECT now()")
    # What is queued: merge_queue since migration 003; merge_dirty alone before it.
    local queue; queue=$(q "SELECT coalesce(to_regclass('parallax.merge_queue')::text, 'parallax.merge_dirty')")

    cat >"$DIR/coord-$label.conf" <<CONF
listen = tcp://127.0.0.1:$((20000 + RANDOM % 12000))
database = host=$DIR/pg port=$PGPORT user=postgres dbname=$db
key_file = $DIR/coord-$label.key
CONF
    local ep; ep=$(sed -n 's/^listen = //p' "$DIR/coord-$label.conf")
    "$coord" -c "$DIR/coord-$label.conf" 2>"$DIR/coord-$label.log" &
    COORD_PID=$!
    for _ in $(seq 200); do grep -q "connected to the database" "$DIR/coord-$label.log" && break; sleep 0.1; done
    grep -q "connected to the database" "$DIR/coord-$label.log" || { tail "$DIR/coord-$label.log" >&2; exit 1; }
    local key; key=$(q "SELECT public_key FROM parallax.coordinator")
    # The client is the agent that has no history: its batches are small and fresh.
    local secret; secret=$(awk -v n="$((AGENTS + 1))" 'NR == n { print $2 }' "$DIR/keys")
    local t0=$SECONDS
    timeout "$(left)" "$PXCLIENT" -e "$ep" -k "$key" -s "$secret" latency "$LAT_S" 50 1 1 >"$DIR/lat-$label.out" &
    local lat_pid=$!
    # When the backlog was worked off (no bin queued before the mark left), if it was before
    # the client's window ended.
    local drained=
    while kill -0 "$lat_pid" 2>/dev/null; do
        if [ -z "$drained" ] && [ "$(q "SELECT count(*) FROM $queue WHERE closes_at <= '$marked_at'")" = 0 ]; then
            drained=$((SECONDS - t0))
        fi
        sleep 1
    done
    wait "$lat_pid" || { echo "stall_bench: the client failed" >&2; cat "$DIR/lat-$label.out" >&2; exit 1; }
    local left_bins; left_bins=$(q "SELECT count(*) FROM $queue WHERE closes_at <= '$marked_at'")
    kill -TERM "$COORD_PID"; wait "$COORD_PID" || true; COORD_PID=
    local hb ack
    hb=$(awk '/^heartbeat/ { print $9 }' "$DIR/lat-$label.out")
    ack=$(awk '/^ack/ { print $9 }' "$DIR/lat-$label.out")
    echo "$label: $rows results, $queued bins queued to merge again; the client's ${LAT_S} s:"
    sed 's/^/    /' "$DIR/lat-$label.out"
    if [ -n "$drained" ]; then
        echo "$label: the re-merge ended after ${drained} s, within the window: raise PX_BENCH_HOURS for a fair figure"
    else
        echo "$label: the re-merge went on through the whole window ($left_bins bins still queued at its end)"
    fi
    echo "$label: p99 heartbeat ${hb} ms, ack ${ack} ms (goal <= 100)"
    echo "$label hb_p99 $hb ack_p99 $ack" >>"$DIR/summary"
}

echo "stall: $TARGETS targets x $AGENTS vantages x $HOURS h of history re-merged while a client times heartbeats and acks every 50 ms"
if [ -n "$OTHER" ]; then
    run_one other "$OTHER"
fi
run_one this "$BUILD"
cat "$DIR/summary"
