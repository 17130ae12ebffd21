#!/usr/bin/env bash
# world_server_down: the web server stops while its host still answers ping. The web target
# is down (its service), the group is servers_offline — not dns_down, not a blackout; when
# the server is back, every outage closes. The world's route collector feeds Parallax live
# (PXW_ROUTES): a single server down says nothing of BGP.
source "$(dirname "$0")/lib.sh"
PXW_ROUTES=1
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
world_fault stop web
t=$(pxw_outage_wait $(iv 60) group XX servers_offline) || fail "no servers_offline"
detected "server offline" "$t"
pxw_wait $(iv 30) "web down" 'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE subject = '"'"'xx-web'"'"' AND stage = '"'"'down'"'"'")" = 1' ||
    fail "the web target is not down"
# A few more bins: the verdict must not grow worse than the truth.
pxw_wait $(iv 30) "more bins" 'test "$(pxw_sql "SELECT count(*) FROM parallax.group_bins WHERE stage = '"'"'servers_offline'"'"'")" -ge 4'
[ "$(pxw_sql "SELECT stage FROM parallax.outages WHERE scope = 'group'")" = servers_offline ] ||
    fail "group stage went beyond servers_offline: $(pxw_sql "SELECT stage FROM parallax.outages WHERE scope = 'group'")"
for target in xx-dns xx-mail xx-border; do no_outage target "$target"; done
no_outage vantage
# The host still answers ping: it is its web service that is down, and explain says so.
[ "$(pxw_sql "SELECT count(*) FROM parallax.target_bins WHERE target = 'xx-web' AND state = 'down' AND evidence ? 'service_down'")" -gt 0 ] ||
    fail "xx-web down without service_down: $(pxw_sql "SELECT evidence FROM parallax.target_bins WHERE target = 'xx-web' AND state = 'down' LIMIT 1")"
id=$(pxw_sql "SELECT id FROM parallax.outages WHERE scope = 'target' AND subject = 'xx-web'")
"$BIN/coordinator/ctl/parallaxctl" --db "$DB" explain "$id" | grep -q "host reachable, service down" ||
    fail "explain does not say the host answers: $("$BIN/coordinator/ctl/parallaxctl" --db "$DB" explain "$id")"
[ "$(pxw_sql "SELECT count(*) FROM parallax.route_updates WHERE kind = 'announce'")" -gt 0 ] ||
    fail "no BGP data from the collector's live feed: $(cat "$WORK/px/routes.log")"
[ "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE detail ? 'routes'")" = 0 ] ||
    fail "a server down mentions BGP: $(pxw_sql "SELECT scope, subject, detail->'routes' FROM parallax.outages WHERE detail ? 'routes'")"
id=$(pxw_sql "SELECT id FROM parallax.outages WHERE scope = 'group' AND subject = 'XX'")
explain=$("$BIN/coordinator/ctl/parallaxctl" --db "$DB" explain "$id") || fail "explain failed"
! grep -q "routes (BGP" <<<"$explain" || fail "explain of the group's outage mentions BGP: $explain"
t_start=$(pxw_sql "SELECT now()")
world_fault start web
closed "server offline" "$t_start"
scenario_done
