#!/usr/bin/env bash
# agent_wrong_key: an agent given the wrong coordinator key says so clearly, keeps retrying
# without crashing, and nothing is stored; fixed and restarted, it delivers.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent br1 BR
"$CTL" --db "$DB" target add self --address 127.0.0.1 --probe icmp --interval 1 >/dev/null
cp "$WORK/br1.conf" "$WORK/br1.good"
# Another valid key: the agent's own public key is certainly not the coordinator's.
wrong=$(sql "SELECT public_key FROM parallax.agents WHERE name = 'br1'")
# awk, not sed: Z85 keys may contain '&', which sed would read as "the matched text".
awk -v k="$wrong" '/^coordinator_key/ { print "coordinator_key = " k; next } { print }' \
    "$WORK/br1.good" >"$WORK/br1.conf"
start_agent br1
pid=$LAST_PID
wait_until 30 "a clear handshake error" 'grep -qi "coordinator_key" "$WORK/agent-br1.log"'
sleep 3
kill -0 "$pid" || fail "agent died with a wrong key"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 0 ] || fail "results stored through a wrong key"
kill -TERM "$pid"; wait "$pid" || fail "agent did not exit cleanly after a wrong key"

cp "$WORK/br1.good" "$WORK/br1.conf"
start_agent br1
wait_until 30 "results with the right key" 'test "$(sql "SELECT count(*) FROM parallax.results")" -gt 0'
log "ok"
