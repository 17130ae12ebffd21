#!/usr/bin/env bash
# world_server_down: the web server stops. The web target is down, the group is
# servers_offline — not dns_down, not a blackout.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
world_fault stop web
t=$(pxw_outage_wait 60 group XX servers_offline) || fail "no servers_offline"
detected "server offline" "$t"
pxw_wait 30 "web down" 'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE subject = '"'"'xx-web'"'"' AND stage = '"'"'down'"'"'")" = 1' ||
    fail "the web target is not down"
# A few more bins: the verdict must not grow worse than the truth.
pxw_wait 30 "more bins" 'test "$(pxw_sql "SELECT count(*) FROM parallax.group_bins WHERE stage = '"'"'servers_offline'"'"'")" -ge 4'
[ "$(pxw_sql "SELECT stage FROM parallax.outages WHERE scope = 'group'")" = servers_offline ] ||
    fail "group stage went beyond servers_offline: $(pxw_sql "SELECT stage FROM parallax.outages WHERE scope = 'group'")"
for target in xx-dns xx-mail xx-border; do no_outage target "$target"; done
no_outage vantage
log "ok"
