#!/usr/bin/env bash
# world_maintenance: a maintenance window on a vantage during its uplink cut (the cut of
# world_vantage_uplink). The vantage's bins in the window are "maintenance" (their evidence
# says they would have been bad), so no vantage outage, no notification, and no target or
# group called down: the other vantages judge the country meanwhile.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
# The window covers the whole scenario: its end is not what is tested (merge_maintenance is).
ctl 0 maintenance add --agent vp1-gb --for 2h --reason "uplink work"
grep -q '^added maintenance window' "$WORK/out" || fail "maintenance add said: $(cat "$WORK/out")"
ctl 0 status
grep -Eq '^vp1-gb +[A-Z]{2} +[0-9]+ +[a-z]+ \(maintenance\) ' "$WORK/out" || fail "status does not mark vp1-gb: $(cat "$WORK/out")"
open_after=$(pxw_sql "SELECT open_after FROM parallax.merge_settings")
t_cut=$(pxw_sql "SELECT now()")
world_fault uplink_down 1
# More bad-by-their-inputs bins than would open an outage, all of them "maintenance".
pxw_wait $(iv 90) "vp1-gb's bins in the window, offline or impaired behind it" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.vantage_bins WHERE agent = '"'"'vp1-gb'"'"' AND health = '"'"'maintenance'"'"'
                      AND evidence->>'"'"'health'"'"' IN ('"'"'offline'"'"', '"'"'impaired'"'"') AND bin_start > '"'"'$t_cut'"'"'::timestamptz")" -gt "$open_after"' ||
    fail "vp1-gb was never judged bad behind the window: $(pxw_sql "SELECT bin_start, health, evidence FROM parallax.vantage_bins WHERE agent = 'vp1-gb' AND bin_start > '$t_cut' ORDER BY bin_start")"
pxw_wait $(iv 30) "bins merged without vp1" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.target_bins WHERE state = '"'"'up'"'"' AND bin_start > '"'"'$t_cut'"'"'::timestamptz")" -ge 8'
t_heal=$(pxw_sql "SELECT now()")
world_fault uplink_up 1
pxw_wait $(iv 60) "vp1-gb's results measured while cut off arrive" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.results r JOIN parallax.agents a ON a.id = r.agent_id
                      WHERE a.name = '"'"'vp1-gb'"'"' AND r.ts > '"'"'$t_cut'"'"' AND r.ts < '"'"'$t_heal'"'"' AND r.received_at > '"'"'$t_heal'"'"'")" -gt 0' ||
    fail "none of the results vp1-gb measured while cut off arrived after it healed"
pxw_wait $(iv 60) "vp1-gb healthy again behind the window" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.vantage_bins WHERE agent = '"'"'vp1-gb'"'"' AND evidence->>'"'"'health'"'"' = '"'"'healthy'"'"'
                      AND bin_start > '"'"'$t_heal'"'"'::timestamptz")" -ge 2' ||
    fail "vp1-gb never looked healthy after the heal"
excluded=$(pxw_sql "SELECT count(*) FROM parallax.target_bins WHERE bin_start > '$T_READY' AND evidence->'excluded' ? 'vp1-gb'")
[ "$excluded" -gt 0 ] || fail "vp1-gb was never left out of a target verdict"
log "vp1-gb left out of $excluded target bins"
no_outage vantage
no_outage target
no_outage group
# The outbox of notifications (migration 010, issue 17): no event at all since the normal state.
[ "$(pxw_sql "SELECT to_regclass('parallax.notify_events') IS NOT NULL")" = t ] ||
    fail "parallax.notify_events does not exist: the notification outbox is missing"
events=$(pxw_sql "SELECT string_agg(scope || ' ' || subject || ' ' || event, ', ') FROM parallax.notify_events
                  WHERE scope = 'vantage' OR started_at > '$T_READY'")
[ -z "$events" ] || fail "notifications for a vantage in maintenance: $events"
scenario_done
