#!/usr/bin/env bash
# agent_disable: disabling a connected agent stops its results within a second, although its
# connection stays up (ZAP only runs at the handshake); enabling it again lets them flow.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent fr1 FR
"$CTL" --db "$DB" target add self --address 127.0.0.1 --allow-internal --probe "tcp:${COORD_EP##*:}" --interval 1 >/dev/null
start_agent fr1
count() { sql "SELECT count(*) FROM parallax.results"; }
wait_until 30 "first results" 'test "$(count)" -gt 2'

"$CTL" --db "$DB" agent disable fr1 >/dev/null
t_disabled=$(sql "SELECT now()")
# The agent keeps sending: the coordinator turns its messages away, logging the first (the
# rest once a minute, counted), and the agent is left with three results unacknowledged.
wait_until 15 "a message from the disabled agent dropped" \
    'grep -q "dropped a message from disabled agent fr1" "$WORK/coordinator.log"'
pending() { sed -n 's/.*pending=\([0-9]*\).*/\1/p' "$WORK/state-fr1/stats"; }
pending0=$(pending)
wait_until 15 "three more results unacknowledged" 'test "$(pending)" -ge $((pending0 + 3))'
[ "$(grep -c "dropped a message from disabled agent fr1" "$WORK/coordinator.log")" = 1 ] ||
    fail "each dropped message was logged: the log is not limited"
n_after=$(count)
late=$(sql "SELECT count(*) FROM parallax.results WHERE received_at > '$t_disabled'::timestamptz + interval '1 second'")
[ "$late" = 0 ] || fail "$late results stored more than 1 s after disabling"
grep -q "disabled" "$WORK/coordinator.log" || fail "coordinator did not log the disabled agent"

"$CTL" --db "$DB" agent enable fr1 >/dev/null
wait_until 30 "results again after enabling" 'test "$(count)" -gt "$n_after"'
log "ok"
