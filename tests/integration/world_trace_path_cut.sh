#!/usr/bin/env bash
# world_trace_path_cut: vantage 1 alone loses its path to the country. Its target outages
# (partial) bring one-off traces from every healthy vantage, vantage 1 included (its control
# targets answer); parallax.path_ends shows its path dying outside the country while the
# others reach the target, each from a trace asked for the outage; explain says so.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
world_fault cut_path 1
pxw_wait $(iv 60) "xx-web outage" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope = '"'"'target'"'"' AND subject = '"'"'xx-web'"'"'")" = 1' ||
    fail "no outage of xx-web"
oid=$(pxw_sql "SELECT id FROM parallax.outages WHERE scope = 'target' AND subject = 'xx-web'")
n=$(pxw_sql "SELECT count(*) FROM parallax.agents WHERE enabled")
pxw_wait $(iv 60) "a requested trace from every vantage in path_ends" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.path_ends WHERE outage_id = '"$oid"' AND requested")" -ge '"$n" ||
    fail "path_ends of outage $oid: $(pxw_sql "SELECT agent, requested, reached, last_hop FROM parallax.path_ends WHERE outage_id = $oid")"
rows=$(pxw_sql "SELECT agent || ' ' || reached || ' ' || coalesce(host(last_hop), '-') || ' ' || coalesce(last_hop_inside::text, '-')
                FROM parallax.path_ends WHERE outage_id = $oid ORDER BY agent")
log "where paths die: $(echo "$rows" | tr '\n' ';')"
cut=$(echo "$rows" | awk '$1 ~ /^vp1-/')
[ -n "$cut" ] || fail "no row of vantage 1"
set -- $cut
[ "$2" = false ] || fail "vantage 1's trace reached xx-web through the cut: $cut"
[ "$4" != true ] || fail "vantage 1's path dies inside the country: $cut"
echo "$rows" | awk '$1 !~ /^vp1-/ && $2 != "true" { bad = 1 } END { exit bad }' ||
    fail "a vantage without a cut did not reach xx-web: $rows"
# explain says it in words: where vantage 1's paths die, and that the others reach the country.
ctl 0 explain "$oid"
grep -Eq '^  vp1-[a-z]+: (its paths die at [0-9.]+ \(hop [0-9]+\).*, outside the group.s networks|no hop answered its traces: its paths die at its first router or before)$' "$WORK/out" ||
    fail "explain does not say where vantage 1's paths die: $(cat "$WORK/out")"
grep -Eq '^    while vp2-[a-z]+, vp3-[a-z]+ reach them$' "$WORK/out" ||
    fail "explain does not say the others reach the country: $(cat "$WORK/out")"
scenario_done
