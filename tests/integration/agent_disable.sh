#!/usr/bin/env bash
# agent_disable: disabling a connected agent stops its results within a second, although its
# connection stays up (ZAP only runs at the handshake); enabling it again lets them flow.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent fr1 FR
"$CTL" --db "$DB" target add self --address 127.0.0.1 --probe "tcp:${COORD_EP##*:}" --interval 1 >/dev/null
start_agent fr1
count() { sql "SELECT count(*) FROM parallax.results"; }
wait_until 30 "first results" 'test "$(count)" -gt 2'

"$CTL" --db "$DB" agent disable fr1 >/dev/null
t_disabled=$(sql "SELECT now()")
# The agent keeps sending: wait until the coordinator has turned away three of its messages.
dropped() { grep -c "dropped a message from disabled agent fr1" "$WORK/coordinator.log" || true; }
wait_until 15 "three messages from the disabled agent dropped" 'test "$(dropped)" -ge 3'
n_after=$(count)
late=$(sql "SELECT count(*) FROM parallax.results WHERE received_at > '$t_disabled'::timestamptz + interval '1 second'")
[ "$late" = 0 ] || fail "$late results stored more than 1 s after disabling"
grep -q "disabled" "$WORK/coordinator.log" || fail "coordinator did not log the disabled agent"

"$CTL" --db "$DB" agent enable fr1 >/dev/null
wait_until 30 "results again after enabling" 'test "$(count)" -gt "$n_after"'
log "ok"
