#!/usr/bin/env bash
# ingest_bench.sh [BUILD_DIR] [AGENTS] [BATCHES] [RESULTS]: end-to-end ingest speed. AGENTS
# simulated agents (pxclient flood) send BATCHES batches of RESULTS results each over ZeroMQ
# CURVE to a real coordinator, which stores them in its own PostgreSQL cluster; the rate is
# results per second from the first send to the last ack (an ack follows the commit), and the
# latency is each batch's send-to-ack time. The same rows are then loaded by psql's \copy
# into a fresh database with the same schema (indexes, partitions, triggers) in the same run:
# the ratio of the two rates is the figure (goals: >= 50,000 results/s, >= 0.5x raw COPY,
# p99 <= 2 s). Last, 1,000 simulated agents connect and heartbeat while the coordinator's
# resident memory is read. Bounded: every wait has a limit, the whole run PX_BENCH_LIMIT_S
# (default 900 s).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
AGENTS=${2:-20}
BATCHES=${3:-50}
RESULTS=${4:-1000}
PROBES=${PX_BENCH_PROBES:-200}
WINDOW=${PX_BENCH_WINDOW:-4}
MANY=${PX_BENCH_MANY:-1000}
LIMIT_S=${PX_BENCH_LIMIT_S:-900}
COORD="$BUILD/coordinator/parallax-coordinator"
CTL="$BUILD/coordinator/ctl/parallaxctl"
PXCLIENT="$BUILD/tests/pxclient"
for b in "$COORD" "$CTL" "$PXCLIENT"; do
    [ -x "$b" ] || { echo "ingest_bench: $b not built" >&2; exit 1; }
done
DIR=$(mktemp -d /tmp/px-ingest-bench.XXXXXX)
COORD_PID=
cleanup() {
    [ -n "$COORD_PID" ] && kill -TERM "$COORD_PID" 2>/dev/null && wait "$COORD_PID" 2>/dev/null || true
    scripts/pg.sh stop "$DIR/pg"
    rm -rf "$DIR"
}
trap cleanup EXIT
# A thousand agents need a thousand connections, and ZeroMQ two descriptors per socket.
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 8192 ] || ulimit -n "$(ulimit -Hn)"
START=$SECONDS
left() { local l=$((LIMIT_S - (SECONDS - START))); [ $l -gt 0 ] || { echo "ingest_bench: over the ${LIMIT_S}s budget" >&2; exit 1; }; echo $l; }

scripts/pg.sh start "$DIR/pg" >/dev/null
export PGHOST=$DIR/pg PGUSER=postgres
PGPORT=$(cat "$DIR/pg/port"); export PGPORT
q() { timeout "$(left)" psql -X -q -v ON_ERROR_STOP=1 -tA -d "$1" -c "$2"; }
conninfo() { echo "host=$DIR/pg port=$PGPORT user=postgres dbname=$1"; }
for db in ingest raw; do
    createdb "$db"
    "$CTL" --db "$(conninfo $db)" db migrate >/dev/null
done

# Targets and probes (ids 1..PROBES), and agents with keys from pxclient keygen.
q ingest "INSERT INTO parallax.targets (name, address)
          SELECT 'target-' || i, ('198.18.' || (i / 250) || '.' || (i % 250 + 1))::inet
          FROM generate_series(1, $PROBES) i"
q ingest "INSERT INTO parallax.probes (target_id, kind, spec, interval_s)
          SELECT id, 'icmp', 'icmp', 60 FROM parallax.targets ORDER BY id"
"$PXCLIENT" keygen "$MANY" >"$DIR/keys"
awk '{ printf "agent-%d\tNL\t%s\n", NR, $1 }' "$DIR/keys" >"$DIR/agents.tsv"
q ingest "\\copy parallax.agents (name, country, public_key) FROM '$DIR/agents.tsv'"

cat >"$DIR/coord.conf" <<CONF
listen = tcp://127.0.0.1:$((20000 + RANDOM % 12000))
database = $(conninfo ingest)
key_file = $DIR/coord.key
CONF
EP=$(sed -n 's/^listen = //p' "$DIR/coord.conf")
# start_coordinator: runs it in the background and waits (bounded) until it is connected.
start_coordinator() {
    "$COORD" -c "$DIR/coord.conf" 2>>"$DIR/coord.log" &
    COORD_PID=$!
    local n0; n0=$(grep -c "connected to the database" "$DIR/coord.log" || true)
    for _ in $(seq 200); do
        [ "$(grep -c "connected to the database" "$DIR/coord.log" || true)" -gt "$n0" ] && return 0
        sleep 0.1
    done
    tail "$DIR/coord.log" >&2; exit 1
}
: >"$DIR/coord.log"
start_coordinator
KEY=$(q ingest "SELECT public_key FROM parallax.coordinator")

