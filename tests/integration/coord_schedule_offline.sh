#!/usr/bin/env bash
# coord_schedule_offline: schedule changes made while a real agent is offline reach it when it
# returns. Twice: the agent stopped (it restarts on its saved, stale schedule) while a target
# is added and another removed; then the agent frozen with SIGSTOP (its host hung: the
# connection is still there but nothing answers) while a target is added. Each time, once it
# is back: parallax.agents.schedule_version_acked = max(parallax.schedule_versions.version),
# its own stats say it runs that version, results of the new probe arrive and those of a
# removed probe stop. At the end nothing was lost: rows = acked, produced = acked + dropped +
# pending, pending 0.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
# A short session timeout, so that "offline" is seen within seconds: restart with it.
echo "session_timeout_s = 5" >>"$WORK/coord.conf"
kill -TERM "$COORD_PID"; wait "$COORD_PID" || fail "coordinator exit status $?"
start_bg coordinator-5s "$COORD" -c "$WORK/coord.conf"
COORD_PID=$LAST_PID
wait_until 20 "coordinator back" 'grep -q "connected to the database" "$WORK/coordinator-5s.log"'

add_agent gb1 GB
echo "heartbeat_s = 1" >>"$WORK/gb1.conf"
"$CTL" --db "$DB" target add old --address 127.0.0.1 --allow-internal --probe icmp --interval 1 >/dev/null
STATS="$WORK/state-gb1/stats"
stat_of() { sed -n "s/^$1=//p" "$STATS" 2>/dev/null; }
latest() { sql "SELECT max(version) FROM parallax.schedule_versions"; }
latest_probes() { sql "SELECT probes FROM parallax.schedule_versions ORDER BY version DESC LIMIT 1"; }
acked() { sql "SELECT coalesce(schedule_version_acked, 0) FROM parallax.agents WHERE name = 'gb1'"; }
online() { sql "SELECT online FROM parallax.agents WHERE name = 'gb1'"; }
probe_of() { sql "SELECT p.id FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id WHERE t.name = '$1'"; }
results_of() { sql "SELECT count(*) FROM parallax.results WHERE probe_id = $1 ${2:-}"; }
# current: the agent runs the latest version, by the coordinator's record and its own.
current() { local v; v=$(latest); test -n "$v" -a "$(acked)" = "$v" -a "$(stat_of schedule_version)" = "$v"; }

start_agent gb1; A=$LAST_PID
wait_until 30 "the agent runs the first schedule" current
v1=$(latest)
OLD=$(probe_of old)
wait_until 30 "results of the first probe" 'test "$(results_of $OLD)" -gt 2'

log "agent stopped; a target added and one removed meanwhile"
kill -TERM "$A"; wait "$A" || fail "agent exit status $?"
wait_until 30 "the coordinator sees the agent offline" 'test "$(online)" = f'
"$CTL" --db "$DB" target add new --address 127.0.0.1 --allow-internal --probe tcp:9 --interval 1 >/dev/null
"$CTL" --db "$DB" target remove old >/dev/null
NEW=$(probe_of new)
wait_until 30 "the coordinator has the new schedule" 'test "$(latest)" -gt "$v1" -a "$(latest_probes)" = 1'
[ "$(acked)" = "$v1" ] || fail "an offline agent acknowledged $(acked)"
start_agent gb1; A=$LAST_PID
wait_until 30 "the agent runs the new schedule" current
v2=$(latest)
grep -q "running the saved schedule version $v1" "$WORK/agent-gb1.log" || fail "the agent did not restart on its saved schedule $v1"
wait_until 30 "results of the added probe" 'test "$(results_of $NEW)" -gt 2'
log "version $v1 -> $v2 after the restart"

log "agent frozen (SIGSTOP); a target added meanwhile"
expired() { grep -c "agent gb1 silent for 5s: session expired" "$WORK/coordinator-5s.log" || true; }
n=$(expired)
kill -STOP "$A"
on_exit "kill -CONT $A 2>/dev/null"
# Both: marked offline in the table, and its session (its route) forgotten, so the change
# cannot be pushed down the connection, which outlives this short freeze.
wait_until 60 "the coordinator sees the frozen agent offline" 'test "$(online)" = f -a "$(expired)" -gt "$n"'
"$CTL" --db "$DB" target add third --address 127.0.0.1 --allow-internal --probe icmp --interval 1 >/dev/null
THIRD=$(probe_of third)
wait_until 30 "the coordinator has the third schedule" 'test "$(latest)" -gt "$v2" -a "$(latest_probes)" = 2'
kill -CONT "$A"
wait_until 60 "the thawed agent runs the third schedule" current
v3=$(latest)
wait_until 30 "results of the third probe" 'test "$(results_of $THIRD)" -gt 2'
log "version $v2 -> $v3 after the thaw"

# The removed probe stopped once the agent acknowledged the version without it (its runs are
# cancelled when a schedule is applied; 2 s of slack for the clocks' resolution).
late=$(results_of "$OLD" "AND ts > (SELECT schedule_acked_at FROM parallax.agents WHERE name = 'gb1') + interval '2 seconds'")
[ "$late" = 0 ] || fail "$late results of the removed probe after its removal was acknowledged"
[ "$(sql "SELECT schedule_current FROM parallax.agent_status_view WHERE name = 'gb1'")" = t ] ||
    fail "agent_status_view: $(sql "SELECT * FROM parallax.agent_status_view")"

log "load stops; the agent drains and stops"
sql "DELETE FROM parallax.targets"
wait_until 30 "the empty schedule" 'test "$(latest_probes)" = 0'
wait_until 60 "the agent runs the empty schedule and has drained" 'current && test "$(stat_of pending)" = 0'
kill -TERM "$A"; wait "$A" || fail "agent exit status $?"
produced=$(stat_of produced); acked_n=$(stat_of acked); dropped=$(stat_of dropped); pending=$(stat_of pending)
rows=$(sql "SELECT count(*) FROM parallax.results")
log "produced=$produced acked=$acked_n dropped=$dropped pending=$pending rows=$rows"
[ "$rows" = "$acked_n" ] || fail "rows $rows != acked $acked_n"
[ "$produced" = $((acked_n + dropped + pending)) ] || fail "produced != acked + dropped + pending"
[ "$pending" = 0 ] || fail "$pending results pending at exit"
[ "$dropped" = 0 ] || fail "$dropped results dropped"
grep -h "schedule\|session\|offline\|hello" "$WORK"/coordinator-5s.log >&2 || true
# A clean stop of the coordinator (under the sanitizers this is where leaks are reported).
kill -TERM "$COORD_PID"; wait "$COORD_PID" || fail "coordinator exit status $?"
log "ok"
