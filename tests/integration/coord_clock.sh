#!/usr/bin/env bash
# coord_clock: from heartbeats that echo their exchanges, the coordinator stores an agent's
# clock offset and RTT; a clock seconds ahead is warned about once (not per heartbeat) and
# queues bins for re-merging; an agent that only sends one-way heartbeats still gets an
# offset (bounded by the delay, RTT unknown); a silent agent is marked offline after the
# session timeout.
source "$(dirname "$0")/lib.sh"
new_db
# The coordinator with a short session timeout (start_coordinator's config has none).
port=$(free_port)
COORD_EP="tcp://127.0.0.1:$port"
cat >"$WORK/coord.conf" <<CONF
listen = $COORD_EP
database = $DB
key_file = $WORK/coord.key
session_timeout_s = 5
CONF
start_bg coordinator "$COORD" -c "$WORK/coord.conf"
COORD_PID=$LAST_PID
wait_until 20 "coordinator listening" 'grep -q "connected to the database" "$WORK/coordinator.log"'
COORD_KEY=$(sql "SELECT public_key FROM parallax.coordinator")
add_agent ahead GB
add_agent oneway DE
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
wait_until 10 "allow-list reloaded" 'test "$(grep -c "allow-list loaded: 2" "$WORK/coordinator.log")" -ge 1'
client() { local who=$1; shift; "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret "$who")" "$@"; }

log "a clock 7 s ahead, heartbeats echoing their exchanges"
# For 6 s: past the 5 s damping interval after the first estimate, so the RTT is stored while
# the session lives (the session timeout is 5 s too: a pause that long would start a new one).
client ahead heartbeats 60 100 7000 >"$WORK/ahead.out"
q="SELECT clock_offset_ms FROM parallax.agents WHERE name = 'ahead'"
wait_until 10 "offset stored" 'test -n "$(sql "$q")"'
off=$(sql "$q")
[ "$off" -ge 6950 ] && [ "$off" -le 7050 ] || fail "offset $off, expected about 7000"
[ "$(sql "SELECT clock_offset_at IS NOT NULL AND online FROM parallax.agents WHERE name = 'ahead'")" = t ] \
    || fail "clock_offset_at or online not set"
# The first heartbeat gives a one-way bound (RTT unknown); the exchanges after it give the RTT,
# stored once the 5 s damping interval after the first estimate has passed.
wait_until 10 "rtt stored" 'test -n "$(sql "SELECT rtt_ms FROM parallax.agents WHERE name = '"'"'ahead'"'"'")"'
rtt=$(sql "SELECT rtt_ms FROM parallax.agents WHERE name = 'ahead'")
[ -n "$rtt" ] && awk -v r="$rtt" 'BEGIN { exit !(r >= 0 && r < 50) }' || fail "rtt '$rtt'"
[ "$(grep -c "agent ahead: clock is .* ms ahead of" "$WORK/coordinator.log")" = 1 ] \
    || fail "expected one warning, got: $(grep "agent ahead: clock" "$WORK/coordinator.log")"
grep -q "agent ahead: clock offset changed; [0-9]* bins queued to merge again" "$WORK/coordinator.log" \
    || fail "no re-merge queued for a 7 s offset"
# Sixty heartbeats in six seconds: recorded at most once a second (coord_heartbeat_abuse).
hb=$(sql "SELECT count(*) FROM parallax.heartbeats h JOIN parallax.agents a ON a.id = h.agent_id WHERE a.name = 'ahead'")
[ "$hb" -ge 1 ] && [ "$hb" -le 8 ] || fail "$hb heartbeat rows for 60 heartbeats in 6 s"

log "more heartbeats at the same offset: no new warning"
client ahead heartbeats 4 100 7000 >/dev/null
[ "$(grep -c "agent ahead: clock is .* ms ahead of" "$WORK/coordinator.log")" = 1 ] || fail "warned again for the same offset"

log "the clock corrected: stored, and said once"
client ahead heartbeats 12 50 0 >/dev/null
wait_until 10 "offset back near 0" 'test "$(sql "SELECT abs(clock_offset_ms) < 50 FROM parallax.agents WHERE name = '"'"'ahead'"'"'")" = t'
[ "$(grep -c "agent ahead: clock back within" "$WORK/coordinator.log")" = 1 ] || fail "correction not logged once"

log "an agent 3 s behind that does not echo: one-way bound"
client oneway heartbeats 3 50 -3000 noecho >/dev/null
q="SELECT clock_offset_ms FROM parallax.agents WHERE name = 'oneway'"
wait_until 10 "one-way offset stored" 'test -n "$(sql "$q")"'
off=$(sql "$q")
[ "$off" -ge -3050 ] && [ "$off" -le -2990 ] || fail "one-way offset $off, expected about -3000"
[ -z "$(sql "SELECT rtt_ms FROM parallax.agents WHERE name = 'oneway'")" ] || fail "one-way RTT should be unknown"

log "silent agents are marked offline after session_timeout_s"
wait_until 20 "both offline" 'test "$(sql "SELECT count(*) FROM parallax.agents WHERE NOT online")" = 2'
grep -q "agent ahead marked offline" "$WORK/coordinator.log" || fail "offline not logged"
log "ok"
