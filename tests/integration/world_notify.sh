#!/usr/bin/env bash
# world_notify: outage notifications in the world, from verdicts on real servers to a real
# Alertmanager and a webhook receiver. The web server stops: exactly one 'opened' per route
# (the target route, which asks for group targets: xx-web down; the group route: XX
# servers_offline); DNS stops: one 'stage' dns_down; the country's route is withdrawn: one
# 'stage' blackout; everything back: one 'closed' per outage. Alertmanager shows the group's
# alert active (at its latest stage), then resolved.
source "$(dirname "$0")/lib.sh"
PXW_NOTIFIER=1
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
source "$PX_SOURCE_DIR/tests/world/notify.sh"
notify_route targets target XX true
notify_route country group XX
notify_route vantages vantage
am_route am group

world_fault stop web
t=$(pxw_outage_wait $(iv 60) group XX servers_offline) || fail "no servers_offline"
detected "server offline" "$t"
wait_got $(iv 30) country opened XX servers_offline
wait_got $(iv 30) targets opened xx-web down
pxw_wait $(iv 30) "Alertmanager: XX servers_offline active" '[ "$(am_active)" = "XX servers_offline" ]' ||
    fail "Alertmanager's active alerts: $(am_active)"

world_fault stop dns
pxw_outage_wait $(iv 60) group XX dns_down >/dev/null || fail "no dns_down"
wait_got $(iv 30) country stage XX dns_down
pxw_wait $(iv 30) "Alertmanager: XX dns_down active alone" '[ "$(am_active)" = "XX dns_down" ]' ||
    fail "Alertmanager's active alerts: $(am_active)"

world_fault withdraw
pxw_outage_wait $(iv 60) group XX blackout >/dev/null || fail "no blackout"
wait_got $(iv 30) country stage XX blackout
pxw_wait $(iv 30) "Alertmanager: XX blackout active alone" '[ "$(am_active)" = "XX blackout" ]' ||
    fail "Alertmanager's active alerts: $(am_active)"

t_restore=$(pxw_sql "SELECT now()")
world_fault restore
world_fault start dns
world_fault start web
closed "the country back" "$t_restore"
wait_got $(iv 30) country closed XX
pxw_wait $(iv 30) "Alertmanager: nothing active" '[ -z "$(am_active)" ]' ||
    fail "Alertmanager's active alerts after recovery: $(am_active)"
# Every outage's events reach its route once: the group's outage on 'country', the targets'
# on 'targets' (held back by no group outage: the route asks for them).
pxw_wait $(iv 30) "every delivery done" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.notify_deliveries WHERE state = '"'"'pending'"'"'")" = 0' ||
    fail "deliveries still pending: $(pxw_sql "SELECT * FROM parallax.notify_deliveries WHERE state = 'pending'")"
expect_one() { # ROUTE EVENT SUBJECT [STAGE]
    local n; n=$(got_count "$@")
    [ "$n" = 1 ] || fail "$1 got '$2 $3 ${4:-}' $n times, not once: $(got "$1" | tr '\n' ',')"
}
expect_one country opened XX servers_offline
expect_one country stage XX dns_down
expect_one country stage XX blackout
expect_one country closed XX
[ "$(got_count country opened XX)" = 1 ] || fail "more than one 'opened' for XX: $(got country | tr '\n' ',')"
expect_one targets opened xx-web down
for subject in $(pxw_sql "SELECT DISTINCT subject FROM parallax.outages WHERE scope = 'target' AND started_at > '$T_READY'"); do
    [ "$(got_count targets opened "$subject")" = 1 ] || fail "targets: 'opened $subject' not once: $(got targets | tr '\n' ',')"
    [ "$(got_count targets closed "$subject")" = 1 ] || fail "targets: 'closed $subject' not once: $(got targets | tr '\n' ',')"
done
[ -z "$(got vantages)" ] || fail "the vantage route fired: $(got vantages | tr '\n' ',')"
[ -z "$(got country | grep -v ' XX ')" ] || fail "the group route got others: $(got country | tr '\n' ',')"
hooks_verified
no_duplicates
log "country got: $(got country | tr '\n' ',')"
scenario_done
