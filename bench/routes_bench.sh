#!/usr/bin/env bash
# routes_bench.sh [BUILD_DIR] [PEERS] [PREFIXES]: what BGP visibility costs the database. A
# collector's hour: PEERS peers (default 300) each announcing PREFIXES prefixes (default 2,000,
# in 200 groups of 10) at the start, then a tenth of the prefixes withdrawn by every peer at
# one moment of the hour and announced again 2 minutes later. Times, on its own PostgreSQL cluster:
#   * route_bins_refresh over the hour (what `routes import|follow` runs after each commit),
#     against the hour itself: the share of real time the bins cost (goal <= 1%);
#   * group_routes for one 10-prefix group at one bin's end (what the merge runs per group
#     bin), median of 9, against the group bin: the share of a bin one group costs (<= 1%).
# Bounded: gives up after PX_BENCH_LIMIT_S seconds (default 900).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PEERS=${2:-300}
PREFIXES=${3:-2000}
LIMIT_S=${PX_BENCH_LIMIT_S:-900}
CTL="$BUILD/coordinator/ctl/parallaxctl"
[ -x "$CTL" ] || cmake --build "$BUILD" --target parallaxctl >/dev/null
PGDIR=$(mktemp -d /tmp/px-routes-bench.XXXXXX)
trap 'scripts/pg.sh stop "$PGDIR"; rm -rf "$PGDIR"' EXIT
scripts/pg.sh start "$PGDIR" >/dev/null
export PGHOST=$PGDIR PGUSER=postgres
PGPORT=$(cat "$PGDIR/port"); export PGPORT
START=$SECONDS
left() { local l=$((LIMIT_S - (SECONDS - START))); [ $l -gt 0 ] || { echo "routes_bench: over the ${LIMIT_S}s budget" >&2; exit 1; }; echo $l; }
q() { timeout "$(left)" psql -X -q -v ON_ERROR_STOP=1 -tA -d bench "$@"; }
createdb bench
"$CTL" --db "host=$PGDIR port=$PGPORT user=postgres dbname=bench" db migrate >/dev/null

# The hour starts at a whole hour a day ago; prefixes are /26s counted up from 198.18.0.0
# (only rows in this database: nothing is sent anywhere).
t0=$(q -c "SELECT date_trunc('hour', now() - interval '1 day')")
t0=${t0%%$'\n'*}
q <<SQL >/dev/null
INSERT INTO parallax.route_peers (collector, address, asn)
SELECT 'bench', '192.0.2.0'::inet + p, 64496 + p % 16 FROM generate_series(1, $PEERS) p;
CREATE TEMP TABLE px AS
SELECT i, set_masklen('198.18.0.0'::inet + i * 64, 26)::cidr AS prefix FROM generate_series(0, $PREFIXES - 1) i;
INSERT INTO parallax.group_prefixes (group_name, prefix, asn)
SELECT 'G' || (i / 10), prefix, 64500 + i / 10 FROM px;
INSERT INTO parallax.route_updates (ts, peer_id, kind)
SELECT '$t0'::timestamptz, id, 'peer_up' FROM parallax.route_peers;
INSERT INTO parallax.route_updates (ts, peer_id, kind, prefix, origin_asn, as_path)
SELECT '$t0'::timestamptz + interval '1 second', p.id, 'announce', px.prefix, 64500 + px.i / 10,
       (64496 + p.id % 16) || ' ' || (64500 + px.i / 10)
FROM parallax.route_peers p CROSS JOIN px;
-- Churn as BGP has it: an event at one network reaches every peer within seconds. A tenth
-- of the prefixes are withdrawn once, at a random moment of the hour, by each peer within
-- 10 s of it, and announced again 2 minutes later with another path.
CREATE TEMP TABLE churn AS
SELECT p.id AS peer_id, e.prefix, e.i, e.at + random() * interval '10 seconds' AS ts
FROM (SELECT px.*, '$t0'::timestamptz + interval '1 minute' + random() * interval '55 minutes' AS at
      FROM px WHERE random() < 0.1) e
CROSS JOIN parallax.route_peers p;
INSERT INTO parallax.route_updates (ts, peer_id, kind, prefix)
SELECT ts, peer_id, 'withdraw', prefix FROM churn;
INSERT INTO parallax.route_updates (ts, peer_id, kind, prefix, origin_asn, as_path)
SELECT ts + interval '2 minutes', peer_id, 'announce', prefix, 64500 + i / 10, '64511 ' || (64500 + i / 10)
FROM churn;
VACUUM ANALYZE;
SQL
updates=$(q -c "SELECT count(*) FROM parallax.route_updates")
bin=$(q -c "SELECT group_bin_s FROM parallax.merge_settings_now()")
echo "routes_bench: $PEERS peers, $PREFIXES prefixes in $((PREFIXES / 10)) groups, $updates updates in the hour from $t0; group bin ${bin} s"

ms() { q -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1; }
refresh=$(ms "SELECT parallax.route_bins_refresh('$t0', '$t0'::timestamptz + interval '1 hour')")
bins=$(q -c "SELECT count(*) FROM parallax.route_bins")
times=()
for k in 1 2 3 4 5 6 7 8 9; do
    times+=("$(ms "SELECT parallax.group_routes('G$((k * 7 % (PREFIXES / 10)))', '$t0'::timestamptz + interval '$((k * 6)) minutes')")")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 5p)
awk -v r="$refresh" -v b="$bins" -v m="$median" -v bin="$bin" -v all="${times[*]}" 'BEGIN {
    printf "route_bins_refresh of the hour: %.0f ms for %d bins: %.3f%% of the hour (goal <= 1%%)\n", r, b, r / 36000
    printf "group_routes of one group: median %.1f ms (%s): %.3f%% of a %d s group bin (goal <= 1%%)\n", m, all, m / (bin * 10), bin
    exit !(r / 36000 <= 1 && m / (bin * 10) <= 1) }'
