#!/usr/bin/env bash
# agent_wrong_key: an agent given the wrong coordinator key says so clearly, keeps retrying
# without crashing, and nothing is stored; fixed and restarted, it delivers.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent br1 BR
"$CTL" --db "$DB" target add self --address 127.0.0.1 --allow-internal --probe icmp --interval 1 >/dev/null
cp "$WORK/br1.conf" "$WORK/br1.good"
# Another valid key: the agent's own public key is certainly not the coordinator's.
wrong=$(sql "SELECT public_key FROM parallax.agents WHERE name = 'br1'")
# awk, not sed: Z85 keys may contain '&', which sed would read as "the matched text".
awk -v k="$wrong" '/^coordinator_key/ { print "coordinator_key = " k; next } { print }' \
    "$WORK/br1.good" >"$WORK/br1.conf"
start_agent br1
pid=$LAST_PID
stat_of() { sed -n "s/^$2=//p" "$WORK/state-br1/stats" 2>/dev/null; }
wait_until 30 "a clear handshake error" 'grep -qi "coordinator_key" "$WORK/agent-br1.log"'
# It keeps trying (libzmq reconnects, 100 ms doubling to 5 s): three failed handshakes. The
# error is logged once per 30 s; the stats file counts every attempt.
wait_until 30 "three failed handshakes" 'test "$(stat_of br1 handshake_failures)" -ge 3'
kill -0 "$pid" || fail "agent died with a wrong key"
[ "$(stat_of br1 link_up)" = 0 ] && [ "$(stat_of br1 link_ups)" = 0 ] ||
    fail "stats say the link came up with a wrong key: $(grep link "$WORK/state-br1/stats" | tr '\n' ' ')"
[ "$(grep -ci "coordinator_key" "$WORK/agent-br1.log")" = 1 ] || fail "the handshake error was logged more than once in 30 s"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 0 ] || fail "results stored through a wrong key"
kill -TERM "$pid"; wait "$pid" || fail "agent did not exit cleanly after a wrong key"

cp "$WORK/br1.good" "$WORK/br1.conf"
start_agent br1
wait_until 30 "results with the right key" 'test "$(sql "SELECT count(*) FROM parallax.results")" -gt 0'
wait_until 10 "stats say the link is up" 'test "$(stat_of br1 link_up)" = 1 -a "$(stat_of br1 handshake_failures)" = 0'
log "ok"
