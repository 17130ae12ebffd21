#!/usr/bin/env bash
# world_vantage_uplink: one vantage's uplink dies (cutting it off from the coordinator too).
# That is the vantage's failure: a vantage outage and no target or group outage; and the
# results it kept while cut off arrive after it heals.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
t_cut=$(pxw_sql "SELECT now()")
world_fault uplink_down 1
t=$(pxw_outage_wait $(iv 60) vantage vp1-gb offline) || t=$(pxw_outage_wait 5 vantage vp1-gb impaired) || fail "no vantage outage"
detected "vantage failure (uplink down)" "$t"
# Several intervals without it: the others keep seeing the country up.
pxw_wait $(iv 30) "bins merged without vp1" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.target_bins WHERE state = '"'"'up'"'"' AND bin_start > '"'"'$t_cut'"'"'::timestamptz")" -ge 8'
t_heal=$(pxw_sql "SELECT now()")
world_fault uplink_up 1
pxw_wait $(iv 60) "the vantage outage ends" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope = '"'"'vantage'"'"' AND ended_at IS NULL")" = 0' ||
    fail "the vantage outage never ended"
late=$(pxw_sql "SELECT count(*) FROM parallax.results r JOIN parallax.agents a ON a.id = r.agent_id
                WHERE a.name = 'vp1-gb' AND r.ts > '$t_cut' AND r.ts < '$t_heal' AND r.received_at > '$t_heal'")
[ "$late" -gt 0 ] || fail "none of the results vp1-gb measured while cut off arrived after it healed"
log "$late results measured while cut off arrived after healing"
no_outage target
no_outage group
scenario_done
