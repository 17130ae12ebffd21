#!/usr/bin/env bash
# demo.sh: README command 1. On Debian 12 as root: installs what Parallax needs, builds it,
# starts a private PostgreSQL, a coordinator and three agents ("in" three countries, all on
# loopback for now), registers targets with parallaxctl — one of them a port nobody listens
# on — lets the agents probe for a few rounds and shows the results per agent with SQL.
# Everything it starts is stopped when it ends. Set PX_SKIP_DEPS=1 to skip installation.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ "${PX_SKIP_DEPS:-0}" = 1 ] || bash scripts/deps.sh
bash scripts/build.sh build >/dev/null
BIN=$ROOT/build
CTL=$BIN/coordinator/ctl/parallaxctl

DEMO=/tmp/parallax-demo
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    bash scripts/pg.sh stop "$DEMO/pg" || true
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# wait_for SECONDS WHAT 'CONDITION': re-evaluates the shell text CONDITION until true; bounded.
wait_for() {
    local limit=$1 what=$2; shift 2
    local end=$((SECONDS + limit))
    until eval "$*" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || { echo "demo: timed out waiting for $what" >&2; exit 1; }
        sleep 0.2
    done
}

step "Private PostgreSQL"
# A stale demo from an interrupted run is stopped and wiped first.
bash scripts/pg.sh stop "$DEMO/pg" 2>/dev/null || true
rm -rf "$DEMO"; mkdir -p "$DEMO"
PG=$(bash scripts/pg.sh start "$DEMO/pg")
echo "$PG"
psql "$PG" -qc "CREATE DATABASE parallax"
DB="$PG dbname=parallax"
export PGDATABASE=parallax PGHOST=$DEMO/pg PGPORT=$(cat "$DEMO/pg/port") PGUSER=postgres
q() { psql -X -qtA -c "$1"; }
"$CTL" --db "$DB" db migrate

step "Coordinator"
PORT=$(( 47000 + RANDOM % 1000 ))
cat >"$DEMO/coordinator.conf" <<CONF
listen = tcp://127.0.0.1:$PORT
database = $DB
key_file = $DEMO/coordinator.key
CONF
"$BIN/coordinator/parallax-coordinator" -c "$DEMO/coordinator.conf" 2>"$DEMO/coordinator.log" &
PIDS+=($!)
wait_for 20 "the coordinator" 'test -n "$(q "SELECT public_key FROM parallax.coordinator")"'
echo "listening on tcp://127.0.0.1:$PORT, public key $(q "SELECT public_key FROM parallax.coordinator")"

step "Agents: gb1 (GB), de1 (DE), jp1 (JP)"
for a in gb1:GB de1:DE jp1:JP; do
    "$CTL" --db "$DB" agent add "${a%%:*}" --country "${a##*:}" --state-dir "$DEMO/state-${a%%:*}" \
        -o "$DEMO/${a%%:*}.conf" | head -n 1
done
"$CTL" --db "$DB" agent list

step "Targets"
CLOSED=$(( PORT + 1000 ))
"$CTL" --db "$DB" target add loopback --address 127.0.0.1 --group demo --role router --probe icmp --interval 2
"$CTL" --db "$DB" target add coordinator --address 127.0.0.1 --group demo --role host --probe "tcp:$PORT" --interval 2
"$CTL" --db "$DB" target add dead-service --address 127.0.0.1 --group demo --role web --probe "tcp:$CLOSED" --interval 2
"$CTL" --db "$DB" target list

step "Probing (three agents, rounds every 2 s)"
for a in gb1 de1 jp1; do
    "$BIN/agent/parallax-agent" -c "$DEMO/$a.conf" 2>"$DEMO/agent-$a.log" &
    PIDS+=($!)
done
# Enough rounds that every agent has reported every target at least three times.
rounds="SELECT count(*) FROM (SELECT agent, target FROM parallax.result_view GROUP BY 1, 2 HAVING count(*) >= 3) s"
wait_for 60 "three rounds from every agent" 'test "$(q "$rounds")" -ge 9'
echo "done: $(q "SELECT count(*) FROM parallax.results") results stored"

step "Results per agent and target (SQL on parallax.result_view)"
psql -X -P pager=off -c "
SELECT agent, agent_country AS cc, target, spec, status, count(*) AS runs,
       round(avg(rtt_ms)::numeric, 3) AS avg_rtt_ms, max(message) AS message
FROM parallax.result_view
GROUP BY agent, agent_country, target, spec, status
ORDER BY target, agent;"

step "The failing target"
psql -X -P pager=off -c "
SELECT target, status, count(DISTINCT agent) AS agents_agreeing, max(message) AS message
FROM parallax.result_view WHERE target = 'dead-service' GROUP BY target, status;"
echo "Every agent sees dead-service refuse connections: the host answers, its service is down."
echo "Logs: $DEMO/*.log"