echo "ingest: $AGENTS agents x $BATCHES batches x $RESULTS results over $PROBES probes, window $WINDOW"
timeout "$(left)" "$PXCLIENT" -e "$EP" -k "$KEY" flood "$DIR/keys" "$AGENTS" "$BATCHES" "$RESULTS" \
    "$PROBES" "$WINDOW" | tee "$DIR/flood.out"
rate=$(awk '/^flood/ { for (i = 1; i < NF; i++) if ($i == "rate") print $(i + 1) }' "$DIR/flood.out")
p99=$(awk '/^latency_ms/ { print $5 }' "$DIR/flood.out")
rows=$(q ingest "SELECT count(*) FROM parallax.results")
[ "$rows" = $((AGENTS * BATCHES * RESULTS)) ] || { echo "ingest_bench: $rows rows stored, expected $((AGENTS * BATCHES * RESULTS))" >&2; exit 1; }

# The coordinator keeps merging what it stored; stopped (and its sessions ended) so that the
# raw COPY has the machine to itself, as the ingest had at the start.
kill -TERM "$COORD_PID"; wait "$COORD_PID" || true; COORD_PID=
q postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'ingest'" >/dev/null

# The same rows, by psql, into the same schema with its partitions made beforehand (as the
# coordinator's are made by its first batch).
cols="ts, agent_id, probe_id, status, rtt_ms, app_code, icmp_type, icmp_code, icmp_from, message, control, detail"
q ingest "\\copy (SELECT $cols FROM parallax.results) TO '$DIR/rows.copy'"
q raw "\\copy parallax.agents (name, country, public_key) FROM '$DIR/agents.tsv'"
q raw "INSERT INTO parallax.targets (name, address)
       SELECT 'target-' || i, ('198.18.' || (i / 250) || '.' || (i % 250 + 1))::inet FROM generate_series(1, $PROBES) i"
q raw "INSERT INTO parallax.probes (target_id, kind, spec, interval_s) SELECT id, 'icmp', 'icmp', 60 FROM parallax.targets ORDER BY id"
q raw "SELECT parallax.ensure_partition(d::date) FROM generate_series(now() - interval '2 days', now() + interval '1 day', interval '1 day') d" >/dev/null
t0=$(date +%s%N)
q raw "\\copy parallax.results ($cols) FROM '$DIR/rows.copy'"
t1=$(date +%s%N)
raw_rate=$(awk -v n="$rows" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
echo "raw COPY by psql: $rows rows in $(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }') s: $raw_rate rows/s"

# Memory with many agents connected: each sends one small batch, then all heartbeat.
echo "memory: $MANY agents connected"
start_coordinator
timeout "$(left)" "$PXCLIENT" -e "$EP" -k "$KEY" flood "$DIR/keys" "$MANY" 1 10 "$PROBES" 1 15 >"$DIR/many.out" &
many=$!
for _ in $(seq 1200); do grep -q "^holding" "$DIR/many.out" 2>/dev/null && break; kill -0 $many 2>/dev/null || break; sleep 0.1; done
grep -q "^holding" "$DIR/many.out" || { cat "$DIR/many.out" >&2; echo "ingest_bench: the $MANY agents did not all get through" >&2; exit 1; }
sleep 3 # several heartbeat rounds with every agent connected
rss_kib=$(awk '/^VmRSS/ { print $2 }' "/proc/$COORD_PID/status")
hwm_kib=$(awk '/^VmHWM/ { print $2 }' "/proc/$COORD_PID/status")
wait $many || true
sessions=$(q ingest "SELECT count(*) FROM parallax.agents WHERE online")

echo "----"
awk -v r="$rate" -v raw="$raw_rate" -v p="$p99" -v rss="$rss_kib" -v hwm="$hwm_kib" -v m="$MANY" -v on="$sessions" 'BEGIN {
    printf "end-to-end %.0f results/s (goal >= 50000); raw COPY %.0f rows/s; ratio %.2f (goal >= 0.5)\n", r, raw, r / raw
    printf "send-to-ack latency p99 %.1f ms (goal <= 2000)\n", p
    printf "coordinator RSS with %d agents connected (%d online): %.1f MiB (peak %.1f MiB)\n", m, on, rss / 1024, hwm / 1024
    exit !(r >= 50000 && r / raw >= 0.5 && p <= 2000) }' || { echo "ingest_bench: goal missed"; exit 1; }
echo "total $((SECONDS - START)) s"
