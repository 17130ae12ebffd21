#!/usr/bin/env bash
# agent_rss: resident memory of a real agent running a schedule of 10,000 probes (goal:
# <= 20 MiB). Starts a private PostgreSQL, a coordinator and one agent on loopback; the
# probes are tcp probes to 127.0.0.1 every hour, spread over the hour by their phase.
# Usage: agent_rss.sh BUILD_DIR [PROBES]
set -euo pipefail
build=${1:?usage: agent_rss.sh BUILD_DIR [PROBES]}
probes=${2:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/px-rss.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash "$root/scripts/pg.sh" stop "$dir/pg" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
pg=$(bash "$root/scripts/pg.sh" start "$dir/pg")
psql "$pg" -qc "CREATE DATABASE rss"
db="$pg dbname=rss"
"$build/coordinator/ctl/parallaxctl" --db "$db" db migrate >/dev/null
port=$((40000 + RANDOM % 10000))
printf 'listen = tcp://127.0.0.1:%s\ndatabase = %s\nkey_file = %s/coord.key\n' "$port" "$db" "$dir" >"$dir/coord.conf"
"$build/coordinator/parallax-coordinator" -c "$dir/coord.conf" 2>"$dir/coord.log" &
pids+=($!)
for _ in $(seq 100); do
    [ -n "$(psql "$db" -tAc 'SELECT public_key FROM parallax.coordinator' 2>/dev/null)" ] && break
    sleep 0.1
done
"$build/coordinator/ctl/parallaxctl" --db "$db" agent add rss1 --country ZZ --state-dir "$dir/state" -o "$dir/agent.conf" >/dev/null
psql "$db" -qc "
INSERT INTO parallax.targets (name, address) SELECT 't' || i, '127.0.0.1' FROM generate_series(1, $probes) i;
INSERT INTO parallax.probes (target_id, kind, spec, interval_s)
  SELECT id, 'tcp', 'tcp:' || (1000 + id % 50000), 3600 FROM parallax.targets;"
"$build/agent/parallax-agent" -c "$dir/agent.conf" 2>"$dir/agent.log" &
agent=$!
pids+=($agent)
for _ in $(seq 300); do
    grep -q "schedule version .*$probes probes\|$probes probes" "$dir/agent.log" && break
    sleep 0.1
done
grep -q "$probes" "$dir/agent.log" || { echo "the agent never got its schedule" >&2; tail "$dir/agent.log" >&2; exit 1; }
# Let it settle through a few rounds of runs and batches before reading its memory.
sleep 5
rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$agent/status")
hwm_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$agent/status")
echo "agent with $probes probes scheduled: VmRSS=$((rss_kb / 1024)) MiB VmHWM=$((hwm_kb / 1024)) MiB"
awk -v r="$rss_kb" 'BEGIN { printf "rss ratio 20 MiB/rss = %.2f (goal >= 1.0)\n", 20480 / r }'
