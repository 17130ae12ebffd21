#!/usr/bin/env bash
# agents_e2e: the whole path. Two real agents get their schedule from a real coordinator,
# run every probe, and the results land in PostgreSQL: a row from each agent for each probe,
# with the status each target deserves, readable through parallax.result_view; a loopback
# target the operator did not allow (--allow-internal) is not probed.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
add_agent jp1 JP
CLOSED=$(free_port)
OPEN=${COORD_EP##*:}
"$CTL" --db "$DB" target add coordinator-port --address 127.0.0.1 --allow-internal --role host --probe "tcp:$OPEN" --probe icmp --interval 1 >/dev/null
"$CTL" --db "$DB" target add closed-port --address 127.0.0.1 --allow-internal --probe "tcp:$CLOSED" --interval 1 >/dev/null
"$CTL" --db "$DB" target add later --address ::1 --allow-internal --control --probe http:http://localhost/ --interval 1 >/dev/null
# Loopback without the operator's leave: on the agents' deny-list, never probed.
"$CTL" --db "$DB" target add denied --address 127.0.0.2 --probe "tcp:$OPEN" --interval 1 >/dev/null
start_agent gb1
start_agent jp1

# Every (agent, probe) pair has at least two rows: the path works, and keeps working.
pairs="SELECT count(*) FROM (SELECT agent, spec FROM parallax.result_view GROUP BY 1, 2 HAVING count(*) >= 2) s"
wait_until 60 "two rows for each of 2 agents x 4 probes" 'test "$(sql "$pairs")" = 8'

status_of() { sql "SELECT string_agg(DISTINCT status::text, ',') FROM parallax.result_view WHERE spec = '$1'"; }
[ "$(status_of "tcp:$OPEN")" = ok ] || fail "open port: $(status_of "tcp:$OPEN")"
[ "$(status_of icmp)" = ok ] || fail "icmp to loopback: $(status_of icmp)"
[ "$(status_of "tcp:$CLOSED")" = refused ] || fail "closed port: $(status_of "tcp:$CLOSED")"
# Nothing serves HTTP on [::1]:80: the host answers with a reset, so it is alive.
[ "$(status_of http:http://localhost:80/)" = refused ] || fail "http to a closed port: $(status_of http:http://localhost:80/)"
[ "$(sql "SELECT count(*) FROM parallax.result_view WHERE kind = 'http' AND detail ? 'http'")" -gt 0 ] \
    || fail "http results without their phases in detail"
[ "$(sql "SELECT bool_and(control) FROM parallax.result_view WHERE target = 'later'")" = t ] \
    || fail "control flag not carried"
[ "$(sql "SELECT count(*) FROM parallax.result_view WHERE status = 'ok' AND (rtt_ms IS NULL OR rtt_ms <= 0)")" = 0 ] \
    || fail "ok results without a round-trip time"
# Runs are aligned to the round: every agent stamps a 1 s probe on whole seconds plus the
# target's phase, so both agents' timestamps for one probe coincide.
[ "$(sql "SELECT count(*) FROM (SELECT ts FROM parallax.results GROUP BY probe_id, ts HAVING count(*) = 2) s")" -gt 0 ] \
    || fail "no run shared by both agents: schedules are not aligned"
[ "$(sql "SELECT count(*) FROM parallax.agents WHERE last_seen IS NOT NULL")" = 2 ] || fail "last_seen not set"
[ "$(sql "SELECT count(*) FROM parallax.results r JOIN parallax.probes p ON p.id = r.probe_id
           JOIN parallax.targets t ON t.id = p.target_id WHERE t.name = 'denied'")" = 0 ] \
    || fail "a loopback target without --allow-internal was probed"
grep -q "aims at 127.0.0.2, loopback: not run" "$WORK/agent-gb1.log" \
    || fail "the denied probe is not in the agent's log"

log "SIGTERM stops an agent cleanly"
kill -TERM "${PIDS[1]}"
wait_until 10 "gb1 exits" '! kill -0 ${PIDS[1]}'
wait "${PIDS[1]}" || fail "agent exited with status $?"
log "ok"
