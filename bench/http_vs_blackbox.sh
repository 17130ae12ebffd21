#!/usr/bin/env bash
# http_vs_blackbox: HTTP probes per CPU-second, the agent's probe engine against
# prometheus-blackbox-exporter, both probing the same local nginx N times with the same
# concurrency. Only the prober's own CPU time counts (the exporter's from /proc, the
# engine's from getrusage). Prints both and the ratio (goal: >= 5).
# Usage: http_vs_blackbox.sh BUILD_DIR [COUNT]
set -euo pipefail
build=${1:?usage: http_vs_blackbox.sh BUILD_DIR [COUNT]}
count=${2:-3000}
conc=8
dir=$(mktemp -d)
web=$((20000 + RANDOM % 10000))
bb=$((30000 + RANDOM % 10000))
bbpid=
cleanup() {
    [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null
    [ -n "$bbpid" ] && kill "$bbpid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$web backlog=4096; return 200 "ok\n"; } }
CONF
nginx -p "$dir" -c "$dir/nginx.conf"
cat >"$dir/blackbox.yml" <<CONF
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
CONF
prometheus-blackbox-exporter --config.file="$dir/blackbox.yml" \
    --web.listen-address="127.0.0.1:$bb" >"$dir/bb.log" 2>&1 &
bbpid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$bb") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$web") 2>/dev/null && break
    sleep 0.1
done
url="http://127.0.0.1:$bb/probe?module=http_2xx&target=http://127.0.0.1:$web/"
curl -s "$url" | grep -q '^probe_success 1' || { echo "blackbox exporter does not probe successfully" >&2; exit 1; }
# CPU seconds (user + system) of a process, from /proc/PID/stat fields 14 and 15.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }
c0=$(cpu "$bbpid")
t0=$(date +%s%N)
seq "$count" | xargs -P "$conc" -I{} curl -s -o /dev/null "$url"
t1=$(date +%s%N)
c1=$(cpu "$bbpid")
bb_cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
bb_rate=$(awk -v n="$count" -v c="$bb_cpu" 'BEGIN { printf "%.0f", n / c }')
echo "blackbox: $count probes, cpu_s=$bb_cpu wall_s=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }') per_cpu_s=$bb_rate"
line=$("$build/bench/probe_rate" "http:http://127.0.0.1:$web/" "$count" "$conc" 127.0.0.1)
echo "agent:    $line"
agent_rate=$(sed -E 's/.* per_cpu_s=([0-9]+).*/\1/' <<<"$line")
awk -v a="$agent_rate" -v b="$bb_rate" 'BEGIN { printf "http ratio agent/blackbox per CPU-second = %.2f (goal >= 5)\n", a / b }'
