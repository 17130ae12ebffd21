#!/usr/bin/env bash
# model_seeds.sh [SEEDS [FIRST [BUILD_DIR]]]: the verdict model test at scale: SEEDS random
# histories (default 10,000) from seed FIRST (default 1), each played into a real PostgreSQL
# as the coordinator plays it and compared with the reference model (tests/model/), two
# workers. Starts its own PostgreSQL cluster (scripts/pg.sh); prints each differing seed,
# the kinds of difference with a seed for each, and "seeds N, differing D, time T s".
# Bounded: starts no seed after PX_BENCH_LIMIT_S seconds (default 14400) and says how many ran.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-10000}
FIRST=${2:-1}
BUILD=${3:-build}
CTL="$BUILD/coordinator/ctl/parallaxctl"
[ -x "$CTL" ] || cmake --build "$BUILD" --target parallaxctl >/dev/null
PGDIR=$(mktemp -d /tmp/px-model-bench.XXXXXX)
trap 'scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1; rm -rf "$PGDIR"' EXIT
conninfo=$(scripts/pg.sh start "$PGDIR")
/usr/bin/python3 tests/model/run.py --db "$conninfo" --ctl "$CTL" --first "$FIRST" --seeds "$SEEDS" \
    --jobs 2 --budget "${PX_BENCH_LIMIT_S:-14400}"
