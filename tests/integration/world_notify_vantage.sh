#!/usr/bin/env bash
# world_notify_vantage: a vantage's uplink is cut: only the vantage route fires (opened, then
# closed when the link is back; withdrawn and opened again in between if the spooled results
# move the outage's start); the target and group routes get nothing, and Alertmanager,
# routed groups only, shows nothing.
source "$(dirname "$0")/lib.sh"
PXW_NOTIFIER=1
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
source "$PX_SOURCE_DIR/tests/world/notify.sh"
notify_route targets target XX true
notify_route country group XX
notify_route vantages vantage
am_route am group

world_fault uplink_down 1
pxw_outage_wait $(iv 60) vantage vp1-gb offline >/dev/null || pxw_outage_wait 5 vantage vp1-gb impaired >/dev/null ||
    fail "no vantage outage"
wait_got $(iv 30) vantages opened vp1-gb
world_fault uplink_up 1
pxw_wait $(iv 60) "the vantage outage ends" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope = '"'"'vantage'"'"' AND ended_at IS NULL")" = 0' ||
    fail "the vantage outage never ended"
wait_got $(iv 30) vantages closed vp1-gb
pxw_wait $(iv 30) "every delivery done" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.notify_deliveries WHERE state = '"'"'pending'"'"'")" = 0' ||
    fail "deliveries still pending"
no_outage target
no_outage group
[ -z "$(got targets)$(got country)" ] || fail "target or group routes fired: $(got targets) $(got country)"
# One incident told as opened, then closed. When the cut began after a control probe of its
# bin had succeeded, the spooled results that arrive once the link is back make that bin
# healthy: the outage's start moves, which docs/notifications.md says is told as withdrawn
# (the old row) and opened (the new one). Either way nothing is left open, and every message
# is about vp1-gb.
seq=$(got vantages | cut -d' ' -f1 | paste -sd' ')
case "$seq" in
"opened closed" | "opened withdrawn opened closed") ;;
*) fail "vantages got: $(got vantages | tr '\n' ',')" ;;
esac
[ -z "$(got vantages | grep -v ' vp1-gb ')" ] || fail "vantages got news of others: $(got vantages | tr '\n' ',')"
[ -z "$(am_active)" ] || fail "Alertmanager shows alerts: $(am_active)"
hooks_verified
no_duplicates
scenario_done
