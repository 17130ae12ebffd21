#!/usr/bin/env bash
# chaos_agent_spool: no result lost across an agent killed with SIGKILL (twice, once while the
# coordinator is away) and a coordinator outage. The agent restarts on its saved schedule and
# spools; when the coordinator returns, what the agent says it produced equals what the
# database holds: rows = acked, produced = acked + dropped + pending, none lost (results are keyed by
# agent, probe and time, so a duplicate could only hide as a missing row).
source "$PX_SOURCE_DIR/tests/integration/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add self --address 127.0.0.1 --allow-internal --probe "tcp:${COORD_EP##*:}" --probe icmp --interval 1 >/dev/null
STATS="$WORK/state-gb1/stats"
stat_of() { sed -n "s/^$1=//p" "$STATS" 2>/dev/null; }
rows() { sql "SELECT count(*) FROM parallax.results"; }
start_agent gb1; A=$LAST_PID
wait_until 30 "first rows" 'test "$(rows)" -gt 4'
log "kill -9 the agent mid-flight, restart it"
kill -KILL $A; wait $A 2>/dev/null || true
start_agent gb1; A=$LAST_PID
n=$(rows)
wait_until 30 "rows after restart" 'test "$(rows)" -gt $((n + 4))'
log "stop the coordinator; the agent spools"
kill -TERM $COORD_PID; wait $COORD_PID 2>/dev/null || true
wait_until 30 "results pile up" 'test "$(stat_of pending)" -gt 6'
log "kill -9 the agent while the coordinator is away; it restarts on its saved schedule"
kill -KILL $A; wait $A 2>/dev/null || true
p=$(stat_of produced)
start_agent gb1; A=$LAST_PID
wait_until 30 "agent probes without the coordinator" 'test "$(stat_of produced)" -gt $((p + 6))'
grep -q "running the saved schedule" "$WORK/agent-gb1.log" || fail "saved schedule not used"
log "coordinator back"
start_bg coordinator2 "$COORD" -c "$WORK/coord.conf"
wait_until 60 "spool drained" 'test "$(stat_of pending)" = 0 -a "$(stat_of acked)" -gt 0'
kill -TERM $A; wait $A || fail "agent exit status $?"
cat "$STATS" >&2
produced=$(stat_of produced); acked=$(stat_of acked); dropped=$(stat_of dropped); pending=$(stat_of pending)
r=$(rows)
log "produced=$produced acked=$acked dropped=$dropped pending=$pending rows=$r"
[ "$r" = "$acked" ] || fail "rows $r != acked $acked"
[ "$produced" = $((acked + dropped + pending)) ] || fail "produced != acked + dropped + pending"
grep -h "torn\|damaged\|counters" "$WORK"/agent-gb1.log >&2 || true

[ "$dropped" = 0 ] || fail "the spool dropped $dropped results without being full"
log "ok"
