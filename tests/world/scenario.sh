# scenario.sh: the frame of an end-to-end scenario test (sourced by tests/integration/world_*.sh
# after lib.sh): a world of its own, Parallax running in it on this test's database, probes
# every INTERVAL seconds, and helpers to assert verdicts. Skips (exit 77) where network
# namespaces cannot be made.
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces"
for tool in nginx nsd smtpd ping tc; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/deps.sh installs it)"
done
ROOT=$PX_SOURCE_DIR
BIN=$PX_BUILD_DIR
INTERVAL=${INTERVAL:-2}
source "$PX_SOURCE_DIR/tests/world/world.sh"
source "$PX_SOURCE_DIR/scripts/world_run.sh"
on_exit pxw_stop
new_db
world_up "w$(( $$ % 10000 ))" "$WORK/world" || fail "the world did not come up"
pxw_start "$WORK/px" "$INTERVAL" "$DB" || fail "Parallax did not start in the world"
# Keep the agents' and coordinator's logs for a failure report (lib.sh prints $WORK/*.log).
on_exit 'cp "$WORK"/px/*.log "$WORK"/ 2>/dev/null'

# The normal state first: every country target up from the healthy vantages, twice.
pxw_wait 90 "every target up" \
    'test "$(pxw_sql "SELECT count(DISTINCT target) FROM parallax.target_bins WHERE state = '"'"'up'"'"' AND group_name = '"'"'XX'"'"'")" = 4' ||
    fail "the country never looked normal"
# ... and nothing open: an agent that started late under load is rightly judged offline for
# its first bins, and a fault injected before that outage closes would be "detected" at once.
pxw_wait 60 "no outage open before the fault" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE ended_at IS NULL")" = 0' ||
    fail "outages open in the normal state: $(pxw_sql "SELECT scope, subject, stage FROM parallax.outages WHERE ended_at IS NULL")"
T_READY=$(pxw_sql "SELECT now()")

# detected WHAT SECONDS: prints a detection latency in seconds and probe intervals.
detected() {
    awk -v s="$2" -v i="$INTERVAL" -v w="$1" 'BEGIN { printf "detection latency: %s after %.1f s = %.1f probe intervals\n", w, s, s / i }' >&2
}

# no_outage SCOPE [SUBJECT]: fails if such an outage was recorded since the normal state
# (one that had ended before it, from agents starting late, is not the scenario's).
no_outage() {
    local n
    n=$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope = '$1' ${2:+AND subject = '$2'}
                 AND (ended_at IS NULL OR ended_at > '$T_READY')")
    [ "$n" = 0 ] || fail "unexpected $1 outage${2:+ of $2}: $(pxw_sql "SELECT scope, subject, stage FROM parallax.outages")"
}
