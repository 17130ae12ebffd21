#!/usr/bin/env bash
# world_degradation: the border link is throttled and flooded — latency rises — and then
# the route is withdrawn. The group outage goes through its stages in order, and detail
# records when each was first reached.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
# The latency baseline needs a few normal bins.
pxw_wait $(iv 60) "a baseline" 'test "$(pxw_sql "SELECT count(*) FROM parallax.target_bins WHERE state = '"'"'up'"'"' AND target = '"'"'xx-web'"'"'")" -ge 5'
world_fault stress 60
t=$(pxw_outage_wait $(iv 60) group XX degraded) || fail "no degradation"
detected "degradation" "$t"
world_fault stop web
pxw_outage_wait $(iv 60) group XX servers_offline >/dev/null || fail "no servers_offline"
world_fault stop dns
pxw_outage_wait $(iv 60) group XX dns_down >/dev/null || fail "no dns_down"
world_fault unstress
world_fault withdraw
pxw_outage_wait $(iv 60) group XX blackout >/dev/null || fail "no blackout"
order=$(pxw_sql "SELECT string_agg(key, ' ' ORDER BY value::text::timestamptz, key)
                 FROM parallax.outages, jsonb_each(detail -> 'first_reached')
                 WHERE scope = 'group' AND subject = 'XX'")
[ "$order" = "degraded servers_offline dns_down blackout" ] || fail "stages out of order: $order"
[ "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope = 'group'")" = 1 ] ||
    fail "the stages were split over several outages"
no_outage vantage
log "stages in order: $order"
scenario_done
