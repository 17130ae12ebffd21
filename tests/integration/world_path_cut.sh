#!/usr/bin/env bash
# world_path_cut: one vantage loses its path to the country while its other paths work.
# The others still reach it: partial, never down; the vantage itself is not blamed (its
# control targets answer).
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
world_fault cut_path 1
t=$(pxw_outage_wait $(iv 60) target xx-web partial) || fail "no partial verdict"
detected "path cut (partial)" "$t"
pxw_wait $(iv 30) "more bins" 'test "$(pxw_sql "SELECT count(*) FROM parallax.target_bins WHERE state = '"'"'partial'"'"'")" -ge 8'
[ "$(pxw_sql "SELECT count(*) FROM parallax.target_bins WHERE state = 'down'")" = 0 ] ||
    fail "a target was called down although two vantages reach it"
no_outage vantage
[ "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope = 'group' AND stage NOT IN ('degraded')")" = 0 ] ||
    fail "a group stage beyond degraded for a path problem"
scenario_done
