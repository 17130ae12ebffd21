#!/usr/bin/env bash
# merge_routes: BGP visibility as evidence of a group's outage (issue 18), from synthetic
# results and route updates with a known truth, inserted as parallaxctl routes would: a
# blackout whose prefix was withdrawn says unroutable and when; one with the routes still
# announced says so; a single server down says nothing of BGP; routes withdrawn while the
# probes succeed are a route anomaly, never a blackout; routes data that arrives after the
# merge judged a bin re-judges it. Each ends equal to a merge from scratch.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

# Three collector peers that all announce the country's /24 from before bin 0.
routes_announced() {
    fx "INSERT INTO parallax.route_peers (collector, address, asn)
        VALUES ('rc', '198.51.100.201', 64500), ('rc', '198.51.100.202', 64502), ('rc', '198.51.100.203', 64503)"
    routes_say announce -5
}
# routes_say KIND K [SECONDS]: every peer announces or withdraws the /24 at bin K + SECONDS.
routes_say() {
    fx "INSERT INTO parallax.route_updates (ts, peer_id, kind, prefix, origin_asn, as_path)
        SELECT fx.bin($2) + interval '${3:-0} s', id, '$1', '203.0.113.0/24',
               CASE WHEN '$1' = 'announce' THEN 64501 END,
               CASE WHEN '$1' = 'announce' THEN asn || ' 64501' END
        FROM parallax.route_peers"
}
# explain_has SUBJECT LINE: explain of SUBJECT's only outage has the line.
explain_has() {
    ctl 0 explain "$(sql "SELECT id FROM parallax.outages WHERE subject = '$1'")"
    grep -qxF -- "$2" "$WORK/out" || fail "explain lacks '$2': $(cat "$WORK/out")"
}
routes_refresh() { fx "SELECT parallax.route_bins_refresh(fx.bin(-5), fx.bin($1))"; }
group_routes_at() {
    sql "SELECT coalesce(evidence->'routes'->>'state', '-') FROM parallax.group_bins
         WHERE group_name = 'IR' AND bin_start = fx.bin($1)"
}

fx_scenario "a blackout with the country's prefix withdrawn: unroutable, with the withdrawal's time"
routes_announced
routes_say withdraw 9 20
routes_say announce 19 50
routes_refresh 30
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-.*', status => 'unreachable')"
fx "SELECT fx.play(0, 30)"
expect_timeline group IR 0 30 nnnnnnnnnnBBBBBBBBBBnnnnnnnnnnn
expect_eq "routes state" "$(detail IR '$.routes.state')" unroutable
expect_eq "routes of the stage" "$(detail IR '$.routes.stage')" blackout
expect_eq "withdrawal time" "$(sql "SELECT fx.k((detail->'routes'->>'withdrawn_at')::timestamptz) || ' '
        || extract(second FROM (detail->'routes'->>'withdrawn_at')::timestamptz)::int
        FROM parallax.outages WHERE subject = 'IR'")" "9 20"
