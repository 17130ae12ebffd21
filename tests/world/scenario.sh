# scenario.sh: the frame of an end-to-end scenario test (sourced by tests/integration/world_*.sh
# after lib.sh): a world of its own, Parallax running in it on this test's database on its
# shipped defaults, probes every INTERVAL seconds (5 unless the test or its caller says), and
# helpers to assert verdicts. A scenario ends with scenario_done, which checks its whole
# history against a merge from scratch. Skips (exit 77) where network namespaces cannot be made.
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces"
for tool in nginx nsd smtpd ping tc bird birdc; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh installs it)"
done
ROOT=$PX_SOURCE_DIR
BIN=$PX_BUILD_DIR
INTERVAL=${INTERVAL:-5}
log "probe interval ${INTERVAL}s, merge settings as shipped"
# iv SECONDS: a wait written for a 5 s interval, stretched for a longer one (bins, grace and
# timeouts all follow the interval).
iv() { echo $(( $1 * INTERVAL / 5 > $1 ? $1 * INTERVAL / 5 : $1 )); }
source "$PX_SOURCE_DIR/tests/world/world.sh"
source "$PX_SOURCE_DIR/scripts/world_run.sh"
on_exit pxw_stop
new_db
world_up "w$(( $$ % 10000 ))" "$WORK/world" || fail "the world did not come up"
# The coordinator as a login role with only parallax_ingest, parallaxctl with only
# parallax_admin (lib.sh): every scenario shows the ingest role is enough.
[ -n "$LOGIN_ROLES_READY" ] || fail "the database has no grants for the login roles"
PXW_COORD_DB=$COORD_DB PXW_ADMIN_DB=$ADMIN_DB PXW_NOTIFY_DB=$NOTIFY_DB pxw_start "$WORK/px" "$INTERVAL" "$DB" || fail "Parallax did not start in the world"
coordinator_is_ingest
# Keep the agents' and coordinator's logs for a failure report (lib.sh prints $WORK/*.log).
on_exit 'cp "$WORK"/px/*.log "$WORK"/ 2>/dev/null'

# The normal state first: every country target up from the healthy vantages, twice.
pxw_wait $(iv 90) "every target up" \
    'test "$(pxw_sql "SELECT count(DISTINCT target) FROM parallax.target_bins WHERE state = '"'"'up'"'"' AND group_name = '"'"'XX'"'"'")" = 4' ||
    fail "the country never looked normal"
# ... and nothing open: an agent that started late under load is rightly judged offline for
# its first bins, and a fault injected before that outage closes would be "detected" at once.
pxw_wait $(iv 60) "no outage open before the fault" \
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

# closed WHAT T0: waits until no group or target outage is open, then prints how long after T0
# (a coordinator timestamp) that was, in seconds and group bins, and checks that the outages
# ended where the recovery began: no later than one group bin after T0.
closed() {
    local what=$1 t0=$2 bin secs
    bin=$(pxw_sql "SELECT in_force FROM parallax.merge_setting_list WHERE name = 'group_bin_s'")
    pxw_wait $((40 * INTERVAL + 60)) "$what: every outage closed" \
        'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope IN ('"'"'group'"'"', '"'"'target'"'"') AND ended_at IS NULL")" = 0' ||
        fail "$what: outages still open: $(pxw_sql "SELECT scope, subject, stage, started_at FROM parallax.outages WHERE ended_at IS NULL")"
    secs=$(pxw_sql "SELECT round(extract(epoch FROM now() - '$t0'::timestamptz)::numeric, 1)")
    awk -v s="$secs" -v b="$bin" -v w="$what" 'BEGIN { printf "recovery latency: %s closed %.1f s = %.1f group bins after the fault ended\n", w, s, s / b }' >&2
    local late
    late=$(pxw_sql "SELECT string_agg(scope || ' ' || subject || ' ended ' || ended_at, ', ') FROM parallax.outages
                    WHERE ended_at > '$t0'::timestamptz + $bin * interval '1 second'")
    [ -z "$late" ] || fail "$what: outages ended later than the recovery: $late"
}

# scenario_done: stops the agents, lets the coordinator merge what they sent, and re-merges the
# whole history from scratch (parallax.merge_verify): any bin or outage that differs from what
# the incremental merge stored fails the test.
scenario_done() {
    local i diffs
    for i in "${!PXW_AGENT_PID[@]}"; do pxw_stop_agent "$i"; done
    local t_stop
    t_stop=$(pxw_sql "SELECT now()")
    pxw_wait $(iv 120) "the merge catches up with the stopped agents" \
        'test "$(pxw_sql "SELECT count(*) FROM parallax.merge_queue WHERE bin_start < '"'"'$t_stop'"'"'")" = 0' ||
        fail "bins before the agents stopped are still waiting: $(pxw_sql "SELECT scope, subject_id, bin_start, closes_at FROM parallax.merge_queue ORDER BY bin_start LIMIT 5")"
    diffs=$(psql -X -q -tA -F ' ' -v ON_ERROR_STOP=1 -d "$DB" -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
        -c "SELECT kind, scope, subject, at, stored, scratch FROM parallax.merge_verify((SELECT min(bin_start) FROM parallax.bins))" \
        -c "ROLLBACK") || fail "verify failed"
    log "verify: $(echo "$diffs" | grep '^span' || true)"
    diffs=$(echo "$diffs" | grep -v '^span' || true)
    [ -z "$diffs" ] || fail "the incremental merge differs from a merge from scratch ($(echo "$diffs" | wc -l) rows):
$(echo "$diffs" | head -20)"
    log "verify: the whole history merged from scratch gives the same bins and outages"
    log "ok"
}
