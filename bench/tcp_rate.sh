#!/usr/bin/env bash
# tcp_rate: TCP connect probes per second on loopback (goal: >= 2,000), against an nginx that
# accepts (a full handshake per probe) and against a closed port (an RST per probe).
# Usage: tcp_rate.sh BUILD_DIR [COUNT]
set -euo pipefail
build=${1:?usage: tcp_rate.sh BUILD_DIR [COUNT]}
count=${2:-20000}
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
trap '[ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null; rm -rf "$dir"' EXIT
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$port backlog=4096; return 200 "ok\n"; } }
CONF
nginx -p "$dir" -c "$dir/nginx.conf"
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
open=$("$build/bench/probe_rate" "tcp:$port" "$count" 100 127.0.0.1)
closed=$("$build/bench/probe_rate" tcp:1 "$count" 100 127.0.0.1)
echo "accepting port: $open"
echo "closed port:    $closed"
rate=$(sed -E 's/.* per_s=([0-9]+).*/\1/' <<<"$open")
awk -v r="$rate" 'BEGIN { printf "tcp connect ratio rate/2000 = %.2f (goal >= 1.0)\n", r / 2000 }'
