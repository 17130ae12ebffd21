#!/usr/bin/env bash
# world_blackout_blackhole: the country's route is blackholed at the transit router (packets
# vanish: timeouts, not errors). Every vantage agrees: a group blackout, every country target down,
# no vantage blamed. Then the route returns and the outage ends.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
world_fault blackhole
t=$(pxw_outage_wait 60 group XX blackout) || fail "no blackout"
detected "blackout (route blackholed)" "$t"
# Every country target is down in the bins of the blackout (an outage's worst stage is
# down once it got there).
for target in xx-web xx-dns xx-mail xx-border; do
    pxw_wait 20 "$target down" \
        "test \"\$(pxw_sql \"SELECT count(*) FROM parallax.outages WHERE scope = 'target' AND subject = '$target' AND stage = 'down'\")\" = 1" ||
        fail "$target not down: $(pxw_sql "SELECT subject, stage, detail FROM parallax.outages WHERE subject = '$target'")"
done
# The evidence names the failure: unreachable, from every vantage.
pxw_sql "SELECT detail::text FROM parallax.outages WHERE scope = 'target' AND subject = 'xx-web'" | grep -q timeout ||
    fail "the web target's evidence does not say timeout: $(pxw_sql "SELECT detail FROM parallax.outages WHERE subject = 'xx-web'")"
no_outage vantage
world_fault restore
pxw_wait 60 "the blackout ends" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope = '"'"'group'"'"' AND ended_at IS NULL")" = 0' ||
    fail "the blackout never ended"
log "ok"
