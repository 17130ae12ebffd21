#!/usr/bin/env bash
# coord_flood: 2,000 handshakes from random (unregistered) keys and 1,500 idle TCP connections
# that never speak, at once: a registered agent still connects and gets its schedule within
# 10 s; the refusals cost a line a minute, not a line each; and once the flood ends the
# coordinator's descriptors come back to what they were (idle connections are dropped after
# the handshake interval, refused ones at once). Shipped defaults.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
v=$(sql "SELECT max(version) FROM parallax.schedule_versions")
wait_until 10 "schedule loaded" 'grep -q "schedule version $v:" "$WORK/coordinator.log"'
hello() { timeout 15 "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" hello; }
hello >/dev/null || fail "no schedule before the flood"
fds() { find "/proc/$COORD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
wait_until 20 "the first client's connection closed" 'test "$(ss -Htn state established "( sport = :${COORD_EP##*:} )" | wc -l)" = 0'
BASE=$(fds)
log "baseline: $BASE descriptors"

log "1,500 idle TCP connections held open"
IDLE=1500
/usr/bin/python3 - "${COORD_EP##*:}" "$IDLE" "$WORK/idle.ready" <<'PY' &
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    held.append(s)
open(ready, "w").write("%d\n" % len(held))
time.sleep(40)  # bounded; the test kills it sooner
PY
IDLER=$!
PIDS+=("$IDLER")
wait_until 30 "idle connections open" 'test -s "$WORK/idle.ready"'
log "2,000 handshakes from random keys, and the registered agent meanwhile"
start_bg flood "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" handshakes 2000
FLOOD=$LAST_PID
flooding() { grep -q "refused connection from unregistered key" "$WORK/coordinator.log"; }
wait_until 10 "the flood reaching the coordinator" flooding
t0=$(date +%s%N)
out=$(hello) || fail "the registered agent got no schedule during the flood: $out"
took=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "^schedule $v 1$" <<<"$out" || fail "schedule: $out"
log "registered agent: schedule in $took ms during the flood"
[ "$took" -lt 10000 ] || fail "the registered agent took $took ms"
wait "$FLOOD" || fail "the handshake flood failed: $(cat "$WORK/flood.log")"
grep -q "^handshakes 2000 answered 0$" "$WORK/flood.log" || fail "flood: $(cat "$WORK/flood.log")"

log "refusals are logged at a bounded rate"
lines=$(grep -c "refused connection\|refused .* more connections" "$WORK/coordinator.log" || true)
log "$lines refusal lines for 2,000 refused handshakes"
[ "$lines" -le 3 ] || fail "$lines refusal lines: $(grep "refused" "$WORK/coordinator.log" | head -5)"

log "the descriptors return to the baseline"
kill "$IDLER" 2>/dev/null || true
wait "$IDLER" 2>/dev/null || true
wait_until 30 "descriptors back to $BASE" 'test "$(fds)" -le "$BASE"'
hello >/dev/null || fail "no schedule after the flood"
log "ok"
