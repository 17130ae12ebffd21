#!/usr/bin/env bash
# world_trace_on_demand: traces when things break (docs/routes.md). The web server stops; when
# its target turns bad the coordinator asks every healthy vantage for a one-off trace to it,
# and within two group bins of the bad bin's end each has a trace result tagged with the
# target's outage (parallax.probe_request_results). The one-off probe is in no schedule, and
# the verdicts are those of world_server_down (scenario_done merges everything again from
# scratch and compares: the traces changed no bin).
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
world_fault stop web
pxw_wait $(iv 60) "xx-web outage" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope = '"'"'target'"'"' AND subject = '"'"'xx-web'"'"'")" = 1' ||
    fail "no outage of xx-web"
oid=$(pxw_sql "SELECT id FROM parallax.outages WHERE scope = 'target' AND subject = 'xx-web'")
started=$(pxw_sql "SELECT started_at FROM parallax.outages WHERE id = $oid")
# The vantages healthy when the target turned bad (their bin of that moment, once merged).
pxw_wait $(iv 30) "vantage bins of the outage's start merged" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.bins WHERE scope = '"'"'vantage'"'"' AND bin_end > '"'"'$started'"'"'")" -ge 1'
healthy=$(pxw_sql "SELECT string_agg(a.name, ' ' ORDER BY a.name) FROM parallax.vantage_bins v JOIN parallax.agents a ON a.name = v.agent
                   WHERE v.bin_start <= '$started' AND v.bin_end > '$started' AND v.health = 'healthy'")
[ -n "$healthy" ] || fail "no healthy vantage when xx-web turned bad: $(pxw_sql "SELECT agent, bin_start, health FROM parallax.vantage_bins ORDER BY bin_start DESC LIMIT 8")"
n=$(echo "$healthy" | wc -w)
log "healthy vantages at $started: $healthy"
traced() {
    pxw_sql "SELECT count(DISTINCT agent) FROM parallax.probe_request_results
             WHERE outage_id = $oid AND target = 'xx-web' AND kind = 'trace' AND detail ? 'trace'
               AND agent IN ($(printf "'%s'," $healthy | sed 's/,$//'))"
}
pxw_wait $(iv 60) "a trace from every healthy vantage" 'test "$(traced)" -ge '"$n" ||
    fail "traces tagged with outage $oid from $(traced) of $n healthy vantages: $(pxw_sql "SELECT id, agent_id, outage_id, reason, created_at, sent_at, answered_at FROM parallax.probe_requests")"
# How soon: the last healthy vantage's first trace, from the end of the target's first bad bin.
bin=$(pxw_sql "SELECT in_force FROM parallax.merge_setting_list WHERE name = 'group_bin_s'")
late=$(pxw_sql "SELECT round(extract(epoch FROM max(first) - (SELECT min(bin_end) FROM parallax.target_bins
                                                              WHERE target = 'xx-web' AND bin_start >= '$started' AND state <> 'up'))::numeric, 1)
                FROM (SELECT agent, min(received_at) AS first FROM parallax.probe_request_results
                      WHERE outage_id = $oid AND target = 'xx-web' GROUP BY agent) f")
awk -v s="$late" -v b="$bin" 'BEGIN { printf "trace latency: every healthy vantage traced %.1f s = %.2f group bins after the bad bin ended\n", s, s / b }' >&2
awk -v s="$late" -v b="$bin" 'BEGIN { exit !(s <= 2 * b) }' || fail "traces came $late s after the bad bin, more than two group bins ($bin s)"
# Each answered request is recorded as sent, then as answered (the merge thread marks answers
# a quarter of a second apart): the limits count what was sent.
unmarked() {
    pxw_sql "SELECT count(*) FROM parallax.probe_request_results r JOIN parallax.probe_requests q ON q.id = r.request_id
             WHERE r.outage_id = $oid AND (q.sent_at IS NULL OR q.answered_at IS NULL)"
}
pxw_wait 10 "the answered traces recorded as sent and answered" 'test "$(unmarked)" = 0' ||
    fail "$(unmarked) answered traces not recorded as sent and answered: $(pxw_sql "SELECT id, agent_id, created_at, sent_at, answered_at FROM parallax.probe_requests")"
# Rate-limited: one trace per vantage and target within the limit's window, not one a bin,
# whether it was sent or not.
extra=$(pxw_sql "SELECT count(*) FROM (SELECT agent_id FROM parallax.probe_requests WHERE target_id = (SELECT id FROM parallax.targets WHERE name = 'xx-web')
                 GROUP BY agent_id HAVING count(*) > 1) x")
[ "$extra" = 0 ] || fail "$extra vantages were asked for xx-web more than once within the limit"
# The documented query (docs/routes.md) lists them.
/usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/docs_blocks.py" get "$PX_SOURCE_DIR/docs/routes.md" trace-results >"$WORK/trace-results.sql" ||
    fail "docs/routes.md has no trace-results block"
psql -X -q -tA -v ON_ERROR_STOP=1 -d "$DB_NAME" -f "$WORK/trace-results.sql" >"$WORK/trace-results.out" || fail "the documented query failed"
[ "$(grep -c "^$oid|.*|xx-web|" "$WORK/trace-results.out")" -ge "$n" ] ||
    fail "the documented query does not list the traces: $(cat "$WORK/trace-results.out")"
[ "$(pxw_sql "SELECT count(*) FROM parallax.schedule_view v JOIN parallax.request_probes p ON p.id = v.probe_id")" = 0 ] ||
    fail "a one-off probe is in the schedule"
[ "$(pxw_sql "SELECT stage FROM parallax.outages WHERE scope = 'group'")" = servers_offline ] ||
    fail "the group's stage is not servers_offline: $(pxw_sql "SELECT stage FROM parallax.outages WHERE scope = 'group'")"
scenario_done
