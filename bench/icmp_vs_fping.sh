#!/usr/bin/env bash
# icmp_vs_fping: ICMP echo probes per second, the agent's probe engine against fping, on the
# same 250 loopback targets, both as fast as they go (fping -i 0 -p 0; the engine with 250
# probes in flight). Prints both rates and their ratio (goal: >= 1.0). Needs root (raw sockets
# for both). Usage: icmp_vs_fping.sh BUILD_DIR [ROUNDS]
set -euo pipefail
build=${1:?usage: icmp_vs_fping.sh BUILD_DIR [ROUNDS]}
rounds=${2:-40}
targets=$(seq 1 250 | sed 's/^/127.0.1./')
count=$((250 * rounds))
t0=$(date +%s%N)
fping -q -c "$rounds" -i 0 -p 0 -t 1000 $targets 2>/dev/null || true
t1=$(date +%s%N)
fping_rate=$(awk -v n=$count -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
line=$("$build/bench/probe_rate" icmp "$count" 250 $targets)
agent_rate=$(sed -E 's/.* per_s=([0-9]+).*/\1/' <<<"$line")
echo "fping:  $count echo probes, $fping_rate per second"
echo "agent:  $line"
awk -v a="$agent_rate" -v f="$fping_rate" 'BEGIN { printf "icmp ratio agent/fping = %.2f (goal >= 1.0)\n", a / f }'
