#!/usr/bin/env bash
# run.sh: builds Parallax (build-bench/, optimised) and runs every benchmark, each printing
# its own figures and its ratio against its peer or goal. Needs root and scripts/deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
for b in icmp_vs_fping tcp_rate http_vs_blackbox agent_rss; do
    echo "== $b"
    bash "bench/$b.sh" build-bench
done