expect_eq "the prefix" "$(detail IR '$.routes.prefixes[0].prefix')" 203.0.113.0/24
expect_eq "seen by none of three" "$(detail IR '$.routes.prefixes[0].seeing')/$(detail IR '$.routes.prefixes[0].peers')" 0/3
expect_eq "bins before the withdrawal say nothing of BGP" "$(group_routes_at 5)" -
FIRST_FAILURE_LEAD=$(sql "SELECT round(extract(epoch FROM min(ts) - (fx.bin(9) + interval '20 s')))
                          FROM parallax.results WHERE status = 'unreachable'")
explain_has IR "routes (BGP, from the route collectors): unroutable: the group's prefixes were withdrawn from the routing table, so it could not be routed into"
explain_has IR "  203.0.113.0/24 withdrawn from 3 of 3 collector peers at $(sql "SELECT to_char(fx.bin(9) + interval '20 s', 'YYYY-MM-DD HH24:MI:SS')") UTC, $FIRST_FAILURE_LEAD s before the first failed probe"
expect_eq "visibility bins" "$(sql "SELECT string_agg(fx.k(bin_start) || ':' || peers_seeing || '/' || peers_total, ' ' ORDER BY bin_start)
        FROM parallax.route_bins WHERE bin_start BETWEEN fx.bin(8) AND fx.bin(11)")" "8:3/3 9:0/3 10:0/3 11:0/3"
ctl 0 timeline --group IR --until "$(sql "SELECT fx.bin(31)")" --since 31m --json
expect_eq "the timeline's routes row" "$(jq -r '.rows[] | select(.kind == "routes") | .cells
        | map(if . == "unroutable" then "U" elif . == "routed" then "." elif . == null then " " else "r" end) | join("")' "$WORK/out")" \
    ".........UUUUUUUUUU............"
ctl 0 timeline --group IR --until "$(sql "SELECT fx.bin(31)")" --since 31m --no-color
grep -q "^  routes (BGP) *\.\.\.\.\.\.\.\.\.UUUUUUUUUU\.\.\.\.\.\.\.\.\.\.\.\.$" "$WORK/out" || fail "timeline: $(cat "$WORK/out")"
grep -q "^  routes  .* withdrawn (unroutable)" "$WORK/out" || fail "timeline legend: $(cat "$WORK/out")"
expect_remerge_same 30

fx_scenario "a blackout with the routes still announced: routes present"
routes_announced
routes_refresh 30
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-.*', status => 'timeout')"
fx "SELECT fx.play(0, 30)"
expect_timeline group IR 0 30 nnnnnnnnnnBBBBBBBBBBnnnnnnnnnnn
expect_eq "routes state" "$(detail IR '$.routes.state')" routed
expect_eq "seen by three of three" "$(detail IR '$.routes.prefixes[0].seeing')/$(detail IR '$.routes.prefixes[0].peers')" 3/3
expect_eq "no withdrawal" "$(detail IR '$.routes.withdrawn_at')" ""
explain_has IR "  203.0.113.0/24 announced, seen by 3 of 3 collector peers (origin AS64501)"
expect_remerge_same 30

fx_scenario "a single server down: no word of BGP"
routes_announced
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-web2', status => 'refused')"
fx "SELECT fx.play(0, 30)"
expect_events "group IR 10 20 servers_offline
target ir-web2 10 20 down"
expect_eq "no routes in the group's outage" "$(detail IR '$.routes')" ""
expect_eq "none in its bins" "$(sql "SELECT count(*) FROM parallax.group_bins WHERE evidence ? 'routes'")" 0
ctl 0 explain "$(sql "SELECT id FROM parallax.outages WHERE subject = 'IR'")"
! grep -qi "bgp\|collector" "$WORK/out" || fail "explain of a single server down speaks of BGP: $(cat "$WORK/out")"
expect_remerge_same 30

fx_scenario "routes withdrawn while every probe succeeds: a route anomaly, not a blackout"
routes_announced
routes_say withdraw 10 5
routes_say announce 14 5
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.play(0, 30)"
expect_timeline group IR 0 30 nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn
expect_events ""
expect_eq "anomaly bins" "$(sql "SELECT string_agg(fx.k(bin_start) || ':' || routes_state, ' ' ORDER BY bin_start)
        FROM parallax.route_anomalies WHERE group_name = 'IR'")" "10:unroutable 11:unroutable 12:unroutable 13:unroutable"
expect_remerge_same 30

fx_scenario "routes data after the merge: the judged bins are judged again"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-.*', status => 'unreachable')"
fx "SELECT fx.play(0, 30)"
expect_eq "no BGP data, no word of it" "$(detail IR '$.routes')" ""
routes_announced
routes_say withdraw 9 50
routes_say announce 20 0
routes_refresh 30
fx "SELECT fx.merge(30)"
expect_eq "routes state once the data came" "$(detail IR '$.routes.state')" unroutable
expect_eq "the group's bin too" "$(group_routes_at 12)" unroutable
expect_remerge_same 30

fx_scenario "where paths die: one vantage's traces end outside the country, the others' at its border"
routes_announced
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-.*', status => 'timeout')"
fx "SELECT fx.play(0, 30)"
# Traces of ir-web1 during the blackout (added after the merge: the verdicts are not theirs to
# change here): A's die at its own provider's router, B's and C's at the country's border
# router, D's traces first reach the border, then (the latest) get no answer from any hop.
fx "INSERT INTO parallax.probes (target_id, kind, spec, interval_s, timeout_ms)
    SELECT id, 'trace', 'trace', 60, 5000 FROM parallax.targets WHERE name = 'ir-web1'"
trace() { # AGENT K HOPS...: a failed trace of ir-web1 by AGENT in bin K through HOPS
    local agent=$1 k=$2 hops='' ttl=0 h; shift 2
    for h in "$@"; do ttl=$((ttl + 1)); hops="$hops${hops:+,}{\"ttl\": $ttl, \"address\": \"$h\", \"rtt_us\": 900}"; done
    hops="$hops${hops:+,}{\"ttl\": $((ttl + 1))}"
    fx "INSERT INTO parallax.results (ts, agent_id, probe_id, status, detail)
        SELECT fx.bin($k) + interval '7 s', a.id, p.id, 'timeout',
               '{\"trace\": {\"reached\": false, \"last_responsive_ttl\": $ttl, \"hops\": [$hops]}}'
        FROM parallax.agents a, parallax.probes p JOIN parallax.targets t ON t.id = p.target_id
        WHERE a.name = '$agent' AND t.name = 'ir-web1' AND p.kind = 'trace'"
}
trace A 12 198.18.1.1
trace B 12 198.18.2.1 198.18.9.2 203.0.113.1
trace C 13 198.18.3.1 198.18.9.2 203.0.113.1
trace D 11 198.18.4.1
trace D 14 198.18.4.1 198.18.9.2 203.0.113.1
trace D 15
expect_eq "path ends" "$(sql "SELECT string_agg(agent || ':' || coalesce(last_ttl::text, '-') || ':' || coalesce(host(last_hop), '-') || ':'
        || coalesce(last_hop_asn::text, '-') || ':' || coalesce(last_hop_inside::text, '-'), ' ' ORDER BY agent)
        FROM parallax.path_ends p JOIN parallax.outages o ON o.id = p.outage_id
        WHERE o.subject = 'IR'")" "A:1:198.18.1.1:-:false B:3:203.0.113.1:64501:true C:3:203.0.113.1:64501:true D:-:-:-:-"
explain_has IR "  A: its paths die at 198.18.1.1 (hop 1), outside the group's networks"
explain_has IR "    while B, C reach them"
explain_has IR "  D: no hop answered its traces: its paths die at its first router or before"
explain_has IR "  B reaches the group's networks"
for block in routes-outage-detail path-ends; do
    { echo "SET ROLE parallax_read;"
      /usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/docs_blocks.py" get "$PX_SOURCE_DIR/docs/routes.md" $block; } >"$WORK/doc.sql"
    psql -X -q -tA -v ON_ERROR_STOP=1 -d "$DB_NAME" -f "$WORK/doc.sql" >"$WORK/doc.out" || fail "docs/routes.md's $block fails as the read role"
    [ -s "$WORK/doc.out" ] || fail "docs/routes.md's $block printed nothing"
done
expect_eq "the target's own outage too" "$(sql "SELECT count(*) FROM parallax.path_ends p JOIN parallax.outages o ON o.id = p.outage_id
        WHERE o.subject = 'ir-web1'")" 4

fx_scenario "peers whose sessions ended are not counted; derived from the targets' addresses"
routes_announced
fx "INSERT INTO parallax.route_updates (ts, peer_id, kind) SELECT fx.bin(3), id, 'peer_down' FROM parallax.route_peers WHERE asn = 64503"
expect_eq "visibility at bin 5" "$(sql "SELECT peers_seeing || '/' || peers_total FROM parallax.route_visibility('203.0.113.0/24', fx.bin(5))")" 2/2
expect_eq "a /25 inside is reached by the /24" "$(sql "SELECT peers_seeing FROM parallax.route_visibility('203.0.113.128/25', fx.bin(5))")" 2
expect_eq "derived prefixes" "$(sql "SELECT string_agg(prefix::text || ':' || configured, ' ') FROM parallax.group_prefix_list('IR')")" "203.0.113.0/24:false"
ctl 2 group set IR --prefix 203.0.113.0/24 --clear
ctl 2 group set IR --prefix 203.0.113.0/24 --asn 4294967296
ctl 2 group set IR --prefix 203.0.113.0
ctl 1 group set IR --prefix 203.0.113.1/24
one_line_error "bad --prefix '203.0.113.1/24'"
ctl 0 group set IR --prefix 203.0.113.0/25 --prefix 192.0.2.0/24 --asn 64501
ctl 2 group show IR --at
ctl 1 group show IR --at yesterdayish
one_line_error "bad --at"
ctl 1 group show XX
one_line_error "no group named 'XX'"
ctl 0 group show IR --at "$(sql "SELECT fx.bin(5)")"
grep -q "^203.0.113.0/25 *configured *AS64501 *2/2 *AS64501" "$WORK/out" || fail "group show: $(cat "$WORK/out")"
grep -q "^192.0.2.0/24 *configured *AS64501 *0/2" "$WORK/out" || fail "group show: $(cat "$WORK/out")"
ctl 0 group list --json
expect_eq "group list" "$(jq -c '.[] | select(.group == "IR") | [.prefixes, .routes]' "$WORK/out")" \
    '[["192.0.2.0/24","203.0.113.0/25"],null]'
expect_eq "configured prefixes win" "$(sql "SELECT string_agg(prefix::text, ' ' ORDER BY prefix) FROM parallax.group_prefix_list('IR')")" "192.0.2.0/24 203.0.113.0/25"
expect_eq "an unannounced configured prefix: partly routed" "$(sql "SELECT parallax.group_routes('IR', fx.bin(5))->>'state'")" partly_routed

fx_scenario "status: routes withdrawn now while nothing is dark is a route anomaly"
fx "INSERT INTO parallax.route_peers (collector, address, asn) VALUES ('rc', '198.51.100.201', 64500), ('rc', '198.51.100.202', 64502)"
fx "INSERT INTO parallax.route_updates (ts, peer_id, kind, prefix, origin_asn, as_path)
    SELECT now() - interval '10 minutes', id, 'announce', '203.0.113.0/24', 64501, asn || ' 64501' FROM parallax.route_peers"
ctl 0 status
! grep -q "routes not all there" "$WORK/out" || fail "status speaks of routes while all are there: $(cat "$WORK/out")"
fx "INSERT INTO parallax.route_updates (ts, peer_id, kind, prefix)
    SELECT now() - interval '5 minutes', id, 'withdraw', '203.0.113.0/24' FROM parallax.route_peers"
ctl 0 status
grep -q "^  group IR unroutable since $(sql "SELECT to_char(max(ts), 'YYYY-MM-DD HH24:MI:SS') FROM parallax.route_updates") UTC: a route anomaly, its probes still reach it" "$WORK/out" ||
    fail "status: $(cat "$WORK/out")"
log "ok"
